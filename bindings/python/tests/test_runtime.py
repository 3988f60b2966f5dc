"""Process-wide calls: version, backends, threads, logging, a host GEMM."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Iterator

import numpy as np
import pytest

import libvae


def test_version() -> None:
    s = libvae.version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", s)
    major, minor, patch = map(int, s.split("."))
    assert libvae.version_number() == major * 10000 + minor * 100 + patch


@pytest.fixture
def restore_backend() -> Iterator[None]:
    before, threads = libvae.active_backend(), libvae.get_threads()
    yield
    libvae.set_sgemm(None)
    libvae.select_backend(before)
    libvae.set_threads(threads)


def test_backends(restore_backend: None) -> None:
    names = libvae.backends()
    assert "ref" in names and libvae.active_backend() in names
    libvae.select_backend("ref")
    assert libvae.active_backend() == "ref"
    libvae.select_backend("auto")
    chosen = libvae.active_backend()
    assert chosen in names and chosen != "ref" or names == ["ref"]
    libvae.select_backend(names[-1])
    libvae.select_backend("auto")  # measured once per process: the same choice
    assert libvae.active_backend() == chosen


def test_auto_reports_its_measurement() -> None:
    code = ("import libvae\n"
            "libvae.set_log_handler(lambda level, msg: print(level.name, msg))\n"
            "print('active', libvae.active_backend())\n")
    r = run_python(code, VAE_BACKEND="")
    assert r.returncode == 0, r.stderr
    active = re.search(r"^active (\S+)$", r.stdout, flags=re.M)
    assert active, r.stdout
    if len([b for b in libvae.backends() if b != "ref"]) > 1:
        m = re.search(r"^INFO backend (\S+), measured on the lesson's products at \d+ threads? "
                      r"\((.*?); within", r.stdout, flags=re.M)
        assert m, r.stdout
        assert m.group(1) == active.group(1)
        timed = dict(t.rsplit(" ", 2)[:2] for t in m.group(2).split(", "))
        assert set(timed) == {b for b in libvae.backends() if b != "ref"}
    r = run_python(code, VAE_BACKEND="ref")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "INFO backend ref, forced by VAE_BACKEND\nactive ref\n"


def test_threads(restore_backend: None) -> None:
    libvae.set_threads(1)
    assert libvae.get_threads() == 1
    with pytest.raises(libvae.VaeError):
        libvae.set_threads(0)
    assert libvae.get_threads() == 1


def numpy_sgemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, alpha: float,
                beta: float) -> None:
    c[...] = alpha * (a.astype(np.float64) @ b) + beta * c


def test_host_sgemm_matches_the_backend(restore_backend: None) -> None:
    rng = np.random.default_rng(2)
    x = rng.random((32, 20), dtype=np.float32)
    settings = dict(input_dim=20, hidden=[12, 7], latent_dim=3, seed=2)
    # Two models of one seed draw the same noise on their first step.
    with libvae.Model(**settings) as m:
        ref = m.backward(x)
        ref_grads = m.grads.copy()
    calls = []

    def counting(a, b, c, alpha, beta):  # type: ignore[no-untyped-def]
        calls.append((a.shape, b.shape))
        numpy_sgemm(a, b, c, alpha, beta)

    libvae.set_sgemm(counting)
    assert libvae.active_backend() == "custom"
    with libvae.Model(**settings) as m:
        got = m.backward(x)
        # 6 layers: 6 forward products, 6 weight gradients (x^T g, a
        # transposed view) and 5 input gradients (g W^T; none for the input).
        assert len(calls) == 6 + 6 + 5
        assert ((20, 32), (32, 12)) in calls
        assert got.total == pytest.approx(ref.total, rel=1e-5)
        np.testing.assert_allclose(m.grads, ref_grads, rtol=1e-3, atol=1e-5)
    libvae.set_sgemm(None)
    assert libvae.active_backend() != "custom"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_library_warnings_reach_logging() -> None:
    code = ("import logging, libvae\n"
            "logging.basicConfig(level=logging.DEBUG, format='%(name)s|%(levelname)s|%(message)s')\n"
            "libvae.Model(input_dim=4, hidden=2).decode([0.0, 0.0])\n")
    r = run_python(code, VAE_BACKEND="no-such-backend")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^libvae\|WARNING\|VAE_BACKEND=no-such-backend is not available",
                     r.stderr, flags=re.M), r.stderr


def test_custom_log_handler_and_silence() -> None:
    code = ("import libvae\n"
            "libvae.set_log_handler(lambda level, msg: print(level.name, msg))\n"
            "libvae.active_backend()\n"
            "libvae.set_log_handler(None)\n")
    r = run_python(code, VAE_BACKEND="bogus")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("WARN VAE_BACKEND=bogus")
    r = run_python("import libvae; libvae.set_log_handler(None); libvae.active_backend()",
                   VAE_BACKEND="bogus")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
