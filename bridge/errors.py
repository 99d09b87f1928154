"""Errors every front door shows the user as they are (no traceback)."""
from __future__ import annotations


class JobError(ValueError):
    """A job that cannot be done as asked; the message says what to change."""


class Cancelled(Exception):
    """The job was cancelled (its cancel event was set); nothing it made is returned."""
