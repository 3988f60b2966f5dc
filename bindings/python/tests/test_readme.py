"""The Python example of README.md runs as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


def test_readme_python_example() -> None:
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip(f"no {readme}")
    section = readme.read_text().split("## Using libvae from Python", 1)
    assert len(section) == 2, 'README.md: no section "Using libvae from Python"'
    block = re.search(r"```python\n(.*?)```", section[1], re.S)
    assert block, 'README.md: no ```python block in "Using libvae from Python"'
    r = subprocess.run([sys.executable, "-c", block.group(1)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, env=os.environ)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"\d+\.\d = recon \d+\.\d \+ KL \d+\.\d\n", r.stdout), r.stdout
