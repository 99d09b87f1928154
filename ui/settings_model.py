"""The shared sampling settings as the panel sees them.

Local edits go to the daemon at once; settings pushed by the daemon (after anyone's change)
update the model. While one of our own edits is on its way, older echoes of that setting are
ignored, so dragging a slider never makes it jump back (no feedback loop), and a change made by
another client still shows up once our edit has been answered or has gone stale.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from PyQt6.QtCore import QObject, pyqtSignal

DEFAULTS: dict[str, Any] = {"temperature": 1.2, "top_k": 9, "top_p": 0.9, "seed": None,
                            "variants": 1, "bars": 4, "prompt": None, "order": "notagen", "range_rule": True}
PENDING_TIMEOUT_S = 1.5


class SettingsModel(QObject):
    changed = pyqtSignal(dict)   # the full settings after any change (local or remote)

    def __init__(self, send: Callable[[dict], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._send = send
        self.values: dict[str, Any] = dict(DEFAULTS)
        self._pending: dict[str, tuple[Any, float]] = {}

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def set(self, name: str, value: Any) -> None:
        """A change made in this panel: send it now, remember it until the daemon echoes it."""
        self.update({name: value})

    def update(self, changes: dict) -> None:
        changes = {k: v for k, v in changes.items() if self.values.get(k) != v}
        if not changes:
            return
        now = time.monotonic()
        for name, value in changes.items():
            self._pending[name] = (value, now)
        self.values.update(changes)
        self._send(changes)
        self.changed.emit(dict(self.values))

    def apply_remote(self, settings: dict) -> None:
        """Settings pushed by the daemon."""
        now = time.monotonic()
        accepted = {}
        for name, value in settings.items():
            pending = self._pending.get(name)
            if pending is not None:
                wanted, since = pending
                if value == wanted or now - since > PENDING_TIMEOUT_S:
                    del self._pending[name]
                else:
                    continue   # an echo of an earlier edit of ours: the newer one is on its way
            accepted[name] = value
        if any(self.values.get(k) != v for k, v in accepted.items()):
            self.values.update(accepted)
            self.changed.emit(dict(self.values))
