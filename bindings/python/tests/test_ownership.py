"""Handles are freed once and only once: memory stays flat over many
create/free cycles, and no order of close() and collection frees twice."""

from __future__ import annotations

import gc
import os

import numpy as np

import libvae

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size now (not the peak that getrusage reports)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def churn(i: int, images: np.ndarray, labels: np.ndarray) -> None:
    """One cycle of everything that allocates: a model with its parameters
    touched, an optimizer after a step, datasets copied and borrowed, views."""
    m = libvae.Model(seed=i + 1)
    adam = libvae.Adam(m)
    ds = libvae.Dataset.from_array(images, labels)
    borrowed = libvae.Dataset.from_array(images, borrow=True)
    m.train_step(adam, ds.get(0, 64)[0])
    view = m.params
    lab = ds.labels
    assert view.shape[0] == m.param_count and lab.shape[0] == len(ds)
    if i % 2:  # half closed by hand, half left to the garbage collector
        adam.close()
        m.close()
        ds.close()
        borrowed.close()
    del m, adam, ds, borrowed, view, lab


def test_memory_stays_flat() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2000, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, 2000)
    for i in range(10):  # warm up: allocator pools, BLAS buffers
        churn(i, images, labels)
    gc.collect()
    before = rss_bytes()
    cycles = 60
    for i in range(cycles):
        churn(i, images, labels)
    gc.collect()
    grown = rss_bytes() - before
    # Each cycle holds > 12 MB (parameters, gradients, two Adam moments,
    # workspace, 1.5 MB of data): a leak of one cycle in ten would show.
    assert grown < 16 << 20, f"RSS grew by {grown / 2**20:.1f} MiB over {cycles} cycles"


def test_no_order_of_release_frees_twice() -> None:
    x = np.full((8, 784), 0.5, np.float32)
    for order in range(6):
        m = libvae.Model()
        opt = libvae.SGD(m)
        p = m.params
        if order == 0:
            opt.close(); m.close(); m.close(); opt.close()   # noqa: E702
        elif order == 1:
            m.close(); opt.close()                           # noqa: E702
        elif order == 2:
            del m  # the optimizer keeps the model alive
            gc.collect()
            assert opt.model.train_step(opt, x).total > 0
            del opt
        elif order == 3:
            m.opt = opt  # a reference cycle: the collector picks the order
            opt.tag = m
            del m, opt
        elif order == 4:
            with m, opt:
                pass
        else:
            del opt, m
        gc.collect()
        assert np.isfinite(p).all()  # the view's memory is still there
        del p
        gc.collect()


def test_optimizer_keeps_its_model_alive() -> None:
    import weakref

    m = libvae.Model(input_dim=8, hidden=4)
    alive = weakref.ref(m)
    opt = libvae.Adam(m)
    del m
    gc.collect()
    assert alive() is not None and opt.model is alive()
    del opt
    gc.collect()
    assert alive() is None
