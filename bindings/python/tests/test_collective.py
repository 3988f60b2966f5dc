"""Data-parallel training through Python collectives: W workers are W threads
of this process, each with its own model, joined by an all-reduce and a
broadcast over a barrier (tests/test_collective.c does the same in C)."""

from __future__ import annotations

import gc
import os
import re
import shutil
import subprocess
import sys
import threading
from typing import Any, Callable, List, Optional, Tuple

import numpy as np
import pytest

import libvae
from conftest import ROOT
from libvae import Status, VaeError

U = 2.0 ** -24  # float32 unit roundoff


class ThreadGroup:
    """An in-process collective: every worker leaves its buffer, waits at a
    barrier, sums the buffers in rank order (so that all get the same bits)
    and waits again before writing. A worker whose callback raises aborts the
    barrier, so its peers fail too instead of waiting forever."""

    def __init__(self, world: int, fail: Optional[Callable[[int, str, np.ndarray], None]] = None
                 ) -> None:
        self.world = world
        self.barrier = threading.Barrier(world, timeout=60)
        self.bufs: List[Any] = [None] * world
        self.fail = fail
        self.calls: List[Tuple[int, str, Any, int]] = []  # (rank, what, dtype, size)

    def _exchange(self, rank: int, what: str, buf: np.ndarray,
                  result: Callable[[List[np.ndarray]], Optional[np.ndarray]]) -> None:
        """Leave buf, wait for every worker's, compute this worker's result
        from them, wait until all have read, then write it into buf."""
        try:
            self.calls.append((rank, what, buf.dtype, buf.size))
            if self.fail:
                self.fail(rank, what, buf)
            self.bufs[rank] = buf
            self.barrier.wait()
            out = result(self.bufs)
            self.barrier.wait()  # every worker has read every buffer
            if out is not None:
                buf[...] = out
        except BaseException:
            self.barrier.abort()
            raise

    def callbacks(self, rank: int) -> Tuple[Callable[[np.ndarray], None],
                                            Callable[[np.ndarray, int], None]]:
        def total(bufs: List[np.ndarray]) -> np.ndarray:
            s = bufs[0].copy()
            for b in bufs[1:]:
                s += b
            return s

        def allreduce(buf: np.ndarray) -> None:
            self._exchange(rank, "allreduce", buf, total)

        def broadcast(buf: np.ndarray, root: int) -> None:
            self._exchange(rank, "broadcast", buf,
                           lambda bufs: None if rank == root else bufs[root].copy())

        return allreduce, broadcast


def run_workers(world: int, job: Callable[[int], Any]) -> Tuple[List[Any], List[Any]]:
    """job(rank) on `world` threads; their results and exceptions by rank."""
    results: List[Any] = [None] * world
    errors: List[Any] = [None] * world

    def target(rank: int) -> None:
        try:
            results[rank] = job(rank)
        except BaseException as e:  # noqa: B902 - reported to the test
            errors[rank] = e

    threads = [threading.Thread(target=target, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a worker hangs"
    return results, errors


@pytest.fixture(scope="module")
def batch128(data_dir: Any) -> np.ndarray:
    with libvae.Dataset.from_idx(data_dir / "train-images-idx3-ubyte.gz") as ds:
        return ds.get(0, 128)[0]


@pytest.fixture(autouse=True)
def one_thread_each() -> Any:
    # Two workers share the machine's cores: one GEMM thread each.
    before = libvae.get_threads()
    libvae.set_threads(1)
    yield
    libvae.set_threads(before)


@pytest.fixture(scope="module", autouse=True)
def row_invariant_level() -> Any:
    """The comparisons of 2 x 64 rows with 1 x 128 bound the rounding of the
    gradient sums, not a forward pass that a BLAS may round differently for
    64 rows than for 128: run them on libvae's own kernels, whose rows do not
    depend on the batch (tests/test_kernels.c checks it)."""
    before = libvae.active_backend()
    libvae.select_backend(next(b for b in libvae.backends() if b != "blas"))
    yield
    libvae.select_backend(before)


def lesson_model() -> libvae.Model:
    return libvae.Model(latent_dim=2, hidden=400, seed=7)


def test_two_workers_of_64_step_as_one_of_128(batch128: np.ndarray) -> None:
    """One SGD step of 2 workers x 64 images equals 1 worker x 128, up to the
    float32 rounding of summing the same 128 row gradients in another order."""
    world, b, B, lr = 2, 64, 128, 0.1
    group = ThreadGroup(world)
    models = [lesson_model() for _ in range(world)]
    opts = [libvae.SGD(m, lr=lr) for m in models]
    p0 = models[0].params.copy()

    def job(rank: int) -> None:
        m, opt = models[rank], opts[rank]
        opt.set_collective(*group.callbacks(rank), rank, world)
        if rank > 0:  # draw the latent noise the rows before this worker's used
            m.backward(batch128[:rank * b])
        m.train_step(opt, batch128[rank * b:(rank + 1) * b])

    _, errors = run_workers(world, job)
    assert errors == [None] * world
    n = models[0].param_count
    grads = [(r, what, dt, size) for r, what, dt, size in group.calls if size == n]
    assert sorted(grads) == [(0, "allreduce", np.float32, n), (1, "allreduce", np.float32, n)]
    np.testing.assert_array_equal(models[1].params, models[0].params)

    with lesson_model() as single, libvae.SGD(single, lr=lr) as sgd:
        single.train_step(sgd, batch128)
        g1, p1 = single.grads.copy(), single.params.copy()
    # S_i = mean over the rows of |row gradient|, the same noise in turn.
    S = np.zeros(n)
    with lesson_model() as rows:
        for i in range(B):
            rows.backward(batch128[i:i + 1])
            S += np.abs(rows.grads) / B
    g2, p2 = models[0].grads, models[0].params
    T = 4 * B * U * S  # the bound of tests/collective_check.h
    assert np.all(np.abs(g2.astype(np.float64) - g1) <= T), \
        f"gradient off by {np.max(np.abs(g2.astype(np.float64) - g1) / np.maximum(T, 1e-300)):.3g} " \
        "of its bound"
    # p = p0 - lr g: the gradient error scaled by lr, plus the rounding of
    # lr g and of the subtraction on each side.
    tol = lr * T + 2 * U * (np.abs(p1) + lr * np.abs(g1)) + 1e-12
    assert np.all(np.abs(p2.astype(np.float64) - p1) <= tol)
    assert np.max(np.abs(p1 - p0)) > 1e-3  # the step did move the parameters
    for m in models:
        m.close()


@pytest.mark.parametrize("call", ["train_step", "step", "train_epoch"])
def test_an_exception_in_a_callback_is_raised_and_changes_nothing(
        batch128: np.ndarray, call: str) -> None:
    class LinkDown(Exception):
        pass

    def fail(rank: int, what: str, buf: np.ndarray) -> None:
        if rank == 1 and what == "allreduce" and buf.dtype == np.float32:
            raise LinkDown(f"worker {rank}: link down")

    world = 2
    group = ThreadGroup(world, fail)
    ds = libvae.Dataset.from_array(batch128)
    models = [libvae.Model(latent_dim=2, hidden=32, seed=5) for _ in range(world)]
    opts = [libvae.Adam(m) for m in models]
    def job(rank: int) -> np.ndarray:
        m, opt = models[rank], opts[rank]
        opt.set_collective(*group.callbacks(rank), rank, world)
        before = m.params.copy()
        try:
            if call == "train_step":
                m.train_step(opt, batch128[rank * 64:(rank + 1) * 64])
            elif call == "step":
                m.backward(batch128[rank * 64:(rank + 1) * 64])
                opt.step()
            else:
                m.train_epoch(opt, ds, batch_size=32)
        finally:
            np.testing.assert_array_equal(m.params, before)
        return before

    _, errors = run_workers(world, job)
    # Worker 1's own exception comes out of its call; worker 0 sees its
    # peer vanish (the aborted barrier) in its own callback.
    assert isinstance(errors[1], LinkDown), errors
    assert isinstance(errors[0], threading.BrokenBarrierError), errors
    notes = " ".join(getattr(errors[1], "__notes__", []))
    if hasattr(errors[1], "add_note"):
        assert "all-reduce of the gradient" in notes and "[callback]" in notes, notes
    assert models[0].steps == models[1].steps == 0
    for m in models:
        m.close()
    ds.close()


def test_a_failed_join_raises_and_leaves_the_optimizer_alone() -> None:
    def allreduce(buf: np.ndarray) -> None:
        raise OSError("no peers")

    with libvae.Model(input_dim=16, latent_dim=2, hidden=8, seed=3) as m, \
            libvae.SGD(m) as opt:
        p0 = m.params.copy()
        with pytest.raises(OSError, match="no peers"):
            opt.set_collective(allreduce, lambda buf, root: None, 0, 1)
        np.testing.assert_array_equal(m.params, p0)
        # Still a single worker: a step calls no collective.
        m.train_step(opt, np.full((4, 16), 0.5, np.float32))
        assert m.steps == 1


def test_one_worker_reproduces_single_worker_training_bit_for_bit(test_set: Any) -> None:
    group = ThreadGroup(1)

    def train(collective: bool) -> Tuple[np.ndarray, libvae.Loss]:
        with libvae.Model(latent_dim=2, hidden=32, seed=11) as m, libvae.Adam(m) as adam:
            if collective:
                adam.set_collective(*group.callbacks(0), 0, 1)
            loss = m.train_epoch(adam, test_set, batch_size=100)
            return m.params.copy(), loss

    p_plain, loss_plain = train(False)
    p_coll, loss_coll = train(True)
    np.testing.assert_array_equal(p_coll, p_plain)
    assert loss_coll == loss_plain
    kinds = {(what, np.dtype(dt)) for _, what, dt, _ in group.calls}
    assert kinds == {("broadcast", np.dtype(np.uint8)), ("allreduce", np.dtype(np.float64)),
                     ("allreduce", np.dtype(np.float32))}
    steps = sum(1 for _, what, dt, _ in group.calls if dt == np.float32)
    assert steps == 20  # one gradient all-reduce per step: 2000 / 100


def test_two_workers_train_an_epoch_in_step() -> None:
    rng = np.random.default_rng(2)
    data = (rng.random((300, 16)) < 0.3).astype(np.float32)
    world = 2
    group = ThreadGroup(world)
    progress: List[List[Tuple[int, int, float]]] = [[], []]

    def job(rank: int) -> Tuple[np.ndarray, libvae.Loss, int]:
        # Different seeds: joining makes worker 1 adopt worker 0's model.
        with libvae.Model(input_dim=16, latent_dim=2, hidden=8, seed=3 + rank) as m, \
                libvae.Adam(m) as adam, libvae.Dataset.from_array(data) as ds:
            adam.set_collective(*group.callbacks(rank), rank, world)
            loss = m.train_epoch(adam, ds, batch_size=25,
                                 progress=lambda i, n, l: progress[rank].append((i, n, l.total)))
            return m.params.copy(), loss, m.steps

    results, errors = run_workers(world, job)
    assert errors == [None, None]
    (p0, loss0, steps0), (p1, loss1, steps1) = results
    np.testing.assert_array_equal(p0, p1)  # the copies stay identical
    assert loss0 == loss1 and steps0 == steps1 == 6  # 300 / (2 x 25)
    assert progress[0] == progress[1]  # the global batch's losses, on both


def test_the_callbacks_live_as_long_as_the_collective() -> None:
    group = ThreadGroup(1)
    with libvae.Model(input_dim=16, latent_dim=2, hidden=8, seed=3) as m, \
            libvae.SGD(m) as opt:
        # Lambdas referenced by nothing but the optimizer.
        opt.set_collective(lambda buf: group.callbacks(0)[0](buf),
                           lambda buf, root: group.callbacks(0)[1](buf, root), 0, 1)
        gc.collect()
        x = np.full((4, 16), 0.5, np.float32)
        m.train_step(opt, x)
        assert sum(1 for c in group.calls if c[2] == np.float32) == 1
        opt.set_collective(None)  # detached: single worker again
        gc.collect()
        m.train_step(opt, x)
        assert sum(1 for c in group.calls if c[2] == np.float32) == 1
        assert m.steps == 2


def test_bad_arguments() -> None:
    with libvae.Model(input_dim=16, latent_dim=2, hidden=8, seed=3) as m, \
            libvae.SGD(m) as opt:
        ok = ThreadGroup(1).callbacks(0)
        for args in [(ok[0], ok[1], 1, 1), (ok[0], ok[1], -1, 2), (ok[0], ok[1], 0, 0),
                     (ok[0], None, 0, 1), (ok[0], ok[1], 0, 2 ** 40)]:
            with pytest.raises(VaeError) as e:
                opt.set_collective(*args)
            assert e.value.status == Status.INVALID_ARGUMENT, args
        with pytest.raises(VaeError) as e:
            opt.set_collective("not callable", ok[1], 0, 1)  # type: ignore[arg-type]
        assert e.value.status == Status.INVALID_ARGUMENT


MPI_PROLOGUE = """
import numpy as np, libvae
libvae.set_threads(1)
d = {data!r} + "/"
train = libvae.Dataset.from_idx(d + "t10k-images-idx3-ubyte.gz")
from mpi4py import MPI
model = libvae.Model(latent_dim=2, hidden=32, seed=1 + MPI.COMM_WORLD.Get_rank())
adam = libvae.Adam(model)
"""

MPI_EPILOGUE = """
params = MPI.COMM_WORLD.gather(model.params.copy(), root=0)
if MPI.COMM_WORLD.Get_rank() == 0:
    print(model.steps, all(np.array_equal(params[0], p) for p in params))
"""


def test_readme_mpi4py_example(data_dir: Any, tmp_path: Any) -> None:
    """The README's mpi4py block, run by 2 MPI workers: they take the same
    steps and end with identical models (skipped without mpi4py or mpirun)."""
    pytest.importorskip("mpi4py")
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("no mpirun")
    readme = (ROOT / "bindings" / "python" / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                 if "from mpi4py import MPI" in b)
    script = tmp_path / "workers.py"
    script.write_text(MPI_PROLOGUE.format(data=str(data_dir)) + block + MPI_EPILOGUE)
    package = os.path.dirname(os.path.dirname(libvae.__file__))
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONPATH=os.pathsep.join(filter(None, [package, os.environ.get("PYTHONPATH")])),
               LIBVAE_LIBRARY=libvae._capi.find_library())
    r = subprocess.run([mpirun, "-np", "2", "--oversubscribe", sys.executable, str(script)],
                       capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["16", "True"], r.stdout  # 2000 images / (2 x 64) per step
