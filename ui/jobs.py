"""One job at a time from the panel: submitted over OSC (with a tag to recognise the daemon's
reply), progress and the end over OSC, the full result (excerpts of every variant) fetched by
job id over HTTP on a worker thread. While the job runs its status is also asked for now and
then, so a lost UDP datagram cannot leave the panel waiting for ever."""
from __future__ import annotations

import itertools
import json
import threading
import urllib.error
import urllib.request

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from .osc_link import OscLink

_tags = itertools.count(1)


class JobRunner(QObject):
    started = pyqtSignal(str)              # job id
    progress = pyqtSignal(int, int)        # bars done, bars total
    finished = pyqtSignal(dict)            # the full result (GET /jobs/<id>/result)
    failed = pyqtSignal(str, str)          # "error" | "cancelled", message
    _fetched = pyqtSignal(str, object)     # worker thread -> GUI thread: job id, result or error text

    def __init__(self, link: OscLink, parent: QObject | None = None, poll_ms: int = 2000) -> None:
        super().__init__(parent)
        self.link = link
        self._fetching = False
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(lambda: self.job_id and self.link.send("job/status", self.job_id))
        self.job_id: str | None = None
        self.tag: str | None = None
        self.job: dict | None = None
        link.job_queued.connect(self._queued)
        link.job_progress.connect(self._progress)
        link.job_result.connect(self._result)
        link.job_failed.connect(self._failed)
        link.request_error.connect(self._request_error)
        link.job_status.connect(self._status)
        self._fetched.connect(self._on_fetched)

    @property
    def busy(self) -> bool:
        return self.tag is not None

    def submit(self, job: dict) -> None:
        self.tag = f"panel-{next(_tags)}"
        self.job_id = None
        self._fetching = False
        self._poll.start()
        self.job = job
        self.link.submit_job(dict(job, tag=self.tag))

    def cancel(self) -> None:
        if self.job_id:
            self.link.cancel_job(self.job_id)
        elif self.tag:   # not queued yet: forget it; a late "queued" reply is then ignored
            self._end()
            self.failed.emit("cancelled", "cancelled before the daemon queued it")

    def _queued(self, job_id: str, tag: str) -> None:
        if tag == self.tag:
            self.job_id = job_id
            self.started.emit(job_id)

    def _progress(self, job_id: str, done: int, total: int, _variant: int) -> None:
        if job_id == self.job_id:
            self.progress.emit(done, total)

    def _status(self, status: dict) -> None:
        if status.get("id") != self.job_id or self.job_id is None:
            return
        state = status.get("status")
        progress = status.get("progress") or {}
        if state == "running" and progress.get("bars_total"):
            self.progress.emit(int(progress.get("bars_done", 0)), int(progress["bars_total"]))
        if state == "done":
            self._result(self.job_id, {})
        elif state in ("error", "cancelled"):
            self._failed(self.job_id, state, status.get("error") or state)

    def _result(self, job_id: str, compact: dict) -> None:
        if job_id != self.job_id or self._fetching:
            return
        self._fetching = True
        url = compact.get("url") or (f"{self.link.http_base()}jobs/{job_id}/result" if self.link.http_base() else None)
        if not url:
            self._end()
            self.failed.emit("error", "the daemon has no HTTP door to fetch the result from (start it with an --http-port)")
            return
        threading.Thread(target=self._fetch, args=(job_id, url), daemon=True).start()

    def _fetch(self, job_id: str, url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                self._fetched.emit(job_id, json.loads(response.read()))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._fetched.emit(job_id, f"could not fetch the result from {url}: {exc}")

    def _on_fetched(self, job_id: str, result: object) -> None:
        if job_id != self.job_id:
            return
        self._end()
        if isinstance(result, dict):
            self.finished.emit(result)
        else:
            self.failed.emit("error", str(result))

    def _failed(self, job_id: str, kind: str, message: str) -> None:
        if job_id == self.job_id:
            self._end()
            self.failed.emit(kind, message)

    def _request_error(self, address: str, message: str) -> None:
        if self.busy and self.job_id is None and address.endswith("job/submit"):
            self._end()
            self.failed.emit("error", message)

    def _end(self) -> None:
        self._poll.stop()
        self._fetching = False
        self.tag = None
        self.job_id = None
