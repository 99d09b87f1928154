"""Cancellation checkpoints for long loops that have no cancel argument (the notation conversions).

compose() runs a job inside `cancel_scope(event)`; code anywhere below it calls `checkpoint()`
once per measure (or bar, or voice), which raises Cancelled when the job's event is set: a cancel
or the daemon's watchdog. Outside a scope (the CLI, tests, result formatting) it does nothing.
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Iterator

from notabridge.errors import Cancelled

_EVENT: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("notabridge_cancel", default=None)


@contextlib.contextmanager
def cancel_scope(event: threading.Event | None) -> Iterator[None]:
    token = _EVENT.set(event)
    try:
        yield
    finally:
        _EVENT.reset(token)


def checkpoint() -> None:
    """Raise Cancelled when the job this code runs for has been cancelled."""
    event = _EVENT.get()
    if event is not None and event.is_set():
        raise Cancelled("cancelled")
