"""Python callbacks that C calls: an exception that escapes one is not lost.

An exception raised inside a callback cannot cross the C frames: the
callbacks catch their own (and record them with
:func:`errors.pending_cause`), and :func:`unraisable_into` catches the one a
signal handler raises at a callback's entry, before its ``try``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Callable, Iterator, List, Sequence

from . import errors

__all__ = ["unraisable_into", "call_back"]


@contextlib.contextmanager
def unraisable_into(fns: Sequence[Callable[..., Any]],
                    sink: List[BaseException]) -> Iterator[None]:
    """Collect into ``sink`` the exceptions that escape the ctypes callbacks
    ``fns`` before their own ``try`` runs. A signal handler (Ctrl-C) runs at
    the entry of whatever Python code comes next, which may be a callback's
    first instruction; ctypes would then print the exception and lose it.
    Signal handlers run only in the main thread, so only it needs the hook."""
    if not fns or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = sys.unraisablehook
    watched = {id(f) for f in fns}

    def hook(u: Any) -> None:
        if id(u.object) in watched and u.exc_value is not None:
            sink.append(u.exc_value)
        else:
            previous(u)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def call_back(fns: Sequence[Callable[..., Any]], call: Callable[[], int]) -> int:
    """``call()``, a libvae call that may run the Python callbacks ``fns``
    (an optimizer's collective); its status. An exception that escaped a
    callback before its handler (a signal at its entry) is raised here."""
    raised: List[BaseException] = []
    with unraisable_into(fns, raised):
        status = call()
    if raised:
        errors.discard_pending()
        raise raised[0]
    return status
