"""Token buckets per key: how the daemon caps what one peer can make it do (replies, log lines)."""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable

from notabridge.limits import LIMITS


class RateLimit:
    """At most `per_second` events per key on average, `burst` at once. Keys are kept in a
    bounded LRU, so a flood of distinct keys (spoofed source ports) cannot grow memory."""

    def __init__(self, per_second: float, burst: float, max_keys: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second, self.burst, self.max_keys, self._clock = per_second, burst, max_keys, clock
        self._buckets: "OrderedDict[Hashable, list[float]]" = OrderedDict()   # key -> [tokens, last time]
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> bool:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.pop(key, None) or [float(self.burst), now]
            bucket[0] = min(float(self.burst), bucket[0] + (now - bucket[1]) * self.per_second)
            bucket[1] = now
            allowed = bucket[0] >= 1.0
            if allowed:
                bucket[0] -= 1.0
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return allowed


class RateLimitedLog:
    """Log lines of one kind (a key) at most LIMITS["log_lines_per_second"]; the next line that
    gets through says how many were held back."""

    def __init__(self, logger: logging.Logger, per_second: float | None = None, burst: float | None = None) -> None:
        self.logger = logger
        self._limit = RateLimit(per_second or LIMITS["log_lines_per_second"], burst or LIMITS["log_burst"], max_keys=256)
        self._held: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def log(self, level: int, key: Hashable, message: str, *args: Any) -> bool:
        """Write the line unless its kind is over the rate; returns whether it was written."""
        if not self._limit.allow(key):
            with self._lock:
                if len(self._held) < 256 or key in self._held:
                    self._held[key] = self._held.get(key, 0) + 1
            return False
        with self._lock:
            held = self._held.pop(key, 0)
        if held:
            message += f" ({held} more like it were not logged)"
        self.logger.log(level, message, *args)
        return True
