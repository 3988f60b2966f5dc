#!/usr/bin/env python3
"""Run the Python example of README.md (the ```python block under "Using
libvae from Python") as a user of an installed libvae would, and say which
package and which shared library it used (tools/ci/check-packages.sh).

    readme_python.py README.md PACKAGE_DIR LIBRARY

PACKAGE_DIR is where the imported package libvae must be, LIBRARY the
libvae.so.1 that must be mapped into the process. Run it with the data
directory's parent (the source tree) as the working directory, since the
README's paths are relative.
"""
import contextlib
import io
import os
import re
import sys

readme, want_package, want_library = sys.argv[1:4]
section = open(readme, encoding="utf-8").read().split("## Using libvae from Python", 1)
if len(section) != 2:
    sys.exit('README.md: no section "Using libvae from Python"')
block = re.search(r"```python\n(.*?)```", section[1], re.S)
if not block:
    sys.exit('README.md: no ```python block in "Using libvae from Python"')

printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    exec(compile(block.group(1), "README.md (Using libvae from Python)", "exec"),
         {"__name__": "__main__"})
if not re.fullmatch(r"\d+\.\d = recon \d+\.\d \+ KL \d+\.\d\n", printed.getvalue()):
    sys.exit(f"the README block printed {printed.getvalue()!r}")

import libvae  # noqa: E402  (imported by the block already)

package = os.path.dirname(os.path.abspath(libvae.__file__))
with open("/proc/self/maps") as f:
    mapped = sorted({line.split()[-1] for line in f if "libvae.so" in line})
print(f"README block: {printed.getvalue().strip()}")
print(f"  package {package}, library {' '.join(mapped)}, backend {libvae.active_backend()}"
      f" of {', '.join(libvae.backends())}")
if package != os.path.abspath(want_package):
    sys.exit(f"imported libvae from {package}, not {want_package}")
if mapped != [os.path.realpath(want_library)]:
    sys.exit(f"loaded {mapped}, not {os.path.realpath(want_library)}")
