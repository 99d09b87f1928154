"""The thin layer between the NotaBridge REAPER script and REAPER's ReaScript API (RPR_* functions).

Everything that touches REAPER goes through `Reaper`, so the script's logic
(notabridge_accompany_logic.py) runs unchanged against anything that offers the same RPR_*
functions: REAPER's own `reaper_python` module, or a stand-in in the tests.

Positions cross this layer in quarter notes from the project start (QN), never in seconds, so
the logic does not care about tempo changes: REAPER converts with its own tempo map.

ReaScript's Python wrappers return a tuple that echoes every argument after the return value
when a function has output parameters (MIDI_GetNote, MIDI_CountEvts, TimeMap_GetTimeSigAtTime,
TimeMap_QNToMeasures, GetSetMediaTrackInfo_String); `_value` copes with both shapes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UNDO_ALL = -1  # Undo_EndBlock flags: record every kind of change


class ReaperError(Exception):
    """Something the user must fix in REAPER (no MIDI item selected, ...)."""


@dataclass
class SelectedItem:
    item: Any
    take: Any
    track: Any
    track_index: int        # 0-based
    start_qn: float
    end_qn: float


@dataclass
class ItemNote:
    start_qn: float
    end_qn: float
    pitch: int
    velocity: int
    channel: int


def _value(result: Any) -> Any:
    """The return value of a ReaScript call, whether the wrapper returned it bare or in a tuple."""
    return result[0] if isinstance(result, (tuple, list)) else result


class Reaper:
    """The REAPER calls the accompaniment script needs, and nothing more."""

    def __init__(self, rpr: Any) -> None:
        self.rpr = rpr   # reaper_python (inside REAPER) or a stand-in with the same RPR_* names

    # --- reading -----------------------------------------------------------------------------
    def selected_midi_item(self) -> SelectedItem:
        r = self.rpr
        if r.RPR_CountSelectedMediaItems(0) < 1:
            raise ReaperError("Select the MIDI item that holds the melody, then run the script again.")
        item = r.RPR_GetSelectedMediaItem(0, 0)
        take = r.RPR_GetActiveTake(item)
        if not take or not r.RPR_TakeIsMIDI(take):
            raise ReaperError("The selected item is not a MIDI item: select a MIDI item with the melody.")
        track = r.RPR_GetMediaItem_Track(item)
        position = r.RPR_GetMediaItemInfo_Value(item, "D_POSITION")
        length = r.RPR_GetMediaItemInfo_Value(item, "D_LENGTH")
        return SelectedItem(item=item, take=take, track=track,
                            track_index=int(r.RPR_GetMediaTrackInfo_Value(track, "IP_TRACKNUMBER")) - 1,
                            start_qn=float(r.RPR_TimeMap2_timeToQN(0, position)),
                            end_qn=float(r.RPR_TimeMap2_timeToQN(0, position + length)))

    def notes(self, take: Any) -> list[ItemNote]:
        """The take's unmuted notes, in project quarter notes."""
        r = self.rpr
        count = int(r.RPR_MIDI_CountEvts(take, 0, 0, 0)[2])
        notes = []
        for index in range(count):
            ok, _, _, _selected, muted, start, end, channel, pitch, velocity = r.RPR_MIDI_GetNote(take, index, 0, 0, 0, 0, 0, 0, 0)
            if ok and not muted:
                notes.append(ItemNote(float(r.RPR_MIDI_GetProjQNFromPPQPos(take, start)),
                                      float(r.RPR_MIDI_GetProjQNFromPPQPos(take, end)),
                                      int(pitch), int(velocity), int(channel)))
        return notes

    def meter_at(self, qn: float) -> tuple[int, int, float, float]:
        """(numerator, denominator, bpm, QN of the start of the measure holding `qn`)."""
        r = self.rpr
        time = r.RPR_TimeMap2_QNToTime(0, qn)
        _, _, _, numerator, denominator, bpm = r.RPR_TimeMap_GetTimeSigAtTime(0, time, 0, 0, 0)
        measure = r.RPR_TimeMap_QNToMeasures(0, qn, 0, 0)
        measure_start = measure[3] if isinstance(measure, (tuple, list)) else qn
        return int(numerator), int(denominator), float(bpm), float(measure_start)

    # --- writing -----------------------------------------------------------------------------
    def insert_track_below(self, track_index: int, name: str) -> Any:
        r = self.rpr
        r.RPR_InsertTrackAtIndex(track_index + 1, True)
        track = r.RPR_GetTrack(0, track_index + 1)
        r.RPR_GetSetMediaTrackInfo_String(track, "P_NAME", name, True)
        return track

    def insert_midi_item(self, track: Any, start_qn: float, end_qn: float, notes: list[ItemNote]) -> Any:
        """A new MIDI item on `track` holding `notes`; returns the item."""
        r = self.rpr
        item = _value(r.RPR_CreateNewMIDIItemInProj(track, start_qn, end_qn, True))
        take = r.RPR_GetActiveTake(item)
        for n in notes:
            r.RPR_MIDI_InsertNote(take, False, False,
                                  r.RPR_MIDI_GetPPQPosFromProjQN(take, n.start_qn),
                                  r.RPR_MIDI_GetPPQPosFromProjQN(take, n.end_qn),
                                  n.channel, n.pitch, n.velocity, True)
        r.RPR_MIDI_Sort(take)
        return item

    def begin_undo(self) -> None:
        self.rpr.RPR_Undo_BeginBlock()

    def end_undo(self, description: str) -> None:
        self.rpr.RPR_Undo_EndBlock(description, UNDO_ALL)

    def refresh(self) -> None:
        self.rpr.RPR_UpdateArrange()

    # --- talking to the user -----------------------------------------------------------------
    def message(self, text: str) -> None:
        self.rpr.RPR_ShowMessageBox(text, "NotaBridge", 0)

    def status(self, text: str) -> None:
        self.rpr.RPR_ShowConsoleMsg(text + "\n")

    def defer(self, code: str) -> None:
        """Run `code` (a string, evaluated in the script's globals) on REAPER's next idle cycle."""
        self.rpr.RPR_defer(code)
