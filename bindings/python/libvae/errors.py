"""The exceptions of the bindings, and the record of an exception raised
inside a host callback until the failed call reports it.

This module sits at the bottom of the package with :mod:`enums`: it imports
neither ctypes nor the library. :func:`libvae._capi.check` turns a failed
status into a :class:`VaeError`."""

from __future__ import annotations

import threading
from typing import Any, Optional, Tuple

from .enums import Status

__all__ = ["VaeError", "ClosedError", "LibraryError"]


class LibraryError(ImportError):
    """The shared library could not be found, loaded, or is of another major version."""


class VaeError(Exception):
    """A libvae call failed.

    :ivar status: the :class:`Status` the call returned.
    :ivar message: the library's one-line reason (``vae_last_error()``), or
        the bindings' own when they refused the call before making it.
    :ivar loss: for a cancelled :meth:`Model.train_epoch`, the mean loss
        over the batches done; otherwise None.
    """

    def __init__(self, status: Status, message: str, loss: Any = None) -> None:
        self.status = Status(status)
        self.message = message
        self.loss = loss
        super().__init__(status, message)

    def __str__(self) -> str:
        name = self.status.name.lower().replace("_", " ")
        return f"{self.message} [{name}]" if self.message else name

    def __reduce__(self) -> Any:
        return (type(self), (self.status, self.message, self.loss))


class ClosedError(VaeError, ValueError):
    """A handle was used after close(). A :class:`VaeError` with status
    INVALID_ARGUMENT, and a ValueError as for I/O on a closed file."""

    def __init__(self, message: str) -> None:
        super().__init__(Status.INVALID_ARGUMENT, message)

    def __reduce__(self) -> Any:
        return (type(self), (self.message,))


# An exception raised inside a host callback (sgemm, a collective) cannot
# cross the C frames: the callback records it here and the next failed
# _capi.check() raises it (reraise) or chains it as the VaeError's cause.
_causes = threading.local()


def pending_cause(e: BaseException, reraise: bool = False) -> None:
    """Remember ``e`` as the cause of the current call's failure (this thread).

    :param reraise: _capi.check() raises ``e`` itself rather than a VaeError
        whose ``__cause__`` is ``e``.
    """
    if getattr(_causes, "value", None) is None:
        _causes.value = (e, reraise)


def discard_pending() -> None:
    """Forget a recorded cause (one whose call did not fail)."""
    _causes.value = None


def take_cause() -> Tuple[Optional[BaseException], bool]:
    """The recorded cause and its reraise flag, or ``(None, False)``; forgets it."""
    value = getattr(_causes, "value", None)
    _causes.value = None
    return value if value is not None else (None, False)
