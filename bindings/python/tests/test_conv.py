"""Convolutional layers through the bindings (libvae 1.1): layer specs,
training, the explorations and a checkpoint round trip."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import libvae
from libvae import Side, Status, VaeError

ENC = "conv:4:3:2:1,relu,conv:8:3:2:1,relu"
DEC = "dense:72,relu,reshape:8:3:3,deconv:4:4:2:1,relu,deconv:1:4:2:2"


def images(n: int = 64) -> np.ndarray:
    rng = np.random.default_rng(3)
    x = np.zeros((n, 10, 10), np.float32)
    for i in range(n):
        r, c = rng.integers(0, 6, size=2)
        x[i, r:r + 4, c:c + 4] = 1.0
    return x.reshape(n, 100)


def test_conv_model_trains_and_round_trips(tmp_path: pathlib.Path) -> None:
    x = images()
    with libvae.Model(input_shape=(1, 10, 10), latent_dim=2, encoder_layers=ENC,
                      decoder_layers=DEC, seed=2) as m, \
            libvae.Optimizer(m) as opt:
        assert m.layers(Side.ENCODER) == ENC
        assert m.layers("decoder") == DEC
        assert m.input_dim == 100
        first = m.train_step(opt, x).total
        for _ in range(60):
            last = m.train_step(opt, x).total
        assert last < first
        z = m.encode(x[:5])[0]
        assert np.asarray(z).shape == (5, 2)
        assert m.reconstruct(x[:5]).shape == (5, 100)
        m.save(tmp_path / "conv.vae")
        back, _ = libvae.load(tmp_path / "conv.vae", optimizer=False)
        with back:
            assert back.layers(Side.DECODER) == DEC
            np.testing.assert_array_equal(back.params, m.params)


def test_bad_spec_is_refused() -> None:
    with pytest.raises(VaeError) as e:
        libvae.Model(encoder_layers="conv:4:3")
    assert e.value.status == Status.INVALID_ARGUMENT


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian_learned"])
def test_conditional_conv_model_explores(likelihood: str) -> None:
    """Every likelihood, a conditional model, IWAE, active units,
    interpolation and traversal on a convolutional model."""
    x = images(40)
    labels = np.arange(40, dtype=np.int32) % 4
    onehot = np.eye(4, dtype=np.float32)[labels]
    with libvae.Model(input_shape=(1, 10, 10), latent_dim=3, cond_dim=4, encoder_layers=ENC,
                      decoder_layers=DEC, likelihood=likelihood, seed=3) as m, \
            libvae.Optimizer(m) as opt, libvae.Dataset.from_array(x, labels=labels) as ds:
        for _ in range(5):
            m.train_step(opt, x, onehot)
        assert np.isfinite(m.evaluate(ds).total)
        assert np.isfinite(m.iwae(ds, 8, 1))
        count, variances = m.active_units(ds)
        assert 0 <= count <= 3 and len(variances) == 3
        out, _ = m.interpolate(np.zeros(3), np.ones(3), 5, cond=onehot[0])
        assert out.shape == (5, 100) and np.isfinite(out).all()
        out, _ = m.traverse(np.zeros(3), 1, -2.0, 2.0, 4, cond=onehot[1])
        assert out.shape == (4, 100) and np.isfinite(out).all()
