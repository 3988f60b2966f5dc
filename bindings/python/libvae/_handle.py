"""Ownership of one C handle: freed once, at close() or collection, never twice.

A :class:`Handle` owns a pointer and the C function that frees it. Views
into memory the handle owns (a model's parameters, a dataset's labels) *pin*
it: close() then makes the Python object unusable at once, but the C memory
lives on until the last view is gone, so a numpy view can never dangle.
Dependents (an optimizer of a model) are released before their owner.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

from .errors import ClosedError


class Handle:
    """One owned C pointer."""

    __slots__ = ("_ptr", "_free", "_kind", "_closed", "_pins", "_dependents", "_lock",
                 "__weakref__")

    def __init__(self, ptr: Any, free: Callable[[Any], None], kind: str) -> None:
        if not ptr:
            raise ValueError(f"{kind}: NULL handle")
        self._ptr = ptr
        self._free = free
        self._kind = kind
        self._closed = False
        self._pins = 0
        self._dependents: Dict[int, "Handle"] = {}
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def closed(self) -> bool:
        return self._closed

    def get(self) -> Any:
        """The pointer, for a call; raises :class:`ClosedError` after close()."""
        if self._closed:
            raise ClosedError(f"this {self._kind} is closed")
        return self._ptr

    def add_dependent(self, other: "Handle") -> None:
        """``other`` must be released before this handle (it points into it)."""
        with self._lock:
            self._dependents[id(other)] = other

    def remove_dependent(self, other: "Handle") -> None:
        with self._lock:
            self._dependents.pop(id(other), None)

    def pin(self) -> None:
        with self._lock:
            self.get()
            self._pins += 1

    def unpin(self) -> None:
        with self._lock:
            self._pins -= 1
            ready = self._closed and self._pins == 0
        if ready:
            self._release()

    def close(self) -> None:
        """Make the handle unusable; free it now, or when the last pin goes.

        Idempotent. Dependents are closed first.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            dependents = list(self._dependents.values())
            self._dependents.clear()
            ready = self._pins == 0
        for d in dependents:
            d.close()
        if ready:
            self._release()

    def _release(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr:
            self._free(ptr)


class PinnedBuffer:
    """A buffer numpy can view (``numpy.asarray(buf)``) that keeps its handle's
    C memory alive: the array's ``base`` is this object, which pins the
    handle until the array (and every view of it) is collected."""

    __slots__ = ("__array_interface__", "_handle", "_owner")

    def __init__(self, handle: Handle, owner: Any, address: int, shape: Tuple[int, ...],
                 typestr: str, readonly: bool) -> None:
        handle.pin()
        self._handle: Optional[Handle] = handle
        self._owner = owner  # the Python wrapper too, for its attributes
        self.__array_interface__ = {
            "version": 3,
            "shape": shape,
            "typestr": typestr,
            "data": (address, readonly),
        }

    def __del__(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.unpin()


class Owner:
    """Base of the wrappers that own one :class:`Handle` as ``self._h``:
    close(), ``closed``, the context manager, and release on collection."""

    _h: Handle

    def close(self) -> None:
        """Free the handle now; idempotent. Later calls raise ClosedError."""
        self._h.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._h.closed

    def __enter__(self: "O") -> "O":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # Only the handle is touched: it frees at most once, whatever ran before.
        h = self.__dict__.get("_h")
        if h is not None:
            h.close()


O = TypeVar("O", bound=Owner)
