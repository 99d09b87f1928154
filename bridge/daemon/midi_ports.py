"""MIDI front door (mido): record what the DAW plays between MIDI start and stop (or the OSC
triggers), have the model write an accompaniment for it, and play that to the output port and/or
write it as a .mid file in the folder named on the command line. Armed for live use
(notabridge.daemon.live), the door instead answers bar by bar while the DAW plays.

The recording becomes a standard MIDI file (tempo from the DAW's MIDI clock when it sends one),
and from there the same path as a clip a DAW sends: a MIDI accompany job through the daemon's own
door (notabridge.jobs.midi_melody), whose result is that file with the accompaniment tracks added.
"""
from __future__ import annotations

import base64
import io
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notabridge.daemon.app import Daemon
    from notabridge.daemon.queue import Job

log = logging.getLogger("notabridge.midi")
TICKS_PER_BEAT = 480
DEFAULT_BPM = 120.0
CLOCKS_PER_BEAT = 24
MAX_RECORDED_MESSAGES = 100_000


class MidiUnavailable(RuntimeError):
    """No MIDI service or no such port; the daemon says so once and keeps serving OSC and HTTP."""


class MidiRecorder:
    """Timestamps of incoming messages between start and stop; the MIDI clock gives the tempo."""

    def __init__(self, default_bpm: float = DEFAULT_BPM) -> None:
        self.default_bpm = default_bpm
        self._lock = threading.Lock()
        self.recording = False
        self._start = 0.0
        self._events: list[tuple[float, Any]] = []
        self._clocks: list[float] = []

    def start(self, now: float | None = None) -> None:
        with self._lock:
            self.recording, self._start = True, time.monotonic() if now is None else now
            self._events, self._clocks = [], []

    def feed(self, message: Any, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if not self.recording:
                return
            if message.type == "clock":
                self._clocks.append(now)
            elif message.type in ("note_on", "note_off") and len(self._events) < MAX_RECORDED_MESSAGES:
                self._events.append((now - self._start, message))

    def stop(self) -> tuple[list[tuple[float, Any]], float]:
        """End the take; returns (seconds from start, message) pairs and the tempo in bpm."""
        with self._lock:
            self.recording = False
            return list(self._events), self._tempo()

    def _tempo(self) -> float:
        if len(self._clocks) < CLOCKS_PER_BEAT + 1:
            return self.default_bpm
        seconds_per_clock = (self._clocks[-1] - self._clocks[0]) / (len(self._clocks) - 1)
        bpm = 60.0 / (seconds_per_clock * CLOCKS_PER_BEAT) if seconds_per_clock > 0 else self.default_bpm
        return bpm if 20 <= bpm <= 400 else self.default_bpm


def take_to_midi(events: list[tuple[float, Any]], bpm: float, time_signature: tuple[int, int] = (4, 4)) -> Any:
    """A one-track mido.MidiFile of the take, time 0 = the MIDI start."""
    import mido

    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="Recorded melody", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=time_signature[0], denominator=time_signature[1], time=0))
    ticks_per_second = TICKS_PER_BEAT * bpm / 60.0
    now = 0
    for seconds, message in sorted(events, key=lambda e: e[0]):
        tick = max(now, round(seconds * ticks_per_second))
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(track)
    return midi


def parse_meter(text: str) -> tuple[int, int]:
    """"3/4" -> (3, 4), "2+3/8" -> (5, 8): the MIDI time signature of a meter an excerpt may have
    (notabridge.notation.bounds); raises ValueError with a readable message."""
    from notabridge.notation.bounds import time_signature_problem
    from notabridge.notation.excerpt_base import time_parts

    problem = time_signature_problem(text, "meter", sep=" ")
    if problem:
        raise ValueError(problem)
    return time_parts(text)


class MidiBridge:
    """Owns the ports; turns a take into an accompany job and its result into MIDI."""

    def __init__(self, daemon: Daemon, in_name: str | None, out_name: str | None, save_dir: str | None = None,
                 backend: Any = None, voices: int = 3, meter: str = "4/4", live: str | None = None,
                 live_options: dict | None = None) -> None:
        import mido

        self.daemon = daemon
        self.backend = mido.Backend(backend, load=True) if isinstance(backend, str) else (backend or mido.backend)
        self.in_name, self.out_name, self.voices = in_name, out_name, voices
        self.time_signature = parse_meter(meter)
        self.save_dir = Path(save_dir) if save_dir else None
        self.recorder = MidiRecorder()
        self.inport = self.outport = None
        self._player: threading.Thread | None = None
        self._stop_playing = threading.Event()
        self.last_file: Path | None = None
        self.last_job_id: str | None = None
        self.last_error: str | None = None
        self.live = None                       # notabridge.daemon.live.LiveDoor, once the ports are open
        self._live_mode = live
        self._live_options = {"meter": meter, "voices": voices, **(live_options or {})}

    def start(self) -> None:
        try:
            if self.in_name:
                self.inport = self.backend.open_input(self.in_name, callback=self._on_message)
            if self.out_name:
                self.outport = self.backend.open_output(self.out_name)
        except Exception as exc:   # ImportError (no rtmidi), rtmidi's SystemError (no ALSA sequencer), unknown port
            self.stop()
            raise MidiUnavailable(_explain(exc, self.backend)) from None
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
        from notabridge.daemon.live import LiveDoor, LiveOptions, check_option
        from notabridge.errors import JobError

        try:
            options = LiveOptions()
            for name, value in self._live_options.items():
                setattr(options, name, check_option(name, value, options.meter))
            self.live = LiveDoor(self.daemon, self.outport, self.save_dir, options=options)
            if self._live_mode:
                self.live.arm(self._live_mode)
        except JobError as exc:
            self.stop()
            raise MidiUnavailable(f"live mode: {exc}") from None

    def describe(self) -> str:
        live = (f", live {self.live.options.mode}, takes in {self.live.folder}"
                if self.live is not None and self.live.armed else "")
        return (f"in {self.in_name or '-'}, out {self.out_name or '-'}"
                + (f", saving to {self.save_dir}" if self.save_dir else "") + live)

    def stop(self) -> None:
        if self.live is not None:
            self.live.close()
        self._stop_playing.set()
        for port in (self.inport, self.outport):
            if port is not None:
                try:
                    port.close()
                except Exception:
                    pass

    # ---- recording ------------------------------------------------------------------------
    def _on_message(self, message: Any) -> None:
        if self.live is not None and self.live.armed:
            self.live.on_message(message)
            return
        if message.type == "start":
            self.start_recording()
        elif message.type == "stop":
            self.stop_recording()
        else:
            self.recorder.feed(message)

    def start_recording(self) -> str:
        self._stop_playing.set()
        self.recorder.start()
        return "recording"

    def stop_recording(self) -> str:
        if not self.recorder.recording:
            return "not recording"
        events, bpm = self.recorder.stop()
        if not any(m.type == "note_on" and m.velocity > 0 for _, m in events):
            return "nothing was played between start and stop"
        try:
            midi = take_to_midi(events, bpm, self.time_signature)
            self._submit(midi)
        except Exception as exc:   # an unusable take is reported, never fatal
            self.last_error = str(exc)
            log.warning("MIDI take not used: %s", exc)
            return f"error: {exc}"
        return f"generating accompaniment (job {self.last_job_id})"

    def _submit(self, midi: Any) -> None:
        data = io.BytesIO()
        midi.save(file=data)
        request = {"mode": "accompany", "midi": base64.b64encode(data.getvalue()).decode("ascii"), "voices": self.voices}
        job = self.daemon.submit(request, source="midi", listener=lambda job, event: self._on_job(job, event, midi))
        self.last_job_id = job.id

    def _on_job(self, job: Job, event: str, midi: Any) -> None:
        if event in ("error", "cancelled"):
            self.last_error = job.error
            log.warning("MIDI accompaniment job %s: %s", job.id, job.error)
        if event != "done" or job.result is None:
            return
        if not job.result.variants:
            self.last_error = "; ".join(job.result.warnings) or "the model wrote no accompaniment"
            log.warning("MIDI accompaniment job %s: %s", job.id, self.last_error)
            return
        import mido

        result = mido.MidiFile(file=io.BytesIO(job.result.variants[0]["midi"]))   # the take + the accompaniment
        if self.save_dir is not None:
            # the daemon names the file; no client ever supplies a path
            path = self.save_dir / f"accompaniment-{datetime.now():%Y%m%d-%H%M%S}-{job.id}.mid"
            result.save(str(path))
            self.last_file = path
        if self.outport is not None:
            new_tracks = result.tracks[len(midi.tracks):]
            self._play(result, keep=set(map(id, new_tracks)))

    def _play(self, midi: Any, keep: set[int]) -> None:
        """Play only the accompaniment tracks (the DAW already has the melody), on a thread."""
        import mido

        playback = mido.MidiFile(ticks_per_beat=midi.ticks_per_beat, type=1)
        playback.tracks = [t if id(t) in keep else _meta_only(t) for t in midi.tracks]
        self._stop_playing = threading.Event()
        stop = self._stop_playing

        def play() -> None:
            for message in playback.play():
                if stop.is_set():
                    break
                self.outport.send(message)
            if stop.is_set():
                self.outport.reset()   # all notes off

        self._player = threading.Thread(target=play, name="notabridge-midi-play", daemon=True)
        self._player.start()


def _meta_only(track: Any) -> Any:
    """The track's tempo and other meta messages at their original ticks, without its notes."""
    import mido

    out, pending = mido.MidiTrack(), 0
    for message in track:
        pending += message.time
        if message.is_meta:
            out.append(message.copy(time=pending))
            pending = 0
    return out


def _explain(exc: Exception, backend: Any) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ImportError):
        return (f"no MIDI service: the MIDI backend python-rtmidi is not installed ({text}); install the "
                "'midi' extra: pip install -e '.[midi]' in a checkout (pip install 'notabridge[midi]' otherwise)")
    if "ALSA" in text or "sequencer" in text.lower() or isinstance(exc, SystemError):
        return f"no MIDI service on this system ({text}); on Linux the ALSA sequencer (/dev/snd/seq) is needed"
    try:
        names = sorted(set(backend.get_input_names()) | set(backend.get_output_names()))
    except Exception:
        names = []
    return f"cannot open the MIDI port ({text}); ports here: {', '.join(names) or 'none'}"
