"""Arguments checked before ctypes converts them.

ctypes converts a Python int to ``size_t``, ``uint64_t`` or ``int`` by
wrapping it: -1 becomes SIZE_MAX, 2**32 + 1 becomes 1. Every whole number
bound for C goes through one of these first, and every array through
:func:`floats`, so that C sees exactly what the caller meant: an aligned,
C-contiguous array of the right type.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .enums import Status
from .errors import VaeError

SIZE_MAX = 2**64 - 1 if np.dtype(np.uintp).itemsize == 8 else 2**32 - 1


def whole(name: str, value: Any, lo: int, hi: int) -> int:
    """``value`` as an int in ``[lo, hi]``, else INVALID_ARGUMENT."""
    if isinstance(value, bool):
        raise VaeError(Status.INVALID_ARGUMENT, f"{name} = {value!r}: must be a whole number")
    try:
        v = operator.index(value)
    except TypeError:
        raise VaeError(Status.INVALID_ARGUMENT,
                       f"{name} = {value!r}: must be a whole number") from None
    if not lo <= v <= hi:
        raise VaeError(Status.INVALID_ARGUMENT, f"{name} = {v}: must be in [{lo}, {hi}]")
    return v


def size(name: str, value: Any, minimum: int = 0) -> int:
    """A ``size_t`` argument, at least ``minimum``."""
    return whole(name, value, minimum, SIZE_MAX)


def u64(name: str, value: Any) -> int:
    """A ``uint64_t`` argument (a seed, a byte cap)."""
    return whole(name, value, 0, 2**64 - 1)


def c_int(name: str, value: Any, minimum: int = -2**31) -> int:
    """An ``int`` argument."""
    return whole(name, value, minimum, 2**31 - 1)


def require(a: Any, dtype: Any) -> np.ndarray:
    """``a`` as an aligned, C-contiguous array of ``dtype``: ``a`` itself
    when it already is one, else a copy (a misaligned view of a byte
    buffer would otherwise reach C as it is: undefined behaviour there)."""
    return np.require(a, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])
