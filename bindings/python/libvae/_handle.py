"""Ownership of one C handle: freed once, at close() or collection, never twice.

A :class:`Handle` owns a pointer and the C function that frees it. Views
into memory the handle owns (a model's parameters, a dataset's labels) *pin*
it: close() then makes the Python object unusable at once, but the C memory
lives on until the last view is gone, so a numpy view can never dangle.

Every C call pins too: :meth:`Handle.get` returns a :class:`Use`, which
ctypes passes as the pointer (``_as_parameter_``) and which holds a pin
until it is collected, that is once the call that holds it as an argument
has returned. So close() during a call, from a progress callback or from
another thread, never frees under it: the memory goes when the call ends.
Dependents (an optimizer of a model) are released before their owner, and
pinning a dependent pins its owner too (a step of the optimizer reads the
model).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

from .errors import ClosedError


class Use:
    """The pointer of a handle for the duration of a C call: ctypes passes
    ``_as_parameter_``; the handle stays pinned until this object goes."""

    __slots__ = ("_as_parameter_", "_handle")

    def __init__(self, handle: "Handle", ptr: Any) -> None:
        self._as_parameter_ = ptr
        self._handle: Optional[Handle] = handle

    def __bool__(self) -> bool:
        return bool(self._as_parameter_)

    def __del__(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.unpin()


class Handle:
    """One owned C pointer."""

    __slots__ = ("_ptr", "_free", "_kind", "_closed", "_pins", "_dependents", "_owner",
                 "_lock", "__weakref__")

    def __init__(self, ptr: Any, free: Callable[[Any], None], kind: str) -> None:
        if not ptr:
            raise ValueError(f"{kind}: NULL handle")
        self._ptr = ptr
        self._free = free
        self._kind = kind
        self._closed = False
        self._pins = 0
        self._dependents: Dict[int, "Handle"] = {}
        self._owner: Optional[Handle] = None
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def closed(self) -> bool:
        return self._closed

    def get(self) -> Use:
        """The pointer for a C call, pinned while the returned object lives
        (pass it straight to the call); raises :class:`ClosedError` after
        close()."""
        ptr = self.pin()
        return Use(self, ptr)

    def add_dependent(self, other: "Handle") -> None:
        """``other`` must be released before this handle (it points into it)."""
        with self._lock:
            self._dependents[id(other)] = other
        other._owner = self

    def remove_dependent(self, other: "Handle") -> None:
        with self._lock:
            self._dependents.pop(id(other), None)

    def pin(self) -> Any:
        """Keep the C memory (and the owner's) until :meth:`unpin`; returns the pointer."""
        with self._lock:
            if self._closed:
                raise ClosedError(f"this {self._kind} is closed")
            self._pins += 1
            ptr = self._ptr
        owner = self._owner
        if owner is not None:
            try:
                owner.pin()
            except BaseException:
                self.unpin(owner=False)
                raise
        return ptr

    def unpin(self, owner: bool = True) -> None:
        with self._lock:
            self._pins -= 1
            ready = self._closed and self._pins == 0
        if ready:
            self._release()
        if owner and self._owner is not None:
            self._owner.unpin()

    def close(self) -> None:
        """Make the handle unusable; free it now, or when the last pin goes
        (the end of a C call in progress, the last view).

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
