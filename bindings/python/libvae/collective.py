"""Data-parallel training: the host's collectives as Python callables.

libvae does no networking: an optimizer joined to a collective
(:meth:`Optimizer.set_collective`) calls back into the host to sum its
gradient across the workers and to copy worker 0's state to the others.
Here those callbacks are Python callables over numpy views of the C buffers
(mpi4py's ``Allreduce``/``Bcast``, a ``torch.distributed`` group, or a
thread barrier, as in tests/test_collective.py). docs/scaling.md gives the
protocol and include/vae/vae.h the contract.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Optional, Tuple

import numpy as np

from . import _capi, errors
from .enums import DType, Status
from .errors import VaeError

__all__ = ["AllreduceFn", "BroadcastFn"]

#: allreduce(buf) -> None: replace ``buf`` (a writable 1-D float32 or float64
#: view of the C buffer), on every worker, by its element-wise sum over the
#: workers, in place. Every worker must get the same bits.
AllreduceFn = Callable[[np.ndarray], Any]

#: broadcast(buf, root) -> None: copy worker ``root``'s ``buf`` (a writable
#: 1-D uint8 view of the C buffer) into every other worker's, in place.
BroadcastFn = Callable[[np.ndarray, int], Any]

_NUMPY_TYPES = {DType.F32: np.float32, DType.F64: np.float64}


def _view(address: Optional[int], count: int, dtype: Any) -> np.ndarray:
    """The ``count`` elements at ``address`` as a writable numpy array (no copy);
    valid only while the callback runs."""
    if count == 0 or not address:
        return np.empty(0, dtype=dtype)
    nbytes = count * np.dtype(dtype).itemsize
    return np.frombuffer((ctypes.c_uint8 * nbytes).from_address(address), dtype=dtype)


class Collective:
    """The ctypes thunks that carry one optimizer's collective to Python.

    The C optimizer keeps raw pointers to :attr:`c_allreduce` and
    :attr:`c_broadcast` while the collective is set, so the optimizer holds
    this object until it is detached, replaced or closed. An exception raised
    by a callable makes its thunk return failure: the libvae call fails with
    CALLBACK, and the bindings raise that exception from the call (this
    thread's; :mod:`errors` keeps it meanwhile).
    """

    def __init__(self, allreduce: AllreduceFn, broadcast: BroadcastFn) -> None:
        if not callable(allreduce) or not callable(broadcast):
            raise VaeError(Status.INVALID_ARGUMENT,
                           "set_collective needs two callables: allreduce(buf) and "
                           "broadcast(buf, root)")
        self.allreduce = allreduce
        self.broadcast = broadcast

        def allreduce_thunk(user: Any, buf: Optional[int], count: int, dtype: int) -> int:
            try:
                if dtype not in _NUMPY_TYPES:
                    raise VaeError(Status.UNSUPPORTED,
                                   f"all-reduce of element type {dtype}: not known to "
                                   "these bindings")
                allreduce(_view(buf, count, _NUMPY_TYPES[DType(dtype)]))
                return 0
            except BaseException as e:  # noqa: B902 - never unwind into C
                errors.pending_cause(e, reraise=True)
                return 1

        def broadcast_thunk(user: Any, buf: Optional[int], nbytes: int, root: int) -> int:
            try:
                broadcast(_view(buf, nbytes, np.uint8), root)
                return 0
            except BaseException as e:  # noqa: B902 - never unwind into C
                errors.pending_cause(e, reraise=True)
                return 1

        #: The Python functions ctypes calls (for the unraisable hook).
        self.thunks: Tuple[Callable[..., int], ...] = (allreduce_thunk, broadcast_thunk)
        self.c_allreduce = _capi.allreduce_fn(allreduce_thunk)
        self.c_broadcast = _capi.broadcast_fn(broadcast_thunk)
