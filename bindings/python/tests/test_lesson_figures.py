"""examples/python/lesson_figures.py: its grid helpers, and one short run
that must write the six figures."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys
from statistics import NormalDist
from types import ModuleType

import numpy as np
import pytest

from conftest import ROOT

SCRIPT = ROOT / "examples" / "python" / "lesson_figures.py"
FIGURES = ["curves.png", "reconstructions.png", "latent.png", "samples.png", "manifold.png",
           "interpolation.png"]

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def script() -> ModuleType:
    if not SCRIPT.is_file():
        pytest.skip(f"no {SCRIPT}")
    spec = importlib.util.spec_from_file_location("lesson_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_manifold_grid_has_equal_prior_mass_per_cell(script: ModuleType) -> None:
    z, q = script.manifold_grid(4)
    assert z.shape == (16, 2)
    cdf = [NormalDist().cdf(v) for v in q]
    np.testing.assert_allclose(cdf, [0.125, 0.375, 0.625, 0.875], atol=1e-6)
    grid = z.reshape(4, 4, 2)
    assert np.all(np.diff(grid[:, :, 0], axis=1) > 0), "z1 grows rightwards"
    assert np.all(np.diff(grid[:, :, 1], axis=0) < 0), "z2 grows upwards"


def test_tile_places_images_row_by_row(script: ModuleType) -> None:
    images = np.zeros((3, 784), np.float32)
    images[2] = 1.0
    canvas = script.tile(images, 2, pad=2)
    assert canvas.shape == (58, 58)
    assert np.all(canvas[30:, :28] == 1.0) and np.all(canvas[:28, :28] == 0.0)


def test_one_epoch_writes_the_six_figures(tmp_path: pathlib.Path,
                                          data_dir: pathlib.Path) -> None:
    r = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data_dir), "--epochs", "1",
                        "--out", str(tmp_path), "--dpi", "40"],
                       capture_output=True, text=True, timeout=300, env=os.environ)
    assert r.returncode == 0, r.stderr
    for name in FIGURES:
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, name
    rows = (tmp_path / "losses.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and len(rows) == 2
