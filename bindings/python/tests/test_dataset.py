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
