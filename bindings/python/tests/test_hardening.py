"""Hostile use of the Python package: handles closed during a C call,
misaligned arrays, sizes that ctypes would wrap."""

from __future__ import annotations

import threading
from typing import List

import numpy as np
import pytest

import libvae
from libvae import _capi
from libvae.model import _floats


def _watch_free(obj: object, events: List[str], name: str) -> None:
    """Record in ``events`` when obj's C memory is freed."""
    h = obj._h  # type: ignore[attr-defined]
    free = h._free

    def recorded(ptr: object) -> None:
        events.append(f"free {name}")
        free(ptr)
    h._free = recorded


def _data(n: int = 40) -> np.ndarray:
    return np.random.default_rng(0).random((n, 16), dtype=np.float32)


@pytest.mark.parametrize("victim", ["dataset", "model", "optimizer"])
def test_close_in_progress_callback_waits_for_the_call(victim: str) -> None:
    """Closing a handle from the progress callback must not free it under
    vae_train_epoch (a heap-use-after-free): it is freed when the call ends."""
    events: List[str] = []
    m = libvae.Model(input_dim=16, latent_dim=2, hidden=8, seed=3)
    adam = libvae.Adam(m)
    ds = libvae.Dataset.from_array(_data())
    objs = {"dataset": ds, "model": m, "optimizer": adam}
    for name, o in objs.items():
        _watch_free(o, events, name)

    def progress(batch: int, batches: int, loss: libvae.Loss) -> None:
        events.append(f"batch {batch}")
        if batch == 0:
            objs[victim].close()

    m.train_epoch(adam, ds, batch_size=10, progress=progress)
    # Every batch ran on live memory: the free came once the call was over
    # (as its arguments were released), not in the callback.
    assert events[:4] == ["batch 0", "batch 1", "batch 2", "batch 3"]
    assert f"free {victim}" in events[4:]
    assert objs[victim].closed
    with pytest.raises(libvae.ClosedError):
        m.train_epoch(adam, ds, batch_size=10)
    for o in (adam, m, ds):
        o.close()
    assert sorted(e for e in events if e.startswith("free")) == \
        ["free dataset", "free model", "free optimizer"]


def test_close_from_another_thread_waits_for_the_call() -> None:
    """Another thread closes the dataset while train_epoch runs (the main
    thread waits in the callback until the close has returned): the memory
    is freed only after the call."""
    events: List[str] = []
    m = libvae.Model(input_dim=16, latent_dim=2, hidden=8, seed=3)
    adam = libvae.Adam(m)
    ds = libvae.Dataset.from_array(_data())
    _watch_free(ds, events, "dataset")
    closed = threading.Event()

    def closer() -> None:
        ds.close()
        events.append("closed")
        closed.set()

    def progress(batch: int, batches: int, loss: libvae.Loss) -> None:
        if batch == 0:
            threading.Thread(target=closer).start()
            assert closed.wait(60)
        events.append(f"batch {batch}")

    m.train_epoch(adam, ds, batch_size=10, progress=progress)
    assert events == ["closed", "batch 0", "batch 1", "batch 2", "batch 3", "free dataset"]
    adam.close()
    m.close()


def test_misaligned_arrays_are_copied() -> None:
    """A float32 view at an odd address reaches C aligned (UBSan: a
    misaligned load in the model's input check)."""
    raw = np.zeros(2 * 16 * 4 + 1, dtype=np.uint8)
    x = raw[1:].view(np.float32).reshape(2, 16)
    x[:] = 0.25
    assert not x.flags.aligned
    a, _ = _floats("x", x, 16)
    assert a.flags.aligned and a.flags.c_contiguous and a.dtype == np.float32
    with pytest.raises(ValueError):
        _capi.as_float_p(x)
    with libvae.Model(input_dim=16, latent_dim=2, hidden=8, seed=3) as m:
        mu, _ = m.encode(x)
        mu2, _ = m.encode(np.ascontiguousarray(x))
        assert np.array_equal(mu, mu2)
        out = np.empty(2 * 16 * 4 + 1, dtype=np.uint8)[1:].view(np.float32).reshape(2, 16)
        with pytest.raises(libvae.VaeError):
            m.decode(mu, out=out)
    with libvae.Dataset.from_array(x) as ds:
        assert np.array_equal(ds.get()[0], np.full((2, 16), 0.25, dtype=np.float32))
    with pytest.raises(libvae.VaeError):
        libvae.Dataset.from_array(x, borrow=True)
    lab = np.zeros(2 * 4 + 1, dtype=np.uint8)[1:].view(np.int32)
    with libvae.Dataset.from_array(np.zeros((2, 16), np.float32), labels=lab) as ds:
        assert list(ds.labels) == [0, 0]


def test_sizes_are_checked_before_ctypes() -> None:
    """ctypes would wrap -1 to SIZE_MAX (a batch of the whole data set) and
    2**32 + 1 to 1: each is refused instead."""
    with libvae.Model(input_dim=16, latent_dim=2, hidden=8, seed=3) as m, \
            libvae.Adam(m) as adam, libvae.Dataset.from_array(_data()) as ds:
        for bad in (-1, 0, 2**64, 1.5, True):
            with pytest.raises(libvae.VaeError) as e:
                m.train_epoch(adam, ds, batch_size=bad)
            assert e.value.status == libvae.Status.INVALID_ARGUMENT
        assert m.steps == 0
        for call in (lambda: m.sample(2, seed=-1), lambda: ds.shuffle(-1),
                     lambda: ds.batch(-1, 4), lambda: ds.batch(0, -4),
                     lambda: ds.get(-1, 2), lambda: m.iwae(ds, 1, seed=2**64),
                     lambda: libvae.set_threads(2**32 + 1)):
            with pytest.raises(libvae.VaeError) as e:
                call()
            assert e.value.status == libvae.Status.INVALID_ARGUMENT


def test_optimizer_bounds() -> None:
    lo, hi = libvae.Optimizer.bounds("sgd", "momentum")
    assert lo == 0 and 0.99 < hi < 1
    with pytest.raises(libvae.VaeError):
        libvae.Optimizer.bounds("adam", "momentum")
    with libvae.Model(input_dim=16, latent_dim=2, hidden=8) as m, libvae.Adam(m) as adam:
        with pytest.raises(libvae.VaeError):
            adam.set("momentum", 0.5)
