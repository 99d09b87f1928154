"""The ONE job queue: every front door submits here, one worker thread runs jobs on the engine.

Each job ends in exactly one of done / error / cancelled, and each listener hears that end once.
A watchdog ends a job that runs past a time budget derived from its size (status error, with
the reason): it sets the job's cancel event, which the engine checks at every step and the
notation conversions once per measure (notabridge.cancel).
The queue is bounded (a full queue answers "busy"), finished jobs are kept for a while so a
client can fetch the result by id, and a listener that raises (a client that vanished) is
dropped without touching the job or the worker.
"""
from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
import traceback
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:   # compose and the engine are imported when the worker first runs a job
    from notabridge.engine.generation import Engine
    from notabridge.jobs.compose import ComposeJob, ComposeResult, Progress

log = logging.getLogger("notabridge.daemon")
BudgetFn = Callable[["ComposeJob"], float]   # the job's request -> seconds it may run

QUEUED, RUNNING, DONE, ERROR, CANCELLED = "queued", "running", "done", "error", "cancelled"
FINISHED = (DONE, ERROR, CANCELLED)


class QueueFull(RuntimeError):
    """The queue holds its maximum number of waiting jobs; the client should retry later."""


@dataclass
class Job:
    id: str
    request: ComposeJob
    source: str                       # "http", "osc", "midi": who submitted it (for logs)
    status: str = QUEUED
    bars_done: int = 0
    bars_total: int = 0
    variant: int | None = None
    partial_abc: str | None = None
    error: str | None = None
    result: ComposeResult | None = None   # once done
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    listeners: list[Callable[["Job", str], None]] = field(default_factory=list)
    overrun: str | None = None        # why the watchdog ended the job
    cache: dict[str, Any] = field(default_factory=dict)   # formatted results (e.g. MusicXML), built once

    def status_json(self) -> dict[str, Any]:
        out = {"id": self.id, "status": self.status,
               "progress": {"bars_done": self.bars_done, "bars_total": self.bars_total, "variant": self.variant},
               "error": self.error}
        if self.partial_abc is not None and self.status == RUNNING:
            out["partial_abc"] = self.partial_abc
        if self.status == DONE and self.result is not None:   # False: a variant stopped early (see warnings)
            out["complete"] = getattr(self.result, "complete", True)
        return out


# notabridge.jobs.compose.compose(job, engine, progress, cancel)
ComposeFn = Callable[["ComposeJob", "Engine", Callable[["Progress"], None] | None, threading.Event | None],
                     "ComposeResult"]


class JobQueue:
    """A bounded FIFO of jobs and the single worker thread that runs them with `compose`."""

    def __init__(self, engine: Engine, compose: ComposeFn | None = None, max_queued: int = 16,
                 keep_finished: int = 256, budget: BudgetFn | None = None) -> None:
        self.engine = engine
        self._compose = compose
        self._budget = budget or job_budget
        self.max_queued = max_queued
        self._keep_finished = keep_finished
        self._lock = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._jobs: "OrderedDict[str, Job]" = OrderedDict()
        self._running: Job | None = None
        self._stopping = False
        self.last_change = time.monotonic()   # --idle-exit reads it
        self._queue_listeners: list[Callable[[int], None]] = []
        self._counter = itertools.count(1)
        self._worker = threading.Thread(target=self._work, name="notabridge-worker", daemon=True)
        self._worker.start()

    # ---- front-door API -------------------------------------------------------------------
    def submit(self, request: ComposeJob, source: str, listener: Callable[[Job, str], None] | None = None) -> Job:
        with self._lock:
            if self._stopping:
                raise QueueFull("the daemon is shutting down")
            if len(self._waiting) >= self.max_queued:
                raise QueueFull(f"busy: {len(self._waiting)} jobs are waiting (the limit); try again when one finishes")
            job = Job(id=f"{next(self._counter)}-{secrets.token_hex(4)}", request=request, source=source)
            if listener is not None:
                job.listeners.append(listener)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._forget_old_jobs()
            self._emit(job, QUEUED)   # under the lock, so "queued" always reaches a client before progress
            self._lock.notify_all()
        self._queue_changed()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued job at once, or ask a running one to stop (within one bar)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status in FINISHED:
                return job
            job.cancel_event.set()
            if job.status != QUEUED:
                return job
            self._waiting.remove(job)
            self._finish(job, CANCELLED, error="cancelled before it started")
        self._emit(job, CANCELLED)
        self._queue_changed()
        return job

    def length(self) -> int:
        """Jobs waiting plus the one running."""
        with self._lock:
            return len(self._waiting) + (self._running is not None)

    def add_queue_listener(self, listener: Callable[[int], None]) -> None:
        with self._lock:
            self._queue_listeners.append(listener)

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        """Block until the job has finished (or timeout); returns the job."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                job = self._jobs.get(job_id)
                if job is None or job.status in FINISHED:
                    return job
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return job
                self._lock.wait(remaining)

    def stop(self, timeout: float = 30.0) -> list[Job]:
        """Refuse new jobs, cancel waiting and running ones, stop the worker; returns the jobs cancelled."""
        with self._lock:
            self._stopping = True
            cancelled = list(self._waiting)
            self._waiting.clear()
            for job in cancelled:
                job.cancel_event.set()
                self._finish(job, CANCELLED, error="the daemon stopped")
            running = self._running
            if running is not None:
                running.cancel_event.set()
            self._lock.notify_all()
        for job in cancelled:
            self._emit(job, CANCELLED)
        self._worker.join(timeout)
        if running is not None:
            cancelled.append(running)
        return [job for job in cancelled if job.status == CANCELLED]

    # ---- worker ---------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                job = self._waiting.popleft()
                job.status, job.started = RUNNING, time.monotonic()
                self._running = job
            self._emit(job, RUNNING)
            self._run(job)
            with self._lock:
                self._running = None
            self._queue_changed()

    def _run(self, job: Job) -> None:
        from notabridge.errors import Cancelled, JobError

        if self._compose is None:   # the one function every front door's jobs go through
            from notabridge.jobs.compose import compose
            self._compose = compose

        def progress(p: Progress) -> None:
            job.bars_done, job.bars_total = p.bars_done, p.bars_total
            job.variant, job.partial_abc = p.variant, p.partial_abc
            self._emit(job, "progress")

        # compose counts bars over all variants; its first progress report confirms the total
        job.bars_total = job.request.bars * job.request.variants
        outcome, error, result = DONE, None, None
        budget = self._budget(job.request)
        watchdog = threading.Timer(budget, self._overrun, args=(job, budget))
        watchdog.daemon = True
        watchdog.start()
        try:
            result = self._compose(job.request, self.engine, progress, job.cancel_event)
        except Cancelled:
            outcome, error = CANCELLED, "cancelled while running"
        except JobError as exc:
            outcome, error = ERROR, str(exc)
        except Exception as exc:  # a bug must end this job, not the worker
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            outcome, error = ERROR, f"internal error ({type(exc).__name__}: {exc}); the daemon keeps running"
        finally:
            watchdog.cancel()
        if outcome == DONE and job.cancel_event.is_set() and not job.overrun:   # a result that made it in time stays
            outcome, error = CANCELLED, "cancelled while running"
        if outcome == CANCELLED and job.overrun:
            outcome, error = ERROR, job.overrun
        with self._lock:
            self._finish(job, outcome, error=error, result=result)
        self._emit(job, outcome)

    def _overrun(self, job: Job, budget: float) -> None:
        if job.status != RUNNING or job.cancel_event.is_set():
            return
        job.overrun = (f"the job ran past its time budget of {budget:.1f} s (set by its size: bars, variants and "
                       "the excerpt's events) and was stopped; ask for fewer bars or variants, or a shorter excerpt")
        log.warning("job %s: %s", job.id, job.overrun)
        job.cancel_event.set()

    def _finish(self, job: Job, status: str, error: str | None = None, result: ComposeResult | None = None) -> None:
        # caller holds the lock
        job.status, job.error, job.result, job.finished = status, error, result, time.monotonic()
        if status == DONE:
            job.bars_done = max(job.bars_done, job.bars_total)
        self._lock.notify_all()

    def _forget_old_jobs(self) -> None:
        # caller holds the lock; finished jobs beyond the limit are dropped, oldest first
        finished = [jid for jid, j in self._jobs.items() if j.status in FINISHED]
        for jid in finished[: max(0, len(finished) - self._keep_finished)]:
            del self._jobs[jid]

    def _emit(self, job: Job, event: str) -> None:
        for listener in list(job.listeners):
            try:
                listener(job, event)
            except Exception as exc:  # the client went away: stop telling it, keep the job
                log.info("dropping a listener of job %s: %s", job.id, exc)
                if listener in job.listeners:
                    job.listeners.remove(listener)

    def _queue_changed(self) -> None:
        self.last_change = time.monotonic()
        n = self.length()
        for listener in list(self._queue_listeners):
            try:
                listener(n)
            except Exception:
                pass


def job_budget(request: ComposeJob) -> float:
    """Seconds a job may run: LIMITS job_budget_* applied to its bars, variants and excerpt events."""
    from notabridge.limits import LIMITS

    events = _events(request.excerpt) if request.midi is None else _midi_notes(request.midi)
    return (LIMITS["job_budget_base_s"] + LIMITS["job_budget_per_bar_s"] * request.bars * request.variants
            + LIMITS["job_budget_per_event_s"] * events)


def _midi_notes(data: bytes) -> int:
    """Notes of a MIDI melody (the events its excerpt will hold); 0 when unreadable (compose says why)."""
    import io

    import mido

    try:
        return sum(m.type == "note_on" for track in mido.MidiFile(file=io.BytesIO(data)).tracks for m in track)
    except Exception:   # mido raises OSError, EOFError, ValueError, KeyError on bad files
        return 0


def _events(excerpt: dict | None) -> int:
    if not isinstance(excerpt, dict):
        return 0
    return sum(len(voice.get("events", [])) for measure in excerpt.get("measures", [])
               for staff in measure.get("staves", []) for voice in staff.get("voices", []))
