"""Shared fixtures. Run from the source tree:

    LIBVAE_LIBRARY=build/lib/libvae.so.1 PYTHONPATH=bindings/python \\
        /usr/bin/python3 -m pytest bindings/python

VAE_SOURCE_ROOT (default: three levels above this file) locates the header
and the bundled data; VAE_TRAIN the vae-train program for the parity test
(default: build/examples/vae-train beside LIBVAE_LIBRARY's build/lib).
"""

from __future__ import annotations

import os
import pathlib
from typing import Iterator

import numpy as np
import pytest

import libvae

ROOT = pathlib.Path(os.environ.get("VAE_SOURCE_ROOT",
                                   pathlib.Path(__file__).resolve().parents[3]))
DATA = ROOT / "examples" / "data" / "mnist-subset"
HEADER = ROOT / "include" / "vae" / "vae.h"


def data_file(name: str) -> str:
    return str(DATA / name)


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    if not DATA.is_dir():
        pytest.skip(f"no bundled data at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def header() -> pathlib.Path:
    if not HEADER.is_file():
        pytest.skip(f"no header at {HEADER} (set VAE_SOURCE_ROOT)")
    return HEADER


@pytest.fixture
def test_set(data_dir: pathlib.Path) -> Iterator[libvae.Dataset]:
    with libvae.Dataset.from_idx(data_dir / "t10k-images-idx3-ubyte.gz",
                                 data_dir / "t10k-labels-idx1-ubyte.gz") as ds:
        yield ds


@pytest.fixture
def small_model() -> Iterator[libvae.Model]:
    """A quick model on 16-pixel images."""
    with libvae.Model(input_dim=16, latent_dim=2, hidden=8, seed=3) as m:
        yield m


@pytest.fixture
def small_data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((40, 16), dtype=np.float32)
