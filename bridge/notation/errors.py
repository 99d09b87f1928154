"""The one exception type of the notation layer."""
from __future__ import annotations


class NotationError(ValueError):
    """Input that cannot be converted faithfully (malformed file, unequal bar counts, ...).

    The message is meant for the user: it says what is wrong and, where possible, what to do.
    """
