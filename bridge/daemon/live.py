"""The live accompanist: the DAW plays a melody, the door answers bar by bar on the DAW's clock.

Armed (OSC `/notabridge/live/start`, or `notabridge serve --midi-live MODE`), the MIDI door
follows the DAW's clock (notabridge.daemon.live_clock). A take runs from MIDI Start (or
Continue) to Stop. Bars are counted from the song's start in the meter of the live settings;
bars before the first note are not read, and a first note after its bar line makes an upbeat.

Bar b counts as played `lookahead` sixteenths before its end (its "cut"): a note still held
then is read as lasting to the bar line. With `lookahead` "auto" (the default) the door picks,
at each bar line, the shortest lookahead that leaves AUTO_SAFETY times the engine's slowest recent
bar (of the last 8, or the warm-up bar) at the tempo the clock says: the model
hears as much of each bar as the machine allows, and a slow model or a loaded machine moves the
cut earlier instead of making bars late. At the cut the worker thread
- writes down bar b-1 as the model will read it from now on (the melody as played, whole now,
  and the accompaniment that sounded in it),
- `forward`: has the engine write bar b+1 with every voice (notabridge.engine.live_session); the
  melody of that line is the model's guess and is never played;
  `echo`: has the engine accompany bar b as it was played;
- hands the accompaniment to the clock thread, which plays it from the downbeat of bar b+1
  (the clock thread sends every note in the same call as the clock pulse it is due on, so
  tempo changes are followed and nothing is late by more than the time to send it).
A bar not ready before its downbeat is skipped (never played late) and counted; its writing is
cancelled so the next bar gets the engine. Stop silences what sounds at once, cancels the
writing, and saves the take (MIDI + MusicXML, notabridge.daemon.live_take) in the take folder.
"""
from __future__ import annotations

import logging
import queue
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from notabridge.daemon.live_clock import CLOCKS_PER_QUARTER, TICKS_PER_SIXTEENTH, LiveClock
from notabridge.daemon.live_take import Take
from notabridge.errors import Cancelled, JobError

log = logging.getLogger("notabridge.live")
MODES = ("forward", "echo")
KEYS_HELP = 'a key such as "G", "Bb", "F#m", "Ebm", or "auto" (estimated from the first bars played)'
SWITCH_INTERVAL = 0.001   # the clock thread must get the interpreter back within ~1 ms of a pulse
MAX_VOICES = 8
AUTO_SAFETY = 3.0         # auto lookahead: this many times the engine's slowest recent bar ...
AUTO_SLACK = 0.03         # ... plus this (seconds: the worker's own bookkeeping per bar)


@dataclass
class LiveOptions:
    mode: str = "forward"
    meter: str = "4/4"
    key: str = "auto"
    voices: int = 3
    lookahead: int | str = "auto"   # sixteenths before a bar's end at which it counts as played
    take_bars: int = 64         # nominal take length the model is told (`[r:i/j]`)


def check_option(name: str, value: Any, meter: str | None = None) -> Any:
    """The normalised value of a live option, or JobError saying what is allowed."""
    from notabridge.daemon.midi_ports import parse_meter

    if name == "mode":
        if value not in MODES:
            raise JobError(f"live mode must be one of {', '.join(MODES)}, not {value!r}")
        return value
    if name == "meter":
        try:
            parse_meter(str(value))
        except ValueError as exc:
            raise JobError(str(exc)) from None
        return str(value)
    if name == "key":
        if value == "auto":
            return value
        try:
            key_of(str(value))
        except ValueError:
            raise JobError(f"key must be {KEYS_HELP}, not {value!r}") from None
        return str(value)
    if name == "lookahead" and value == "auto":
        return value
    if name in ("voices", "lookahead", "take_bars"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise JobError(f"{name} must be a whole number, not {value!r}")
        value = int(value)
        if name == "voices" and not 1 <= value <= MAX_VOICES:
            raise JobError(f"voices must be between 1 and {MAX_VOICES}")
        if name == "take_bars" and not 2 <= value <= 10_000:
            raise JobError("take_bars must be between 2 and 10000")
        if name == "lookahead":
            sixteenths = bar_ticks(meter or "4/4") // TICKS_PER_SIXTEENTH
            if not 1 <= value <= sixteenths - 2:
                raise JobError(f"lookahead must be \"auto\" or between 1 and {sixteenths - 2} sixteenths "
                               f"in {meter or '4/4'}")
        return value
    raise JobError(f"unknown live option {name!r}; options: {', '.join(LiveOptions.__dataclass_fields__)}")


def bar_ticks(meter: str) -> int:
    from notabridge.daemon.midi_ports import parse_meter

    numerator, denominator = parse_meter(meter)
    return CLOCKS_PER_QUARTER * 4 * numerator // denominator


def key_of(text: str) -> tuple[int, str]:
    """"G" -> (1, "major"), "F#m" -> (3, "minor"); ValueError otherwise."""
    import re

    from notabridge.notation.abc_fast import Unsupported, key_fifths

    match = re.fullmatch(r"[A-G][#b]?([A-Za-z]*)", text.strip())
    if match is None:
        raise ValueError(text)
    mode = match.group(1).lower()
    try:
        fifths = key_fifths(text.strip())
    except Unsupported:
        raise ValueError(text) from None
    return fifths, "minor" if mode in ("m", "min", "minor", "aeo") else "major"


@dataclass
class _Cut:
    take: Take
    bar: int                 # the bar that was just played (up to its cut)
    tick: int                # the cut's tick
    downbeat: int            # where the accompaniment starts sounding: bar + 1
    cancel: threading.Event = field(default_factory=threading.Event)
    delivered: bool = False


@dataclass
class _Save:
    take: Take
    until: float


@dataclass
class LiveStats:
    bars_ready: int = 0
    late: int = 0
    failed: int = 0
    margins: list[float] = field(default_factory=list)       # seconds before each downbeat, bars in time
    engine_seconds: list[float] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)          # invalid tries before each bar in time
    late_bars: list[int] = field(default_factory=list)


class LiveDoor:
    """Owned by the MIDI door (notabridge.daemon.midi_ports.MidiBridge); the clock thread calls
    `on_message`, the worker thread runs the engine, OSC calls `arm`, `disarm`, `set`, `state`."""

    def __init__(self, daemon: Any, outport: Any, save_dir: Path | None = None,
                 clock: Callable[[], float] = time.monotonic, options: LiveOptions | None = None,
                 session_factory: Callable[..., Any] | None = None) -> None:
        self.daemon = daemon
        self.outport = outport
        self.clock = clock
        self.options = options or LiveOptions()
        self.folder_chosen = save_dir is not None
        self.folder = Path(save_dir) if save_dir is not None else None
        self._session_factory = session_factory
        self._lock = threading.RLock()
        self._clock = LiveClock()
        self.armed = False
        self.take: Take | None = None
        self.stats = LiveStats()
        self.last_take: dict | None = None
        self.error: str | None = None
        self.key_used: str | None = None
        self.last_lines: list[str] = []               # the last take's bars as the model read them
        self.last_key: tuple[int, str] | None = None
        self._schedule: dict[int, list[Any]] = {}
        self._sounding: set[tuple[int, int]] = set()
        self._tied: dict[tuple[int, int], int] = {}      # (channel, pitch) -> tick of its pending note-off
        self._pending: _Cut | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._outstanding = 0                # jobs submitted and not finished
        self._idle = threading.Event()
        self._idle.set()
        self._listeners: list[Callable[[dict], None]] = []
        self._worker: threading.Thread | None = None
        self._session = None
        self._session_header: str | None = None
        self._switch_interval: float | None = None
        self._cut_bar: int | None = None       # the bar whose cut is decided, and that cut's tick
        self._cut_tick: int | None = None
        self._lookahead_used: int | None = None
        self._warm_seconds: float | None = None
        self._ready_downbeat: int | None = None   # the tick the last answer made ready sounds from

    # ---- control (OSC, CLI) -----------------------------------------------------------------
    def arm(self, mode: str | None = None) -> dict:
        if self.outport is None:
            raise JobError("live mode needs a MIDI output: start the daemon with --midi-out NAME")
        with self._lock:
            if mode is not None:
                self.options.mode = check_option("mode", mode)
            if not self.armed:
                self.armed = True
                if self.folder is None:   # never a path from the network: the daemon makes one
                    self.folder = Path(tempfile.mkdtemp(prefix="notabridge-live-"))
                self._switch_interval = sys.getswitchinterval()
                sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
                if self._worker is None:
                    self._worker = threading.Thread(target=self._work, name="notabridge-live", daemon=True)
                    self._worker.start()
                self._submit("warm")
            self._announce()
        return self.state()

    def disarm(self) -> dict:
        with self._lock:
            if self.take is not None:
                self._end_take()
            self.armed = False
            if self._switch_interval is not None:
                sys.setswitchinterval(self._switch_interval)
                self._switch_interval = None
            self._announce()
        return self.state()

    def close(self) -> None:
        self.disarm()
        self._jobs.put(None)

    def set(self, name: str, value: Any) -> dict:
        with self._lock:
            value = check_option(name, value, self.options.meter)
            if name == "meter" and self.options.lookahead != "auto":   # a lookahead that no longer fits is cut to fit
                most = bar_ticks(value) // TICKS_PER_SIXTEENTH - 2
                self.options.lookahead = min(self.options.lookahead, most)
            setattr(self.options, name, value)
            if self.take is not None and name in ("meter", "key", "voices", "take_bars"):
                note = f"{name} applies from the next take (a take keeps its bars and voices)"
                self.error = note
            self._announce()
        return self.state()

    def add_listener(self, listener: Callable[[dict], None]) -> None:
        self._listeners.append(listener)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once the worker has nothing to do (tests and the benchmark wait on it)."""
        return self._idle.wait(timeout)

    def state(self) -> dict:
        with self._lock:
            s = self.stats
            margins = sorted(s.margins)
            ticks = self._bar_ticks()
            pending, take = self._pending, self.take
            return {
                "armed": self.armed, "running": self.take is not None and self._clock.running,
                **asdict(self.options),
                "key_used": self.key_used,
                "bar": (self._clock.tick // self._bar_ticks() + 1) if self._clock.tick is not None else None,
                "tempo_bpm": round(self._clock.bpm, 2),
                "bars_ready": s.bars_ready, "late": s.late, "failed": s.failed,
                "late_bars": [b + 1 for b in s.late_bars[-16:]],
                "margin_ms": round(s.margins[-1] * 1000, 1) if s.margins else None,
                "margin_p50_ms": round(statistics.median(margins) * 1000, 1) if margins else None,
                "margin_min_ms": round(margins[0] * 1000, 1) if margins else None,
                "engine_ms_last": round(s.engine_seconds[-1] * 1000, 1) if s.engine_seconds else None,
                "lookahead_used": self._lookahead_used,
                # the DAW bars the answers sound in: the one being written now, the last one ready
                "writing_bar": pending.downbeat // ticks + 1 if pending is not None and not pending.delivered else None,
                "ready_bar": self._ready_downbeat // ticks + 1 if self._ready_downbeat is not None else None,
                "take": None if take is None else {
                    "from_bar": take.start_tick // take.bar_ticks + 1,
                    "first_bar": take.first_bar + 1 if take.first_bar is not None else None,
                    "meter": take.meter, "voices": take.voices},
                "folder": str(self.folder) if self.folder else None,
                "folder_is_temporary": not self.folder_chosen,
                "last_take": self.last_take, "error": self.error,
            }

    # ---- the clock thread -------------------------------------------------------------------
    def on_message(self, message: Any) -> None:
        kind = message.type
        if kind == "clock":
            self._pulse()
        elif kind in ("note_on", "note_off"):
            with self._lock:
                if self.take is None:
                    return
                position = self._clock.position(self.clock())
                if kind == "note_on" and message.velocity > 0:
                    self.take.note_on(position, message.note, message.velocity)
                else:
                    self.take.note_off(position, message.note)
        elif kind == "start":
            with self._lock:
                self._clock.start()
                self._new_take()
        elif kind == "continue":
            with self._lock:
                self._clock.resume()
                self._new_take()
        elif kind == "stop":
            with self._lock:
                self._clock.stop()
                self._end_take()
        elif kind == "songpos":
            with self._lock:
                if self.take is not None:   # a jump while playing ends the take; the next one starts there
                    self._end_take()
                    self._clock.song_position(message.pos)
                    self._new_take()
                else:
                    self._clock.song_position(message.pos)

    def _pulse(self) -> None:
        now = self.clock()
        with self._lock:
            tick = self._clock.pulse(now)
            if tick is None or not self.armed:
                return
            for message in self._schedule.pop(tick, ()):   # first what is due: it is the timing that counts
                self._send(tick, message)
            take = self.take
            if take is None:
                return
            take.pulse(now)
            pending = self._pending
            if pending is not None and not pending.delivered and tick >= pending.downbeat:
                pending.cancel.set()   # not ready before its downbeat: skipped, never played late
                self._pending = None
                self.stats.late += 1
                self.stats.late_bars.append(pending.downbeat // self._bar_ticks())
                self._notify_later()
            ticks = self._bar_ticks()
            bar = tick // ticks
            if bar != self._cut_bar:   # at each bar line: where this bar will be cut
                self._cut_bar = bar
                self._lookahead_used = self._lookahead_sixteenths(ticks)
                self._cut_tick = (bar + 1) * ticks - self._lookahead_used * TICKS_PER_SIXTEENTH
            if tick == self._cut_tick and tick >= take.start_tick:
                if take.first_bar is not None or take.find_first_bar(tick + 1) is not None:
                    if bar >= take.first_bar:
                        if self._pending is not None:
                            self._pending.cancel.set()
                        cut = _Cut(take, bar, tick, (bar + 1) * ticks)
                        self._pending = cut
                        self._submit(cut)

    def _lookahead_sixteenths(self, ticks: int) -> int:
        most = ticks // TICKS_PER_SIXTEENTH - 2
        if self.options.lookahead != "auto":
            return min(int(self.options.lookahead), most)
        recent = self.stats.engine_seconds[-8:] or ([self._warm_seconds] if self._warm_seconds else [])
        return auto_lookahead(recent, self._clock.seconds_per_tick * TICKS_PER_SIXTEENTH, most)

    def _send(self, tick: int, message: Any) -> None:
        try:
            self.outport.send(message)
        except Exception as exc:   # a port that went away: said once, the door keeps its clock
            self.error = f"cannot send to the MIDI output: {exc}"
            return
        key = (message.channel, message.note)
        if message.type == "note_on" and message.velocity > 0:
            self._sounding.add(key)
        else:
            self._sounding.discard(key)
        if self.take is not None:
            self.take.sent.append((tick, message))

    def _new_take(self) -> None:
        if self.take is not None:
            self._end_take()
        if not self.armed:
            return
        self.take = Take(start_tick=self._clock.next_tick, bar_ticks=bar_ticks(self.options.meter),
                         meter=self.options.meter, voices=self.options.voices)
        self._cut_bar = self._cut_tick = None
        self.stats = LiveStats()
        self.error = None
        self._tied = {}
        self._ready_downbeat = None
        self._notify_later()

    def _end_take(self) -> None:
        """Silence at once; the worker saves the take after the writing in progress stops."""
        import mido

        take, self.take = self.take, None
        if self._pending is not None:
            self._pending.cancel.set()
            self._pending = None
        self._schedule.clear()
        self._tied.clear()
        for channel, pitch in sorted(self._sounding):
            message = mido.Message("note_off", channel=channel, note=pitch)
            try:
                self.outport.send(message)
            except Exception:
                pass
            if take is not None:
                take.sent.append((self._clock.tick if self._clock.tick is not None else take.start_tick, message))
        self._sounding.clear()
        if take is not None:
            self._notify_later()   # stopped at once; the saved take is announced once written
            self._submit(_Save(take, self._clock.position(self.clock())))

    def _bar_ticks(self) -> int:
        return self.take.bar_ticks if self.take is not None else bar_ticks(self.options.meter)

    def _submit(self, job: Any) -> None:
        with self._lock:
            self._outstanding += 1
            self._idle.clear()
        self._jobs.put(job)

    def _done(self) -> None:
        with self._lock:
            self._outstanding -= 1
            if self._outstanding == 0:
                self._idle.set()

    def _notify_later(self) -> None:
        """Listeners hear the state from the worker, never from the clock thread."""
        self._submit("notify")

    def _announce(self) -> None:
        """Listeners hear a change of the controls (arm, disarm, set) too, once the worker runs."""
        if self._worker is not None and self._listeners:
            self._notify_later()

    # ---- the worker thread ------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                if job == "warm":
                    self._warm()
                elif job == "notify":
                    self._notify()
                elif isinstance(job, _Cut):
                    self._write(job)
                elif isinstance(job, _Save):
                    self._save(job)
            except Exception as exc:   # the door keeps running; the state says what went wrong
                log.exception("live door")
                with self._lock:
                    self.error = f"{type(exc).__name__}: {exc}"
            self._done()

    def _warm(self) -> None:
        """Load the notation libraries and run the model once, so the first bar is not slow."""
        fifths, mode = key_of(self.options.key) if self.options.key != "auto" else (0, "major")
        session = self._session_for(self._header(fifths, mode, self.options))
        for _ in range(2):   # the first run pays for loading; the second is what a bar costs
            try:
                self._warm_seconds = session.write_bar([], None, self._sampling(0)).seconds
            except JobError:
                pass

    def _header(self, fifths: int, mode: str, options: LiveOptions) -> str:
        from notabridge.daemon.midi_ports import parse_meter
        from notabridge.notation.live_bars import live_header

        prompt = self.daemon.settings.snapshot().get("prompt")
        prompt = tuple(prompt[k] for k in ("period", "composer", "instrumentation")) if prompt else None
        if prompt is None:   # as `notabridge accompany` chooses: the melody is read as a chorale's soprano
            from notabridge.jobs.compose import default_prompt

            prompt = default_prompt((getattr(self.daemon.engine, "info", {}) or {}).get("prompts") or [])
        return live_header(parse_meter(options.meter), fifths, mode, options.voices, prompt)

    def _session_for(self, header: str):
        if self._session is None or self._session_header != header:
            factory = self._session_factory
            if factory is None:
                from notabridge.engine.live_session import LiveSession as factory
            self._session = factory(self.daemon.engine, header, take_bars=self.options.take_bars)
            self._session_header = header
        return self._session

    def _sampling(self, bar: int):
        from notabridge.engine.sampling import Sampling

        s = self.daemon.settings.snapshot()
        seed = None if s.get("seed") is None else int(s["seed"]) + bar
        return Sampling(temperature=s["temperature"], top_k=s["top_k"], top_p=s["top_p"], seed=seed,
                        order=s.get("order", "notagen"))

    def _write(self, cut: _Cut) -> None:
        from notabridge.abc.bar_check import parse_line
        from notabridge.engine.live_session import melody_segment

        if cut.cancel.is_set():
            return
        take = cut.take
        if take.header is None:
            self._fix_take_settings(take, cut)
        with self._lock:
            snapshot = take.snapshot()
        # bars before this one are whole now: write them down as the model reads them from now on
        for bar in range(take.first_bar, cut.bar):
            if bar not in take.lines:
                line = snapshot.line(bar, cut.tick)
                with self._lock:
                    take.lines[bar] = line
        current = snapshot.line(cut.bar, cut.tick)
        context = [take.lines[b] for b in range(take.first_bar, cut.bar)]
        if self.options.mode == "echo":
            if cut.bar == take.first_bar and take.pickup:   # the upbeat is the melody's alone, as offline
                with self._lock:
                    cut.delivered = True
                    if self._pending is cut:
                        self._pending = None
                return
            _, segments = parse_line(current)
            given = next((s for s in segments if s.voice == "1"), None) or melody_segment("1", _rest(take))
            target = cut.bar
        else:
            context, given, target = context + [current], None, cut.bar + 1
        session = self._session_for(take.header)
        try:
            result = session.write_bar(context, given, self._sampling(target), cut.cancel)
        except Cancelled:
            return
        except JobError as exc:
            with self._lock:
                if self._pending is cut:
                    self._pending = None
                self.stats.failed += 1
                self.error = f"bar {target + 1}: {exc}"
            self._notify()
            return
        self._deliver(cut, target, result)
        self._notify()

    def _fix_take_settings(self, take: Take, cut: _Cut) -> None:
        """At the take's first bar: its meter, voices, key (estimated if "auto") and header."""
        with self._lock:
            options = LiveOptions(**asdict(self.options))
            snapshot = take.snapshot()
        if options.key == "auto":
            from notabridge.notation.midi_clip import ClipNote, estimate_key

            notes = [ClipNote(0, max(1, round((n.end - n.start) * 480)), n.pitch)
                     for bar in range(take.first_bar, cut.bar + 1) for n in snapshot.bar_melody(bar, cut.tick)]
            fifths, mode = estimate_key(notes, 480) if notes else (0, "major")
        else:
            fifths, mode = key_of(options.key)
        options.meter, options.voices = take.meter, take.voices   # fixed at Start
        header = self._header(fifths, mode, options)
        with self._lock:
            take.key, take.header = (fifths, mode), header
            self.key_used = _key_name(fifths, mode)

    def _deliver(self, cut: _Cut, target: int, result: Any) -> None:
        """Schedule the accompaniment if its downbeat has not come yet (else it was counted late)."""
        from notabridge.abc.bar_check import parse_line
        from notabridge.notation.live_bars import VoiceReader, bar_notes

        take = cut.take
        fifths, _ = take.key
        _, segments = parse_line(result.line)
        voices = [s for s in segments if s.voice != "1"]
        readers = {s.voice: VoiceReader(fifths, take.meter) for s in voices}
        notes = bar_notes(result.line, readers)
        channels = accompaniment_channels(take.voices)
        voice_names = [str(v) for v in range(2, take.voices + 2)]
        import mido

        with self._lock:
            if cut.cancel.is_set() or self.take is not take or self._pending is not cut:
                return
            now = self.clock()
            margin = self._clock.seconds_until(cut.downbeat, now)
            cut.delivered = True
            self._pending = None
            self._ready_downbeat = cut.downbeat
            self.stats.bars_ready += 1
            self.stats.margins.append(margin)
            self.stats.engine_seconds.append(result.seconds)
            self.stats.rejected.append(result.rejected)
            take.accompaniment[target] = "".join(f"[V:{s.voice}]{s.content}{s.barline or '|'}" for s in voices)
            bar_end = cut.downbeat + take.bar_ticks
            tied, self._tied = self._tied, {}
            for channel, voice in zip(channels, voice_names):
                for n in notes.get(voice, []):
                    on = cut.downbeat + round(n.start * CLOCKS_PER_QUARTER)
                    off = max(on + 1, min(bar_end, cut.downbeat + round(n.end * CLOCKS_PER_QUARTER)))
                    key = (channel, n.pitch)
                    if n.start == 0 and tied.get(key) == cut.downbeat and self._unschedule(cut.downbeat, key):
                        pass   # the tied note sounds on: no release, no new attack
                    else:
                        self._at(on, mido.Message("note_on", channel=channel, note=n.pitch, velocity=72))
                    self._at(off, mido.Message("note_off", channel=channel, note=n.pitch))
                    if n.tie_out and off == bar_end:
                        self._tied[key] = bar_end

    def _at(self, tick: int, message: Any) -> None:
        events = self._schedule.setdefault(tick, [])
        if message.type == "note_off":
            events.insert(0, message)   # releases first, so a repeated note is not cut by its own release
        else:
            events.append(message)

    def _unschedule(self, tick: int, key: tuple[int, int]) -> bool:
        events = self._schedule.get(tick, [])
        for i, m in enumerate(events):
            if m.type == "note_off" and (m.channel, m.note) == key:
                del events[i]
                return True
        return False

    def _save(self, job: _Save) -> None:
        from notabridge.daemon.midi_ports import parse_meter

        take = job.take
        if take.header is None:   # no bar was read: nothing worth a file
            with self._lock:
                self.last_take = {"error": "nothing was played in this take: nothing saved"}
            self._notify()
            return
        with self._lock:
            snapshot = take.snapshot()
        ends = [n.end if n.end is not None else n.start for n in snapshot.melody]
        last_bar = int(max([job.until - 1e-6] + ends) // take.bar_ticks)
        for bar in range(take.first_bar, last_bar + 1):
            if bar not in take.lines:
                take.lines[bar] = snapshot.line(bar, max(job.until, (bar + 1) * take.bar_ticks))
        names = [f"NotaBridge voice {v}" for v in range(2, take.voices + 2)]
        midi_path, xml_path, problem = take.save(self.folder, take.header, parse_meter(take.meter),
                                                 accompaniment_channels(take.voices), names)
        with self._lock:
            self.last_lines, self.last_key = take.ordered_lines(), take.key
            self.last_take = {"midi": str(midi_path), "musicxml": str(xml_path) if xml_path else None,
                              "first_bar": take.first_bar + 1, "bars": len(take.lines), "late": self.stats.late}
            if problem:
                self.last_take["musicxml_error"] = problem
        self._notify()

    def _notify(self) -> None:
        state = self.state()
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                pass


def auto_lookahead(engine_seconds: list[float], seconds_per_sixteenth: float, most: int) -> int:
    """Sixteenths of lookahead for AUTO_SAFETY x the slowest of the engine's recent bars, plus
    AUTO_SLACK; between 1 and `most`. (On a machine shared with other work one bar in ten or so
    takes 2-4 times the median: measured here under a load of 5 on 2 cores.)"""
    slow = max(engine_seconds) if engine_seconds else 0.25
    needed = (AUTO_SAFETY * slow + AUTO_SLACK) / seconds_per_sixteenth
    return max(1, min(most, -int(-needed // 1)))


def accompaniment_channels(voices: int) -> list[int]:
    """MIDI channels of the accompaniment voices: 2, 3, 4, ... (1-based), never 10 (drums)."""
    return [c for c in range(1, 16) if c != 9][:voices]


def _rest(take: Take) -> str:
    from fractions import Fraction

    units = Fraction(take.bar_ticks, CLOCKS_PER_QUARTER) * 2
    return "z" + (str(units.numerator) if units.denominator == 1 else f"{units.numerator}/{units.denominator}")


def _key_name(fifths: int, mode: str) -> str:
    majors = "Cb Gb Db Ab Eb Bb F C G D A E B F# C#".split()
    minors = "Ab Eb Bb F C G D A E B F# C# G# D# A#".split()
    return (minors if mode == "minor" else majors)[fifths + 7] + ("m" if mode == "minor" else "")
