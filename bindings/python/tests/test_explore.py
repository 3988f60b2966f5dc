"""Evaluating and exploring a trained model: the IWAE bound, active units,
interpolation and traversal, each against its defining property or an
independent numpy computation."""

from __future__ import annotations

import pathlib
from typing import Iterator, Tuple

import numpy as np
import pytest

import libvae
from libvae import Interpolation, Status, VaeError


@pytest.fixture(scope="module")
def trained(data_dir: pathlib.Path) -> Iterator[Tuple[libvae.Model, libvae.Dataset]]:
    """A 784-100-2 model after 3 epochs on the 2,000 test images (1 s)."""
    with libvae.Dataset.from_idx(data_dir / "t10k-images-idx3-ubyte.gz",
                                 data_dir / "t10k-labels-idx1-ubyte.gz") as ds, \
            libvae.Model(latent_dim=2, hidden=100, seed=1) as m, libvae.Adam(m) as adam:
        for _ in range(3):
            m.train_epoch(adam, ds)
        yield m, ds


def head(ds: libvae.Dataset, n: int) -> libvae.Dataset:
    x, labels = ds.get(0, n)
    return libvae.Dataset.from_array(x, labels)


# ---- IWAE ---------------------------------------------------------------------


def test_iwae_is_above_the_elbo_image_by_image(trained: Tuple[libvae.Model, libvae.Dataset]
                                               ) -> None:
    m, ds = trained
    with head(ds, 200) as few:
        mean, bound, elbo = m.iwae(few, 20, seed=3, per_image=True)
        assert bound.dtype == elbo.dtype == np.float64 and bound.shape == elbo.shape == (200,)
        assert np.all(bound >= elbo)  # Jensen, from the same draws
        assert np.all(bound - elbo > 0.01)  # and strictly, with 20 draws of a 2-D posterior
        assert mean == pytest.approx(bound.mean(), rel=1e-12)
        assert m.iwae(few, 20, seed=3) == mean  # the same draws again
        assert m.iwae(few, 20, seed=4) != mean
        # More samples, a tighter bound: over 200 images far beyond the noise.
        assert m.iwae(few, 200, seed=3) > m.iwae(few, 1, seed=3) + 1.0


def test_iwae_with_one_sample_is_the_elbo(trained: Tuple[libvae.Model, libvae.Dataset]) -> None:
    m, ds = trained
    mean, bound, elbo = m.iwae(ds, 1, seed=5, per_image=True)
    np.testing.assert_array_equal(bound, elbo)
    # A one-sample ELBO estimate over 2,000 images, as evaluate() makes with
    # other noise: they agree within a few nats.
    assert -mean == pytest.approx(m.evaluate(ds).total, abs=3.0)


def test_iwae_of_an_image_depends_on_the_seed_and_its_index_alone(
        trained: Tuple[libvae.Model, libvae.Dataset]) -> None:
    m, ds = trained
    _, whole, _ = m.iwae(ds, 3, seed=9, per_image=True)
    with head(ds, 10) as few:
        _, first, _ = m.iwae(few, 3, seed=9, per_image=True)
    # The same draws; the GEMMs may block 10 rows otherwise than 512 and
    # round differently.
    np.testing.assert_allclose(first, whole[:10], rtol=1e-6)


def test_iwae_elbo_matches_a_numpy_estimate(trained: Tuple[libvae.Model, libvae.Dataset]
                                            ) -> None:
    """The mean log weight of k draws, per image, against numpy's own k draws
    of log p(x|z) + log p(z) - log q(z|x): two Monte Carlo estimates of one
    ELBO, within 5 standard errors."""
    m, ds = trained
    k, n = 500, 6
    x, _ = ds.get(0, n)
    with libvae.Dataset.from_array(x) as few:
        _, _, elbo = m.iwae(few, k, seed=1, per_image=True)
    rng = np.random.default_rng(0)
    mu, logvar = (a.astype(np.float64) for a in m.encode(x))
    L = mu.shape[1]
    for i in range(n):
        eps = rng.standard_normal((k, L))
        z = mu[i] + np.exp(0.5 * logvar[i]) * eps
        p = m.decode(z.astype(np.float32)).astype(np.float64)
        p = np.clip(p, 2.0 ** -126, 1 - 2.0 ** -24)  # float32 sigmoids at the ends
        xi = x[i].astype(np.float64)
        log_px = (xi * np.log(p) + (1 - xi) * np.log1p(-p)).sum(axis=1)
        log_pz = -0.5 * (z ** 2).sum(axis=1)
        log_q = -0.5 * (eps ** 2).sum(axis=1) - 0.5 * logvar[i].sum()  # 2 pi cancels
        w = log_px + log_pz - log_q
        se = w.std() / np.sqrt(k)
        assert abs(elbo[i] - w.mean()) < 5 * np.sqrt(2) * se, (i, elbo[i], w.mean(), se)


def test_iwae_refuses_bad_arguments(trained: Tuple[libvae.Model, libvae.Dataset]) -> None:
    m, ds = trained
    for k in (0, -1):
        with pytest.raises(VaeError) as e:
            m.iwae(ds, k)
        assert e.value.status == Status.INVALID_ARGUMENT
    with libvae.Dataset.from_array(np.zeros((3, 16), np.float32)) as other:
        with pytest.raises(VaeError) as e:
            m.iwae(other, 2)
        assert e.value.status == Status.MISMATCH


# ---- active units ---------------------------------------------------------------


def test_active_units_are_the_variances_of_the_posterior_means(
        trained: Tuple[libvae.Model, libvae.Dataset]) -> None:
    m, ds = trained
    count, variances = m.active_units(ds)
    assert variances.dtype == np.float64 and variances.shape == (2,)
    mu, _ = m.encode(ds.get()[0])
    np.testing.assert_allclose(variances, np.var(mu.astype(np.float64), axis=0), rtol=1e-5)
    assert count == int(np.sum(variances > 0.01)) == 2
    for threshold in (0.0, float(variances.min()), float(variances.max()), 1e9):
        c, v = m.active_units(ds, threshold)
        assert c == int(np.sum(v > threshold))
    assert m.active_units(ds, 1e9)[0] == 0
    with pytest.raises(VaeError) as e:
        m.active_units(ds, -1.0)
    assert e.value.status == Status.INVALID_ARGUMENT


def test_a_dimension_that_ignores_x_is_inactive(data_dir: pathlib.Path) -> None:
    """Zero the encoder's weights into the mean of the most active dimension:
    its posterior mean is then its bias whatever x is (posterior collapse,
    made by hand)."""
    with libvae.Dataset.from_idx(data_dir / "t10k-images-idx3-ubyte.gz") as ds, \
            libvae.Model(latent_dim=3, hidden=64, seed=2) as m, libvae.Adam(m) as adam:
        m.train_epoch(adam, ds)
        before, v0 = m.active_units(ds)
        j = int(np.argmax(v0))
        assert v0[j] > 0.01
        m.tensor("encoder.head.weight")[:, j] = 0.0  # columns: mu_0..2, then logvar_0..2
        count, variances = m.active_units(ds)
        assert count == before - 1 and variances[j] == 0.0
        others = [i for i in range(3) if i != j]
        np.testing.assert_allclose(variances[others], v0[others], rtol=1e-5)


# ---- interpolation and traversal ---------------------------------------------------


def two_codes(m: libvae.Model, ds: libvae.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    mu, _ = m.encode(ds.get(0, 2)[0])
    return mu[0], mu[1]


@pytest.mark.parametrize("kind", ["linear", "slerp"])
def test_interpolation_ends_at_the_two_codes(trained: Tuple[libvae.Model, libvae.Dataset],
                                             kind: str) -> None:
    m, ds = trained
    z0, z1 = two_codes(m, ds)
    images, zs = m.interpolate(z0, z1, 7, kind)
    assert images.shape == (7, 784) and zs.shape == (7, 2)
    assert images.dtype == zs.dtype == np.float32
    np.testing.assert_array_equal(zs[0], z0)
    np.testing.assert_array_equal(zs[-1], z1)
    np.testing.assert_allclose(images[0], m.decode(z0), atol=1e-6)
    np.testing.assert_allclose(images[-1], m.decode(z1), atol=1e-6)
    np.testing.assert_allclose(images, m.decode(zs), atol=1e-6)


def test_linear_and_slerp_paths(trained: Tuple[libvae.Model, libvae.Dataset]) -> None:
    m, _ = trained
    z0, z1 = np.array([1.5, 0.5]), np.array([-0.4, 2.0])
    t = np.linspace(0.0, 1.0, 9)[:, None]
    _, line = m.interpolate(z0, z1, 9, Interpolation.LINEAR)
    np.testing.assert_allclose(line, (1 - t) * z0 + t * z1, rtol=1e-6, atol=1e-6)
    # Slerp between two points of the same norm keeps the norm (Shoemake 1985).
    z1 = z1 * np.linalg.norm(z0) / np.linalg.norm(z1)
    theta = np.arccos(z0 @ z1 / (np.linalg.norm(z0) * np.linalg.norm(z1)))
    want = (np.sin((1 - t) * theta) * z0 + np.sin(t * theta) * z1) / np.sin(theta)
    _, arc = m.interpolate(z0, z1, 9, "SLERP")
    np.testing.assert_allclose(arc, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(arc, axis=1), np.linalg.norm(z0), rtol=1e-5)
    # The straight line cuts inside: its midpoint has norm |z0| cos(theta / 2).
    _, chord = m.interpolate(z0, z1, 9, Interpolation.LINEAR)
    assert np.linalg.norm(chord[4]) == pytest.approx(np.linalg.norm(z0) * np.cos(theta / 2),
                                                     rel=1e-5)
    assert theta > 1.0  # far apart: the two paths differ


def test_conditional_paths_share_the_condition() -> None:
    with libvae.Model(input_dim=16, latent_dim=3, hidden=8, cond_dim=4, seed=2) as m:
        cond = np.eye(4, dtype=np.float32)[2]
        z0, z1 = np.zeros(3, np.float32), np.ones(3, np.float32)
        images, zs = m.interpolate(z0, z1, 4, cond=cond)
        np.testing.assert_allclose(images, m.decode(zs, cond=np.tile(cond, (4, 1))), atol=1e-6)
        images, zs = m.traverse(z0, 1, -1.0, 1.0, 3, cond=cond)
        np.testing.assert_allclose(images, m.decode(zs, cond=np.tile(cond, (3, 1))), atol=1e-6)
        with pytest.raises(VaeError) as e:
            m.interpolate(z0, z1, 4)  # the model needs its condition
        assert e.value.status == Status.INVALID_ARGUMENT


def test_traversal_sweeps_one_dimension(trained: Tuple[libvae.Model, libvae.Dataset]) -> None:
    m, ds = trained
    z, _ = two_codes(m, ds)
    for dim, lo, hi in ((0, -3.0, 3.0), (1, 2.5, -0.5)):
        images, zs = m.traverse(z, dim, lo, hi, 11)
        assert images.shape == (11, 784) and zs.shape == (11, 2)
        np.testing.assert_allclose(zs[:, dim], np.linspace(lo, hi, 11), rtol=1e-6, atol=1e-6)
        assert zs[0, dim] == np.float32(lo) and zs[-1, dim] == np.float32(hi)
        other = 1 - dim
        np.testing.assert_array_equal(zs[:, other], np.full(11, z[other]))  # held fixed
        np.testing.assert_allclose(images, m.decode(zs), atol=1e-6)


def test_paths_refuse_bad_arguments(trained: Tuple[libvae.Model, libvae.Dataset]) -> None:
    m, ds = trained
    z0, z1 = two_codes(m, ds)
    cases = [
        (lambda: m.interpolate(z0, z1, 1), Status.INVALID_ARGUMENT),
        (lambda: m.interpolate(z0, z1, -3), Status.INVALID_ARGUMENT),
        (lambda: m.interpolate(z0, z1, 5, "cubic"), Status.INVALID_ARGUMENT),
        (lambda: m.interpolate(z0, np.zeros(3), 5), Status.MISMATCH),
        (lambda: m.interpolate(np.stack([z0, z1]), z1, 5), Status.MISMATCH),
        (lambda: m.interpolate(z0, np.array([np.nan, 0.0]), 5), Status.INVALID_ARGUMENT),
        (lambda: m.traverse(z0, 2, -1, 1, 5), Status.INVALID_ARGUMENT),
        (lambda: m.traverse(z0, -1, -1, 1, 5), Status.INVALID_ARGUMENT),
        (lambda: m.traverse(z0, 0, -np.inf, 1, 5), Status.INVALID_ARGUMENT),
        (lambda: m.traverse(z0, 0, -1, 1, 1), Status.INVALID_ARGUMENT),
        (lambda: m.traverse(z0, 0, -1, 1, 5, cond=np.ones(1)), Status.MISMATCH),
    ]
    for call, status in cases:
        with pytest.raises(VaeError) as e:
            call()
        assert e.value.status == status, e.value
