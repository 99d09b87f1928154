"""'Suggest': which of the model's style prompts fit the chosen measures, one click to use one.

The measures go to the daemon's POST /suggest (a suggest job through its queue, answered when
done) on a worker thread; the top three prompts come back as buttons. Clicking one emits
`chosen` with the prompt as the settings hold it ({"period", "composer", "instrumentation"}).
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Callable

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

TOP = 3


class SuggestBox(QWidget):
    chosen = pyqtSignal(object)            # {"period", "composer", "instrumentation"}
    _answered = pyqtSignal(object)         # worker thread -> GUI thread: the answer or an error text

    def __init__(self, excerpt_source: Callable[[], dict | None], http_base: Callable[[], str | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.excerpt_source, self.http_base = excerpt_source, http_base
        self.button = QPushButton("Suggest")
        self.button.setToolTip("Which of the model's styles fit the chosen measures? (the likeliest three)")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.choices = [QPushButton("") for _ in range(TOP)]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        for k, choice in enumerate(self.choices):
            choice.setVisible(False)
            choice.clicked.connect(lambda _=False, i=k: self._use(i))
            layout.addWidget(choice)
        layout.addWidget(self.status)
        self.suggestions: list[dict] = []
        self.button.clicked.connect(self.ask)
        self._answered.connect(self._show)

    def ask(self) -> None:
        excerpt, base = self.excerpt_source(), self.http_base()
        if excerpt is None:
            self.status.setText("open a score and choose the measures first")
            return
        if not base:
            self.status.setText("the daemon has no HTTP door to ask (start it with an --http-port)")
            return
        self.button.setEnabled(False)
        self.status.setText("listening to the measures…")
        threading.Thread(target=self._post, args=(base + "suggest", excerpt), daemon=True).start()

    def _post(self, url: str, excerpt: dict) -> None:
        request = urllib.request.Request(url, data=json.dumps({"excerpt": excerpt}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                self._answered.emit(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            try:
                reason = json.loads(exc.read()).get("error")
            except (ValueError, OSError):
                reason = str(exc)
            self._answered.emit(f"the daemon could not suggest: {reason}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._answered.emit(f"could not reach the daemon at {url}: {exc}")

    def _show(self, answer: object) -> None:
        self.button.setEnabled(True)
        if not isinstance(answer, dict):
            self.status.setText(str(answer))
            return
        self.suggestions = list(((answer.get("suggestions") or {}).get("suggestions") or [])[:TOP])
        for k, choice in enumerate(self.choices):
            if k < len(self.suggestions):
                item = self.suggestions[k]
                choice.setText(f"{k + 1}. {' / '.join(item['prompt'])}")
                choice.setToolTip(f"log-likelihood {item['log_likelihood']:.1f} nats, {item['bits_per_char']:.3f} bits/char: "
                                  f"click to use this style")
            choice.setVisible(k < len(self.suggestions))
        self.status.setText("click a style to use it" if self.suggestions else "the model suggested no style")

    def _use(self, k: int) -> None:
        period, composer, instrumentation = self.suggestions[k]["prompt"]
        self.chosen.emit({"period": period, "composer": composer, "instrumentation": instrumentation})
        self.status.setText(f"style set to {period} / {composer} / {instrumentation}")

