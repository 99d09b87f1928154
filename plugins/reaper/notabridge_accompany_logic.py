"""What the NotaBridge REAPER script does, independent of REAPER (see notabridge_reaper_api.py).

1. Read the selected MIDI item's notes and the meter and tempo where it starts.
2. Write them as a Standard MIDI File counted from the bar line at or before the item's start.
3. Send it to the NotaBridge daemon over HTTP as an accompany job (`{"mode": "accompany",
   "midi": ..., "voices": n}`, docs/http.md) without any settings of its own, so the daemon's
   shared settings (temperature, top-k, top-p, seed, prompt: what the Qt panel shows) decide.
   The daemon reads the melody (quantised, key and meter, pickup when the first note comes after
   that bar line); poll until it is done, without blocking REAPER (REAPER's defer loop calls `poll`).
4. The result is the same file with one track per voice: insert those notes as one new MIDI
   item on a new track right below the melody's track, on the melody's bars, as one undo point.
   Nothing is changed when anything fails.
This needs mido (MIDI files) and the standard library only: no notation library in REAPER's Python.
"""
from __future__ import annotations

import base64
import io
import json
import time
import urllib.error
import urllib.request
from typing import Any

from notabridge_reaper_api import ItemNote, Reaper, ReaperError, SelectedItem

DEFAULT_URL = "http://127.0.0.1:7878"
TICKS_PER_QUARTER = 960
TRACK_NAME = "NotaBridge accompaniment"
UNDO_TEXT = "NotaBridge: accompaniment"
POLL_INTERVAL_S = 0.25


class DaemonError(Exception):
    """The daemon is not there or refused the job; the message says what to do."""


class DaemonClient:
    """The few HTTP JSON calls of docs/http.md the script needs (standard library only)."""

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read().decode("utf-8")).get("error") or str(exc)
            except (ValueError, AttributeError):
                message = str(exc)
            raise DaemonError(f"the NotaBridge daemon refused the request: {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DaemonError(f"cannot reach the NotaBridge daemon at {self.url} ({exc}). "
                              "Start it with `notabridge serve` and run the script again.") from None


def describe_settings(settings: dict) -> str:
    """The shared settings a job will use, in one line for REAPER's console."""
    prompt = settings.get("prompt")
    style = " / ".join(prompt.values()) if isinstance(prompt, dict) else "the model's choice"
    seed = settings.get("seed")
    return (f"temperature {settings.get('temperature')}, top-k {settings.get('top_k')}, top-p {settings.get('top_p')}, "
            f"seed {'random' if seed is None else seed}, prompt {style}")


def clip_midi_bytes(notes: list[ItemNote], origin_qn: float, numerator: int, denominator: int, bpm: float) -> bytes:
    """The item's notes as a Standard MIDI File whose tick 0 is the bar line at `origin_qn`."""
    import mido

    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_QUARTER)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0))
    events = []
    for n in notes:
        start = max(0, round((n.start_qn - origin_qn) * TICKS_PER_QUARTER))
        end = max(start + 1, round((n.end_qn - origin_qn) * TICKS_PER_QUARTER))
        events += [(start, 1, n.pitch, n.velocity), (end, 0, n.pitch, 0)]
    now = 0
    for tick, is_on, pitch, velocity in sorted(events):
        track.append(mido.Message("note_on" if is_on else "note_off", note=pitch,
                                  velocity=max(1, min(127, velocity)) if is_on else 0, time=tick - now))
        now = tick
    data = io.BytesIO()
    midi.save(file=data)
    return data.getvalue()


def added_notes(data: bytes, given_tracks: int) -> list[tuple[int, int, int, int, int]]:
    """(start tick, end tick, pitch, velocity, channel) of the notes on the tracks after the first
    `given_tracks` of a MIDI file (the accompaniment the daemon added to the melody's file)."""
    import mido

    notes = []
    for track in mido.MidiFile(file=io.BytesIO(data)).tracks[given_tracks:]:
        now, sounding = 0, {}
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity > 0:
                sounding.setdefault((message.channel, message.note), []).append((now, message.velocity))
            elif message.type in ("note_on", "note_off") and sounding.get((message.channel, message.note)):
                start, velocity = sounding[(message.channel, message.note)].pop(0)
                notes.append((start, now, message.note, velocity, message.channel))
    return sorted(notes)


class AccompanyRun:
    """One press of the script: `start`, then `poll` until it returns True."""

    def __init__(self, reaper: Reaper, client: DaemonClient, voices: int = 3, timeout_s: float = 600.0) -> None:
        self.reaper, self.client, self.voices, self.timeout_s = reaper, client, voices, timeout_s
        self.job_id: str | None = None
        self.item: SelectedItem | None = None
        self.origin_qn = 0.0
        self.started = self.last_check = 0.0
        self.inserted_item: Any = None
        self.error: str | None = None

    def start(self) -> bool:
        """Read the item and submit the job; False (after telling the user) when that fails."""
        try:
            self.item = self.reaper.selected_midi_item()
            notes = [n for n in self.reaper.notes(self.item.take)
                     if n.end_qn > self.item.start_qn and n.start_qn < self.item.end_qn]
            if not notes:
                raise ReaperError("The selected MIDI item has no notes: record or draw the melody first.")
            numerator, denominator, bpm, self.origin_qn = self.reaper.meter_at(self.item.start_qn)
            data = clip_midi_bytes(notes, self.origin_qn, numerator, denominator, bpm)
            settings = self.client.call("GET", "/settings")
            job = self.client.call("POST", "/jobs", {"mode": "accompany", "voices": self.voices,
                                                     "midi": base64.b64encode(data).decode("ascii")})
            self.job_id = job["id"]
        except (ReaperError, DaemonError) as exc:
            self._fail(str(exc))
            return False
        self.started = self.last_check = time.monotonic()
        self.reaper.status(f"NotaBridge: accompanying the melody ({numerator}/{denominator}) "
                           f"with the daemon's settings: {describe_settings(settings)}...")
        return True

    def poll(self) -> bool:
        """Check the job (at most every POLL_INTERVAL_S); True when the run is over (accompaniment
        inserted, or an error shown). REAPER calls this on every defer cycle (~30 ms)."""
        if time.monotonic() - self.last_check < POLL_INTERVAL_S:
            return False
        self.last_check = time.monotonic()
        try:
            status = self.client.call("GET", f"/jobs/{self.job_id}")
            state = status.get("status")
            if state in ("queued", "running"):
                if time.monotonic() - self.started > self.timeout_s:
                    self.client.call("POST", f"/jobs/{self.job_id}/cancel", {})
                    return self._fail(f"The daemon took longer than {self.timeout_s:.0f} s; the job was cancelled.")
                return False
            if state != "done":
                return self._fail(f"The accompaniment was not made ({state}): {status.get('error') or 'no reason given'}")
            result = self.client.call("GET", f"/jobs/{self.job_id}/result?formats=midi")
        except DaemonError as exc:
            return self._fail(str(exc))
        if not result.get("variants"):
            return self._fail("The model wrote no accompaniment: " + ("; ".join(result.get("warnings") or [])
                                                                      or "try again (with another seed)."))
        try:
            self.insert(base64.b64decode(result["variants"][0]["midi"]), result["melody"])
        except Exception as exc:   # never leave REAPER's defer loop with a traceback and no word
            return self._fail(f"The accompaniment could not be inserted ({type(exc).__name__}: {exc}).")
        return True

    def insert(self, accompanied: bytes, melody: dict) -> None:
        """The accompaniment (the tracks the daemon added to the melody's file) as one new item on
        a new track below the melody, from the melody's first (partial) bar to its end: one undo point."""
        tpb = melody["ticks_per_beat"]
        notes = [ItemNote(self._qn(start, tpb), self._qn(end, tpb), pitch, velocity, channel)
                 for start, end, pitch, velocity, channel in added_notes(accompanied, melody["tracks"])]
        self.reaper.begin_undo()
        try:
            track = self.reaper.insert_track_below(self.item.track_index, TRACK_NAME)
            self.inserted_item = self.reaper.insert_midi_item(
                track, self._qn(melody["start_tick"], tpb), self._qn(melody["end_tick"], tpb), notes)
        finally:
            self.reaper.end_undo(UNDO_TEXT)
        self.reaper.refresh()
        key = f"key {melody['key_fifths']:+d} fifths {melody['key_mode']}" + (" (estimated)" if melody["key_estimated"] else "")
        self.reaper.status(f"NotaBridge: read {melody['bars']} bars of {melody['time']}, {key}; inserted "
                           f"{len(notes)} notes on a new track below the melody.")

    def _qn(self, tick: int, ticks_per_beat: int) -> float:
        return self.origin_qn + tick / ticks_per_beat

    def _fail(self, message: str) -> bool:
        self.error = message
        self.reaper.message(message)
        return True
