"""Helpers for the DAW tests: melody MIDI files as DAWs write them, and a stand-in for REAPER.

REAPER cannot run on this machine (it is neither a Debian nor a PyPI package, and nothing else
can be downloaded here or in CI), so the REAPER script is tested against `FakeReaper`: a small in-memory project that offers the RPR_* functions the
script calls, with REAPER's Python return shapes (tuples echoing output parameters), a linear
tempo map, MIDI takes counted in PPQ from the item start, and undo blocks that can be undone.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from pathlib import Path

PPQ = 960  # REAPER's default MIDI resolution

# (start in quarters, length in quarters, MIDI pitch)
Note = tuple[float, float, int]


def write_melody(path: Path, notes: list[Note], *, ticks_per_beat: int = 480, meter: tuple[int, int] = (4, 4),
                 bpm: float = 100.0, key: str | None = None, jitter: int = 0, legato: int = 0,
                 seed: int = 0, channel: int = 0) -> Path:
    """A two-track Standard MIDI File (conductor + melody), as a DAW exports a clip.

    `jitter`: each onset and release moves by up to this many ticks (a human player);
    `legato`: each release comes this many ticks late, overlapping the next note.
    """
    import mido

    rnd = random.Random(seed)
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1], time=0))
    if key:
        conductor.append(mido.MetaMessage("key_signature", key=key, time=0))
    melody = mido.MidiTrack()
    melody.append(mido.MetaMessage("track_name", name="Lead", time=0))
    events = []
    for start, length, pitch in notes:
        on = max(0, round(start * ticks_per_beat) + (rnd.randint(-jitter, jitter) if jitter else 0))
        off = round((start + length) * ticks_per_beat) + legato + (rnd.randint(-jitter, jitter) if jitter else 0)
        events += [(on, 1, pitch), (max(off, on + 1), 0, pitch)]
    now = 0
    for tick, is_on, pitch in sorted(events, key=lambda e: (e[0], e[1])):
        melody.append(mido.Message("note_on" if is_on else "note_off", channel=channel, note=pitch,
                                   velocity=90 if is_on else 0, time=tick - now))
        now = tick
    midi.tracks += [conductor, melody]
    midi.save(str(path))
    return path


def absolute_notes(track) -> list[tuple[int, int, int]]:
    """(start tick, end tick, pitch) of every note in a mido track."""
    now, sounding, notes = 0, {}, []
    for msg in track:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault(msg.note, []).append(now)
        elif msg.type in ("note_on", "note_off") and sounding.get(msg.note):
            notes.append((sounding[msg.note].pop(0), now, msg.note))
    return sorted(notes)


def track_length(track) -> int:
    return sum(msg.time for msg in track)


# --- a stand-in for REAPER's ReaScript API ------------------------------------------------------

@dataclass
class FakeTake:
    notes: list[dict] = field(default_factory=list)   # {"start", "end" (ppq from item start), "pitch", "vel", "chan", "muted"}
    midi: bool = True


@dataclass
class FakeItem:
    position_qn: float
    length_qn: float
    take: FakeTake = field(default_factory=FakeTake)
    selected: bool = False


@dataclass
class FakeTrack:
    name: str
    items: list[FakeItem] = field(default_factory=list)


class FakeReaper:
    """The RPR_* functions the NotaBridge script uses, over one in-memory project.

    Objects are handed out as they are (REAPER hands out pointers); return shapes follow
    REAPER's Python wrappers. The tempo map is one tempo and one meter from the project start.
    """

    def __init__(self, bpm: float = 120.0, meter: tuple[int, int] = (4, 4)) -> None:
        self.bpm, self.meter = bpm, meter
        self.tracks: list[FakeTrack] = []
        self.undo_points: list[str] = []
        self._undo_snapshots: list[list[FakeTrack]] = []
        self._open_blocks = 0
        self.changes_outside_undo = 0
        self.messages: list[str] = []
        self.console: list[str] = []
        self.deferred: list[str] = []

    # project set-up for tests
    def add_track(self, name: str) -> FakeTrack:
        self.tracks.append(FakeTrack(name))
        return self.tracks[-1]

    def undo(self) -> None:
        self.tracks = self._undo_snapshots.pop()
        self.undo_points.pop()

    def _changed(self) -> None:
        if not self._open_blocks:
            self.changes_outside_undo += 1

    def _qn_to_time(self, qn: float) -> float:
        return qn * 60.0 / self.bpm

    def _item_of(self, take: FakeTake) -> FakeItem:
        return next(i for t in self.tracks for i in t.items if i.take is take)

    def _track_of(self, item: FakeItem) -> FakeTrack:
        return next(t for t in self.tracks if item in t.items)

    # ---- RPR_* ----
    def RPR_CountSelectedMediaItems(self, proj):
        return sum(i.selected for t in self.tracks for i in t.items)

    def RPR_GetSelectedMediaItem(self, proj, index):
        return [i for t in self.tracks for i in t.items if i.selected][index]

    def RPR_GetActiveTake(self, item):
        return item.take

    def RPR_TakeIsMIDI(self, take):
        return take.midi

    def RPR_GetMediaItem_Track(self, item):
        return self._track_of(item)

    def RPR_GetMediaItemInfo_Value(self, item, name):
        return {"D_POSITION": self._qn_to_time(item.position_qn), "D_LENGTH": self._qn_to_time(item.length_qn)}[name]

    def RPR_GetMediaTrackInfo_Value(self, track, name):
        assert name == "IP_TRACKNUMBER"
        return float(self.tracks.index(track) + 1)

    def RPR_TimeMap2_timeToQN(self, proj, time):
        return time * self.bpm / 60.0

    def RPR_TimeMap2_QNToTime(self, proj, qn):
        return self._qn_to_time(qn)

    def RPR_TimeMap_GetTimeSigAtTime(self, proj, time, num, denom, tempo):
        return (None, proj, time, self.meter[0], self.meter[1], self.bpm)

    def RPR_TimeMap_QNToMeasures(self, proj, qn, start_out, end_out):
        bar = self.meter[0] * 4 / self.meter[1]
        index = int(qn // bar + 1e-9)
        return (index + 1, proj, qn, index * bar, (index + 1) * bar)

    def RPR_MIDI_CountEvts(self, take, notes, ccs, sysex):
        return (1, take, len(take.notes), 0, 0)

    def RPR_MIDI_GetNote(self, take, index, sel, muted, start, end, chan, pitch, vel):
        if not 0 <= index < len(take.notes):
            return (False, take, index, sel, muted, start, end, chan, pitch, vel)
        n = take.notes[index]
        return (True, take, index, False, n.get("muted", False), n["start"], n["end"], n["chan"], n["pitch"], n["vel"])

    def RPR_MIDI_GetProjQNFromPPQPos(self, take, ppq):
        return self._item_of(take).position_qn + ppq / PPQ

    def RPR_MIDI_GetPPQPosFromProjQN(self, take, qn):
        return (qn - self._item_of(take).position_qn) * PPQ

    def RPR_InsertTrackAtIndex(self, index, defaults):
        self._changed()
        self.tracks.insert(index, FakeTrack(""))

    def RPR_GetTrack(self, proj, index):
        return self.tracks[index]

    def RPR_GetSetMediaTrackInfo_String(self, track, name, value, set_new):
        assert name == "P_NAME"
        if set_new:
            self._changed()
            track.name = value
        return (True, track, name, track.name, set_new)

    def RPR_CreateNewMIDIItemInProj(self, track, start, end, qn_in):
        self._changed()
        if not qn_in:
            start, end = start * self.bpm / 60.0, end * self.bpm / 60.0
        item = FakeItem(position_qn=start, length_qn=end - start)
        track.items.append(item)
        return (item, track, start, end, qn_in)

    def RPR_MIDI_InsertNote(self, take, selected, muted, start, end, chan, pitch, vel, no_sort):
        self._changed()
        take.notes.append({"start": start, "end": end, "chan": chan, "pitch": pitch, "vel": vel, "muted": muted})
        return (True, take, selected, muted, start, end, chan, pitch, vel, no_sort)

    def RPR_MIDI_Sort(self, take):
        take.notes.sort(key=lambda n: (n["start"], n["pitch"]))

    def RPR_Undo_BeginBlock(self):
        if not self._open_blocks:
            self._undo_snapshots.append(copy.deepcopy(self.tracks))
        self._open_blocks += 1

    def RPR_Undo_EndBlock(self, description, flags):
        self._open_blocks -= 1
        if not self._open_blocks:
            self.undo_points.append(description)

    def RPR_UpdateArrange(self):
        pass

    def RPR_ShowMessageBox(self, text, title, kind):
        self.messages.append(text)
        return 1

    def RPR_ShowConsoleMsg(self, text):
        self.console.append(text)

    def RPR_defer(self, code):
        self.deferred.append(code)

    def RPR_GetResourcePath(self):
        return "/nonexistent/REAPER"

