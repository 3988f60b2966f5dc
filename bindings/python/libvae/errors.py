"""The exceptions of the bindings and the one function that raises VaeError."""

from __future__ import annotations

import threading
from typing import Any, Optional, Tuple

from ._capi import LibraryError, lib
from .enums import Status

__all__ = ["VaeError", "ClosedError", "LibraryError", "check"]


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


def check(status: int, what: Optional[str] = None) -> None:
    """Raise :class:`VaeError` for a failed status, with the library's message.

    ``vae_last_error()`` is thread-local in the library and ctypes calls run
    on the calling thread, so the message read here is this call's.
    """
    if status == Status.OK:
        return
    message = lib().vae_last_error().decode(errors="replace") or (what or "")
    try:
        known = Status(status)
    except ValueError:  # a newer library's status: keep its number visible
        known, message = Status.UNSUPPORTED, f"{message} (libvae status {status})"
    error = VaeError(known, message)
    cause, reraise = _take_cause()
    if cause is not None and reraise:
        # The host's own exception, raised from the call that ran its
        # callback, with the library's account of the failure as a note.
        if hasattr(cause, "add_note"):  # Python 3.11
            cause.add_note(f"libvae: {error}")
        raise cause
    if cause is not None:
        raise error from cause
    raise error


# An exception raised inside a host callback (sgemm, a collective) cannot
# cross the C frames: the callback records it here and the next failed
# check() raises it (reraise) or chains it as the VaeError's cause.
_causes = threading.local()


def pending_cause(e: BaseException, reraise: bool = False) -> None:
    """Remember ``e`` as the cause of the current call's failure (this thread).

    :param reraise: check() raises ``e`` itself rather than a VaeError
        whose ``__cause__`` is ``e``.
    """
    if getattr(_causes, "value", None) is None:
        _causes.value = (e, reraise)


def discard_pending() -> None:
    """Forget a recorded cause (one whose call did not fail)."""
    _causes.value = None


def _take_cause() -> Tuple[Optional[BaseException], bool]:
    value = getattr(_causes, "value", None)
    _causes.value = None
    return value if value is not None else (None, False)
