"""The same seed gives the same run through Python as through the C example:
vae-train --epochs 1 against the bindings, loss for loss (to the precision
losses.csv prints) and parameter for parameter (bit for bit)."""

from __future__ import annotations

import csv
import os
import pathlib
import subprocess
from typing import Iterator, Optional

import numpy as np
import pytest

import libvae


def vae_train() -> Optional[pathlib.Path]:
    """VAE_TRAIN, else build/examples/vae-train beside LIBVAE_LIBRARY's build/lib."""
    explicit = os.environ.get("VAE_TRAIN")
    if explicit:
        return pathlib.Path(explicit)
    lib = os.environ.get("LIBVAE_LIBRARY")
    if lib:
        guess = pathlib.Path(lib).resolve().parent.parent / "examples" / "vae-train"
        if guess.is_file():
            return guess
    return None


@pytest.fixture
def one_thread() -> Iterator[None]:
    # Same thread count on both sides: the sums of a GEMM may be split by thread.
    before = libvae.get_threads()
    libvae.set_threads(1)
    yield
    libvae.set_threads(before)


def test_python_matches_vae_train(data_dir: pathlib.Path, tmp_path: pathlib.Path,
                                  one_thread: None) -> None:
    exe = vae_train()
    if exe is None or not exe.is_file():
        pytest.skip("vae-train not found (set VAE_TRAIN)")
    out = tmp_path / "c"
    # Both processes on one level: "auto" measures in each, and on a busy
    # machine two measurements may pick different levels, which round
    # differently.
    libvae.set_sgemm(None)
    level = libvae.active_backend()
    subprocess.run([str(exe), "--data", str(data_dir), "--epochs", "1", "--seed", "1",
                    "--threads", "1", "--backend", level, "--quiet", "--out", str(out)],
                   check=True, capture_output=True, timeout=300)
    rows = {r["split"]: r for r in csv.DictReader(open(out / "losses.csv"))}

    train = libvae.Dataset.from_idx(data_dir / "train-images-idx3-ubyte.gz",
                                    data_dir / "train-labels-idx1-ubyte.gz")
    test = libvae.Dataset.from_idx(data_dir / "t10k-images-idx3-ubyte.gz",
                                   data_dir / "t10k-labels-idx1-ubyte.gz")
    with train, test, libvae.Model(input_dim=train.dim, latent_dim=2, hidden=[400],
                                   seed=1) as model:
        adam = libvae.Adam(model, lr=1e-3)
        losses = {"train": model.train_epoch(adam, train, batch_size=128),
                  "test": model.evaluate(test)}
        for split, loss in losses.items():
            for part in ("total", "recon", "kl"):
                assert f"{getattr(loss, part):.4f}" == rows[split][part], (split, part)

        c_model, c_adam = libvae.load(out / "model.vae")
        with c_model:
            np.testing.assert_array_equal(c_model.params, model.params)
            assert c_model.steps == model.steps and c_model.epochs == model.epochs == 1
