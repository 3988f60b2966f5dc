"""Datasets from IDX files and from numpy arrays, copied or borrowed."""

from __future__ import annotations

import gc
import gzip
import pathlib
import weakref

import numpy as np
import pytest

import libvae
from libvae import Status, VaeError


def read_idx(path: pathlib.Path) -> np.ndarray:
    """An independent IDX reader (numpy only) to check the library's against."""
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", ndim, 4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def test_idx_matches_an_independent_reader(data_dir: pathlib.Path,
                                           test_set: libvae.Dataset) -> None:
    images = read_idx(data_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(data_dir / "t10k-labels-idx1-ubyte.gz")
    assert len(test_set) == images.shape[0] == 2000 and test_set.dim == 784
    assert test_set.num_classes == 10
    np.testing.assert_array_equal(test_set.labels, labels)
    x, y = test_set.get(10, 5)
    np.testing.assert_allclose(x, images[10:15].reshape(5, -1) / np.float32(255), rtol=1e-6)
    np.testing.assert_array_equal(y, labels[10:15])


def test_labels_view_is_read_only_and_keeps_the_data(test_set: libvae.Dataset) -> None:
    lab = test_set.labels
    assert lab.dtype == np.int32 and not lab.flags.writeable
    expected = lab.copy()
    test_set.close()
    gc.collect()
    np.testing.assert_array_equal(lab, expected)


@pytest.mark.parametrize("borrow", [False, True])
def test_from_u8_equals_from_idx(data_dir: pathlib.Path, test_set: libvae.Dataset,
                                 borrow: bool) -> None:
    images = read_idx(data_dir / "t10k-images-idx3-ubyte.gz").copy()   # [n x 28 x 28]
    labels = read_idx(data_dir / "t10k-labels-idx1-ubyte.gz")
    with libvae.Dataset.from_array(images, labels, borrow=borrow) as ds, \
            libvae.Model(seed=4) as m:
        assert (len(ds), ds.dim, ds.num_classes) == (2000, 784, 10)
        assert m.evaluate(ds) == m.evaluate(test_set)


def test_from_f32_and_conversions() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((30, 12), dtype=np.float32)
    with libvae.Dataset.from_array(x) as ds:
        assert ds.labels is None and ds.num_classes == 0
        got, lab = ds.get()
        np.testing.assert_array_equal(got, x)
        assert lab is None
    with libvae.Dataset.from_array(x.astype(np.float64), labels=[3] * 30) as ds:
        np.testing.assert_array_equal(ds.get()[0], x)
        assert ds.num_classes == 4


def test_copy_is_independent_and_borrow_is_not() -> None:
    x = np.full((4, 3), 0.25, np.float32)
    copied = libvae.Dataset.from_array(x)
    borrowed = libvae.Dataset.from_array(x, borrow=True)
    x[0, 0] = 0.75
    assert copied.get(0, 1)[0][0, 0] == 0.25
    assert borrowed.get(0, 1)[0][0, 0] == 0.75
    copied.close()
    borrowed.close()


def test_borrow_keeps_the_array_alive() -> None:
    x = np.full((50, 7), 0.5, np.float32)
    alive = weakref.ref(x)  # the array that owns the memory
    ds = libvae.Dataset.from_array(x, borrow=True)
    del x
    gc.collect()
    assert alive() is not None, "the dataset holds the borrowed array"
    np.testing.assert_array_equal(ds.get()[0], np.full((50, 7), 0.5, np.float32))
    ds.close()
    gc.collect()
    assert alive() is None, "closing the dataset releases it"


def test_borrow_refuses_what_needs_a_copy() -> None:
    with pytest.raises(VaeError):
        libvae.Dataset.from_array(np.zeros((3, 4), np.float64), borrow=True)
    with pytest.raises(VaeError):
        libvae.Dataset.from_array(np.zeros((4, 3), np.float32).T, borrow=True)


def test_bad_arrays() -> None:
    with pytest.raises(VaeError) as info:
        libvae.Dataset.from_array(np.zeros(5, np.float32))
    assert info.value.status is Status.INVALID_ARGUMENT
    with pytest.raises(VaeError) as info:
        libvae.Dataset.from_array(np.zeros((3, 2), np.float32), labels=[1, 2])
    assert info.value.status is Status.MISMATCH
    with pytest.raises(VaeError) as info:
        libvae.Dataset.from_array(np.zeros((2, 2), np.float32), labels=[1, 70000])
    assert info.value.status is Status.INVALID_ARGUMENT  # the library's range check
    with pytest.raises(VaeError) as info:
        libvae.Dataset.from_array(np.full((2, 2), np.inf, np.float32))
    assert info.value.status is Status.INVALID_ARGUMENT
    with pytest.raises(TypeError):
        libvae.Dataset()


def test_shuffle_and_batches() -> None:
    x = np.arange(20, dtype=np.float32).reshape(10, 2) / 20
    labels = np.arange(10)
    with libvae.Dataset.from_array(x, labels) as ds:
        b, lab = ds.batch(1, 4)
        np.testing.assert_array_equal(b, x[4:8])
        np.testing.assert_array_equal(lab, labels[4:8])
        assert ds.batch(2, 4)[0].shape == (2, 2), "the last batch is short"
        ds.shuffle(5)
        seen = np.concatenate([ds.batch(i, 4)[1] for i in range(3)])
        assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))
        for i in range(3):
            xb, lb = ds.batch(i, 4)
            np.testing.assert_array_equal(xb, x[lb])


# ---- split ---------------------------------------------------------------------


def numbered(n: int, dim: int = 6) -> np.ndarray:
    """uint8 rows whose first byte is the row's number: each row knows its origin."""
    rng = np.random.default_rng(n)
    x = rng.integers(0, 256, (n, dim), dtype=np.uint8)
    x[:, 0] = np.arange(n)
    return x


def origins(ds: libvae.Dataset) -> np.ndarray:
    x, _ = ds.get()
    return np.rint(x[:, 0] * 255).astype(int)


def test_split_sizes_disjoint_order_and_labels() -> None:
    data = numbered(200)
    labels = np.arange(200) % 7
    with libvae.Dataset.from_array(data, labels) as ds:
        rest, picked = ds.split(30, seed=4)
        with rest, picked:
            assert (len(rest), len(picked)) == (170, 30)
            a, b = origins(rest), origins(picked)
            assert set(a).isdisjoint(b) and set(a) | set(b) == set(range(200))
            assert np.all(np.diff(a) > 0) and np.all(np.diff(b) > 0)  # storage order kept
            for part, rows in ((rest, a), (picked, b)):
                x, lab = part.get()
                np.testing.assert_array_equal(lab, labels[rows])
                np.testing.assert_array_equal(part.labels, labels[rows])
                # bytes stay bytes: each pixel is exactly k / 255 as before
                np.testing.assert_array_equal(x, ds.get()[0][rows])
                assert part.num_classes == 7 and part.dim == 6
            # The same seed, the same split; another seed, another one.
            with ds.split(30, seed=4)[1] as again, ds.split(30, seed=5)[1] as other:
                np.testing.assert_array_equal(origins(again), b)
                assert not np.array_equal(origins(other), b)


def test_split_parts_own_their_memory() -> None:
    data = numbered(50)
    ds = libvae.Dataset.from_array(data, borrow=True)
    rest, picked = ds.split(10, seed=1)
    want = origins(picked)
    ds.close()
    data[:] = 0  # the borrowed array changes after the split: the parts are copies
    del data
    gc.collect()
    np.testing.assert_array_equal(origins(picked), want)
    assert picked.labels is None and picked.num_classes == 0
    rest.close()  # one part's end leaves the other alone
    assert len(picked) == 10
    ref = weakref.ref(picked)
    del picked
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("count", [0, -1, 50, 51, 2.5, True])
def test_split_refuses_a_part_without_samples(count: object) -> None:
    with libvae.Dataset.from_array(numbered(50)) as ds:
        with pytest.raises(VaeError) as e:
            ds.split(count, seed=1)  # type: ignore[arg-type]
        assert e.value.status == Status.INVALID_ARGUMENT
        assert len(ds) == 50
