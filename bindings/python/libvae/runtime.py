"""Process-wide settings: version, compute backends, threads, logging, a host GEMM."""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any, Callable, List, Optional

import numpy as np

from . import _args, _capi, errors
from ._capi import check, lib
from .enums import LogLevel, Transpose

__all__ = [
    "version", "version_number", "backends", "active_backend", "select_backend",
    "set_threads", "get_threads", "set_log_handler", "log_to_logging", "set_sgemm",
    "LOGGER_NAME",
]

#: Name of the :mod:`logging` logger that receives the library's diagnostics.
LOGGER_NAME = "libvae"


def version() -> str:
    """``"MAJOR.MINOR.PATCH"`` of the running library."""
    return lib().vae_version_string().decode()


def version_number() -> int:
    """``MAJOR * 10000 + MINOR * 100 + PATCH`` of the running library."""
    return int(lib().vae_version_number())


def backends() -> List[str]:
    """Names of the compute backends usable in this process, best first."""
    return [lib().vae_backend_name(i).decode() for i in range(lib().vae_backend_count())]


def active_backend() -> str:
    """Name of the backend in use (``"custom"`` under :func:`set_sgemm`)."""
    return lib().vae_backend_active().decode()


def select_backend(name: str) -> None:
    """Select a backend by name (``"auto"`` for the best). Process-wide;
    UNAVAILABLE for one not built or not supported here."""
    check(lib().vae_backend_select(name.encode()))


def set_threads(n: int) -> None:
    """Threads used by the matrix products (process-wide), ``n >= 1``."""
    check(lib().vae_set_threads(_args.c_int("threads", n)))


def get_threads() -> int:
    """Thread count in force."""
    return int(lib().vae_get_threads())


# ---- logging ----------------------------------------------------------------

_LEVELS = {
    LogLevel.ERROR: logging.ERROR,
    LogLevel.WARN: logging.WARNING,
    LogLevel.INFO: logging.INFO,
    LogLevel.DEBUG: logging.DEBUG,
}

LogHandler = Callable[[LogLevel, str], Any]

# The C library keeps a raw function pointer: the ctypes thunk must live as
# long as it is installed.
_log_state_lock = threading.Lock()
_log_thunk: Optional[Any] = None


def set_log_handler(handler: Optional[LogHandler]) -> None:
    """Send the library's diagnostics to ``handler(level, message)``
    (process-wide, from any thread that calls libvae); None discards them.
    Exceptions raised by the handler are swallowed, as a log call cannot fail."""
    global _log_thunk
    with _log_state_lock:
        if handler is None:
            lib().vae_log_set(ctypes.cast(None, _capi.log_fn), None)
            _log_thunk = None
            return

        def thunk(user: Any, level: int, msg: bytes) -> None:
            try:
                try:
                    lvl = LogLevel(level)
                except ValueError:
                    lvl = LogLevel.DEBUG
                handler(lvl, msg.decode(errors="replace") if msg else "")
            except BaseException:  # noqa: B902 - never unwind into C
                pass

        new = _capi.log_fn(thunk)
        lib().vae_log_set(new, None)
        _log_thunk = new


def log_to_logging(logger: Optional[logging.Logger] = None) -> None:
    """Route the library's diagnostics to :mod:`logging` (the ``libvae``
    logger by default): ERROR, WARN, INFO and DEBUG map to the levels of the
    same names. This is installed when the package is imported."""
    target = logger if logger is not None else logging.getLogger(LOGGER_NAME)
    set_log_handler(lambda level, msg: target.log(_LEVELS[level], "%s", msg))


# ---- a host GEMM --------------------------------------------------------------

#: fn(a, b, c, alpha, beta): c[:] = alpha * a @ b + beta * c, on numpy views;
#: a is [m x k] and b [k x n] (already transposed as the call asks), c [m x n].
SgemmFn = Callable[[np.ndarray, np.ndarray, np.ndarray, float, float], Any]

_sgemm_thunk: Optional[Any] = None


def _matrix(ptr: Any, rows: int, cols: int, ld: int, transposed: bool,
            writable: bool) -> np.ndarray:
    """The row-major matrix at ptr (rows x cols as stored, leading dimension
    ld) as a numpy view, transposed when asked."""
    stored_rows, stored_cols = (cols, rows) if transposed else (rows, cols)
    if stored_rows == 0 or stored_cols == 0:
        return np.zeros((rows, cols), dtype=np.float32)
    span = (stored_rows - 1) * ld + stored_cols
    flat = np.ctypeslib.as_array(ptr, shape=(span,))
    flat.flags.writeable = writable
    view = np.lib.stride_tricks.as_strided(flat, shape=(stored_rows, stored_cols),
                                           strides=(ld * 4, 4), writeable=writable)
    return view.T if transposed else view


def set_sgemm(fn: Optional[SgemmFn]) -> None:
    """Route every GEMM of the library through the Python function ``fn``
    (None restores the selected backend). Meant for experiments and tests:
    it is slow. An exception inside ``fn`` makes the library call fail with
    CALLBACK, and the :class:`VaeError` raised has the exception as its
    ``__cause__``."""
    global _sgemm_thunk
    if fn is None:
        lib().vae_set_sgemm(ctypes.cast(None, _capi.sgemm_fn), None)
        _sgemm_thunk = None
        return

    def thunk(user: Any, ta: int, tb: int, m: int, n: int, k: int, alpha: float, a: Any,
              lda: int, b: Any, ldb: int, beta: float, c: Any, ldc: int) -> int:
        try:
            A = _matrix(a, m, k, lda, ta == Transpose.TRANS, False)
            B = _matrix(b, k, n, ldb, tb == Transpose.TRANS, False)
            C = _matrix(c, m, n, ldc, False, True)
            if beta == 0:
                C[...] = 0  # C may hold NaN when beta is 0
            fn(A, B, C, alpha, beta)
            return 0
        except BaseException as e:  # noqa: B902 - never unwind into C
            errors.pending_cause(e)
            return 1

    new = _capi.sgemm_fn(thunk)
    lib().vae_set_sgemm(new, None)
    _sgemm_thunk = new
