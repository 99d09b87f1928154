"""Logging for `notabridge serve`: no input can make the daemon fill a disk or a terminal.

Every handler drops lines beyond LIMITS["log_lines_per_second"] per source line of code (a
python-osc warning that embeds each datagram counts as one kind) and beyond ten times that in
all; the next line that gets through says how many were dropped. `--log-file` rotates at
LIMITS["log_file_bytes"] and keeps LIMITS["log_file_backups"] old files.
"""
from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from notabridge.daemon.ratelimit import RateLimit
from notabridge.limits import LIMITS

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(dropped_note)s"


class RateLimitFilter(logging.Filter):
    """Passes at most so many records per second per call site, and so many in all."""

    def __init__(self) -> None:
        super().__init__()
        rate, burst = LIMITS["log_lines_per_second"], LIMITS["log_burst"]
        self._per_site = RateLimit(rate, burst, max_keys=1024)
        self._overall = RateLimit(rate * 10, burst * 10, max_keys=1)
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        site = (record.name, record.pathname, record.lineno)
        if not (self._per_site.allow(site) and self._overall.allow(None)):
            self._dropped += 1
            return False
        # handlers run one after another on the record: each sets its own note just before writing
        record.dropped_note = f" [{self._dropped} log lines dropped before this one]" if self._dropped else ""
        self._dropped = 0
        return True


def configure(log_file: str | None = None, level: int = logging.INFO) -> list[logging.Handler]:
    """Send every logger's records to stderr (and `log_file`, rotated), rate-limited; returns the handlers."""
    formatter = logging.Formatter(_FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(
            log_file, maxBytes=int(LIMITS["log_file_bytes"]), backupCount=int(LIMITS["log_file_backups"]),
            encoding="utf-8"))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RateLimitFilter())
        root.addHandler(handler)
    root.setLevel(logging.WARNING)                  # other libraries: warnings and errors only
    logging.getLogger("notabridge").setLevel(level)
    return handlers
