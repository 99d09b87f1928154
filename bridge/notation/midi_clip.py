"""A melody clip from a DAW (a .mid file, or the notes of a REAPER item) and the accompanied MIDI.

A clip as a DAW exports it is a performance: onsets a little early or late, notes overlapping
(legato) or leaving gaps, maybe no key signature. Here it becomes a score the model can read:
- onsets and ends snapped to a sixteenth grid, or to an eighth-triplet grid in beats that are
  clearly played in triplets; overlaps cut so the melody is one line (the top note wins);
- bars counted from the start of the file (as DAWs export them): a first note after the first
  downbeat makes a pickup measure; leading empty bars are skipped;
- the meter from the file's time signature (4/4 when it has none, as MIDI specifies); the key
  from its key signature, or estimated from the notes when it has none.
The excerpt itself is built by the notation layer (notabridge.notation) from a music21 score.

On the way back the accompaniment excerpt becomes new tracks added to a copy of the original
file: the melody track, tempo map and everything else stay as they were, and every accompaniment
measure starts on the tick of the melody measure it belongs to.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable

from notabridge.limits import BOUNDS
from notabridge.notation.errors import NotationError
from notabridge.notation.excerpt_base import measure_length

STRAIGHT_DIVISIONS = 4   # sixteenths per quarter
TRIPLET_DIVISIONS = 3    # eighth triplets per quarter
ACCOMPANIMENT_PROGRAM = 0  # acoustic grand piano, when the excerpt names no program


@dataclass
class ClipNote:
    start: int      # ticks from the start of the file
    end: int
    pitch: int
    velocity: int = 80


@dataclass
class MelodyClip:
    """A melody, quantised, with the measure grid it sits on (all positions in file ticks)."""
    ticks_per_beat: int
    numerator: int
    denominator: int
    key_fifths: int
    key_mode: str                 # "major" or "minor"
    key_estimated: bool           # True when the file had no key signature
    tempo_bpm: float              # the first tempo of the file
    notes: list[ClipNote]         # quantised, one line, sorted
    first_downbeat: int           # tick of the first full measure
    pickup: int                   # ticks of the pickup before first_downbeat (0: none)
    measures: int                 # measures including the pickup
    warnings: list[str] = field(default_factory=list)
    melody_track: int = 0
    melody_channel: int = 0

    @property
    def bar_ticks(self) -> int:
        return self.ticks_per_beat * 4 * self.numerator // self.denominator

    @property
    def start_tick(self) -> int:
        """Where measure 0 (the pickup, or the first full measure) starts."""
        return self.first_downbeat - self.pickup

    @property
    def end_tick(self) -> int:
        return self.measure_start(self.measures)

    @property
    def time(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    def measure_start(self, index: int) -> int:
        """File tick where measure `index` of the excerpt starts (0 = pickup when there is one)."""
        if self.pickup and index == 0:
            return self.start_tick
        full = index - (1 if self.pickup else 0)
        return self.first_downbeat + full * self.bar_ticks


# --- reading ------------------------------------------------------------------------------------

def read_midi(source: str | Path | bytes) -> Any:
    """A mido.MidiFile from a path or the bytes of a .mid file; NotationError when unreadable."""
    import mido

    try:
        if isinstance(source, (bytes, bytearray)):
            return mido.MidiFile(file=io.BytesIO(bytes(source)))
        path = Path(source)
        if not path.is_file():
            raise NotationError(f"no such MIDI file: {path}")
        return mido.MidiFile(str(path))
    except NotationError:
        raise
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError on bad files
        raise NotationError(f"cannot read this MIDI file ({type(exc).__name__}: {exc}); export the clip again as a Standard MIDI File") from exc


def _performed_notes(midi: Any) -> tuple[dict[tuple[int, int], list[ClipNote]], dict[str, list[tuple[int, Any]]]]:
    """Notes per (track, channel) in absolute ticks, and the meta messages that matter, by type."""
    groups: dict[tuple[int, int], list[ClipNote]] = {}
    metas: dict[str, list[tuple[int, Any]]] = {"set_tempo": [], "time_signature": [], "key_signature": []}
    for track_index, track in enumerate(midi.tracks):
        notes, others = track_notes(track)
        for channel, found in notes.items():
            groups[(track_index, channel)] = found
        for now, msg in others:
            if msg.is_meta and msg.type in metas:
                metas[msg.type].append((now, msg))
    return groups, metas


def track_notes(track: Any) -> tuple[dict[int, list[ClipNote]], list[tuple[int, Any]]]:
    """One track's notes per channel (absolute ticks; a note never released ends with the track)
    and every other message with its absolute tick."""
    notes: dict[int, list[ClipNote]] = {}
    others: list[tuple[int, Any]] = []
    now = 0
    sounding: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for msg in track:
        now += msg.time
        if not msg.is_meta and msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault((msg.channel, msg.note), []).append((now, msg.velocity))
        elif not msg.is_meta and msg.type in ("note_off", "note_on"):
            started = sounding.get((msg.channel, msg.note))
            if started:
                start, velocity = started.pop(0)
                notes.setdefault(msg.channel, []).append(ClipNote(start, now, msg.note, velocity))
        else:
            others.append((now, msg))
    for (channel, pitch), starts in sounding.items():
        for start, velocity in starts:
            notes.setdefault(channel, []).append(ClipNote(start, max(now, start + 1), pitch, velocity))
    return notes, others


def _snap(value: float, step: float) -> int:
    return int(round(round(value / step) * step))


def _triplet_beats(onsets: list[int], tpb: int) -> set[int]:
    """Quarter beats whose onsets sit clearly closer to an eighth-triplet grid than to sixteenths."""
    straight_step, triplet_step = tpb / STRAIGHT_DIVISIONS, tpb / TRIPLET_DIVISIONS
    errors: dict[int, list[float]] = {}
    for onset in onsets:
        beat = round(onset / tpb * 12) // 12   # a note played a little early belongs to the next beat
        e = errors.setdefault(beat, [0.0, 0.0, 0])
        e[0] += abs(onset - round(onset / straight_step) * straight_step)
        e[1] += abs(onset - round(onset / triplet_step) * triplet_step)
        e[2] += abs(onset - round(onset / tpb) * tpb) > tpb / 8
    # Straight is the default: triplets only where some onset is off the beat and the triplet
    # grid explains the onsets at least twice as well.
    return {beat for beat, (straight, triplet, off) in errors.items() if off and triplet * 2 < straight}


def grid_step(notes: list[ClipNote], ticks_per_beat: int) -> Callable[[float], float]:
    """The grid a performance is snapped to, as step length at a tick: sixteenths, or eighth
    triplets in the beats its onsets play clearly in triplets (one rule for every MIDI reader)."""
    triplets = _triplet_beats([n.start for n in notes], ticks_per_beat)

    def step_at(tick: float) -> float:
        beat = int(tick // ticks_per_beat)
        return ticks_per_beat / (TRIPLET_DIVISIONS if beat in triplets else STRAIGHT_DIVISIONS)

    return step_at


def quantise_notes(notes: Iterable[ClipNote], ticks_per_beat: int) -> list[ClipNote]:
    """Snap performed notes (chords and overlaps kept) to the grid of `grid_step`: every note
    lasts at least one step; a note is cut where the next one of the same pitch starts."""
    notes = sorted(notes, key=lambda n: (n.start, n.pitch))
    step_at = grid_step(notes, ticks_per_beat)
    snapped: dict[tuple[int, int], ClipNote] = {}
    for note in notes:
        start = max(0, _snap(note.start, step_at(note.start)))
        end = max(_snap(note.end, step_at(max(note.end - 1, 0))), start + int(round(step_at(start))))
        snapped.setdefault((start, note.pitch), ClipNote(start, end, note.pitch, note.velocity))
    out = sorted(snapped.values(), key=lambda n: (n.start, n.pitch))
    following: dict[int, int] = {}
    for note in reversed(out):
        if note.pitch in following:
            note.end = min(note.end, following[note.pitch])
        following[note.pitch] = note.start
    return out


def quantise_line(notes: Iterable[ClipNote], ticks_per_beat: int) -> list[ClipNote]:
    """Snap a performed melody to the grid and make it one line (see the module docstring)."""
    notes = sorted(notes, key=lambda n: (n.start, -n.pitch))
    if not notes:
        return []
    step_at = grid_step(notes, ticks_per_beat)
    snapped: list[ClipNote] = []
    for note in notes:
        start = max(0, _snap(note.start, step_at(note.start)))
        if snapped and snapped[-1].start == start:
            if note.pitch > snapped[-1].pitch:   # two notes on one onset: the top one is the melody
                snapped[-1] = ClipNote(start, note.end, note.pitch, note.velocity)
            continue
        end = _snap(note.end, step_at(max(note.end - 1, 0)))
        snapped.append(ClipNote(start, end, note.pitch, note.velocity))
    for current, following in zip(snapped, snapped[1:] + [None]):
        minimum = current.start + int(round(step_at(current.start)))
        current.end = max(current.end, minimum)
        if following is not None:
            current.end = min(current.end, following.start)
    return snapped


def key_from_signature(name: str) -> tuple[int, str]:
    """mido's key name ('G', 'Em', 'Bb', 'F#m') -> (fifths, mode), through music21's Key."""
    from music21 import key

    minor = name.endswith("m")
    tonic = name[:-1] if minor else name
    if len(tonic) > 1 and tonic[1] == "b":   # mido writes flats as 'b', music21 as '-'
        tonic = tonic[0] + "-" + tonic[2:]
    found = key.Key(tonic.lower() if minor else tonic)
    return int(found.sharps), "minor" if minor else "major"


def estimate_key(notes: list[ClipNote], ticks_per_beat: int) -> tuple[int, str]:
    """The key music21's Krumhansl-Schmuckler analysis finds in the notes (durations weigh)."""
    from music21 import note as m21note, stream

    part = stream.Stream()
    for n in notes:
        element = m21note.Note(n.pitch)
        element.quarterLength = max(n.end - n.start, 1) / ticks_per_beat
        part.append(element)
    found = part.analyze("key")
    fifths = max(-7, min(7, int(found.sharps)))
    return fifths, "minor" if found.mode == "minor" else "major"


def _pick_melody(groups: dict[tuple[int, int], list[ClipNote]], warnings: list[str]) -> tuple[tuple[int, int], list[ClipNote]]:
    if not groups:
        raise NotationError("the MIDI file holds no notes: record or draw a melody first")
    (track, channel), notes = max(groups.items(), key=lambda item: (len(item[1]), -item[0][0], -item[0][1]))
    if len(groups) > 1:
        warnings.append(f"the file has notes on {len(groups)} tracks/channels; "
                        f"only track {track + 1}, channel {channel + 1} ({len(notes)} notes) is used as the melody")
    return (track, channel), notes


def clip_from_midi(midi: Any, pickup_quarters: Fraction | float | None = None) -> MelodyClip:
    """A performed melody (mido.MidiFile) -> a quantised MelodyClip.

    `pickup_quarters`: for files that start right on an upbeat (as music21 writes them), the
    length of that upbeat in quarter notes; by default bars start at the file's start.
    """
    warnings: list[str] = []
    tpb = midi.ticks_per_beat
    groups, metas = _performed_notes(midi)
    (track, channel), performed = _pick_melody(groups, warnings)
    if channel == 9:
        warnings.append("the melody is on MIDI channel 10 (drums); its notes are read as pitches")

    numerator, denominator = 4, 4
    if metas["time_signature"]:
        first = min(metas["time_signature"], key=lambda item: item[0])[1]
        numerator, denominator = first.numerator, first.denominator
        if len({(m.numerator, m.denominator) for _, m in metas["time_signature"]}) > 1:
            warnings.append(f"the meter changes inside the clip; the whole clip is read in {numerator}/{denominator}")
    tempo = min(metas["set_tempo"], key=lambda item: item[0])[1].tempo if metas["set_tempo"] else 500000
    bar = tpb * 4 * numerator // denominator

    notes = quantise_line(performed, tpb)
    if metas["key_signature"]:
        fifths, mode = key_from_signature(min(metas["key_signature"], key=lambda item: item[0])[1].key)
        estimated = False
    else:
        fifths, mode = estimate_key(notes, tpb)
        estimated = True

    first_onset = notes[0].start
    if pickup_quarters:
        pickup = int(round(Fraction(pickup_quarters) * tpb))
        if not 0 < pickup < bar:
            raise NotationError(f"a pickup must be shorter than one {numerator}/{denominator} bar")
        first_downbeat = first_onset + pickup
    else:
        leading_bars, offset = divmod(first_onset, bar)
        first_downbeat = (leading_bars + (1 if offset else 0)) * bar
        pickup = first_downbeat - first_onset if offset else 0
    last_end = max(n.end for n in notes)
    full_measures = max(1, -(-(last_end - first_downbeat) // bar))
    return MelodyClip(ticks_per_beat=tpb, numerator=numerator, denominator=denominator,
                      key_fifths=fifths, key_mode=mode, key_estimated=estimated,
                      tempo_bpm=round(60_000_000 / tempo, 3), notes=notes,
                      first_downbeat=first_downbeat, pickup=pickup,
                      measures=full_measures + (1 if pickup else 0), warnings=warnings,
                      melody_track=track, melody_channel=channel)


def read_clip(source: str | Path | bytes, pickup_quarters: Fraction | float | None = None) -> MelodyClip:
    """Read and quantise a melody .mid file (path or bytes)."""
    return clip_from_midi(read_midi(source), pickup_quarters)


# --- to a score ---------------------------------------------------------------------------------

def spell(midi_pitch: int, key_fifths: int) -> Any:
    """A music21 Pitch for a MIDI number, spelled the way the key wants it.

    notabridge.notation's default spelling, centred three fifths above the tonic (A for C major) so
    that the raised degrees of minor keys and secondary dominants come out right: C major gets
    C#, Eb, F#, G#, Bb.
    """
    from music21 import pitch

    from notabridge.notation.spelling import default_tpc, octave_from_midi, step_from_tpc

    step, alter = step_from_tpc(default_tpc(midi_pitch, key_fifths + 3))
    return pitch.Pitch(step=step, accidental=alter or None, octave=octave_from_midi(midi_pitch, step, alter))


def clip_to_score(clip: MelodyClip, title: str = "Melody") -> Any:
    """The quantised melody as a one-part music21 score with measures, pickup, key, meter, tempo."""
    from music21 import key, meter, note, stream, tempo

    tpb = clip.ticks_per_beat
    bar_quarters = Fraction(clip.bar_ticks, tpb)
    # Lay the notes out as if the pickup measure were full (rests before the upbeat), let
    # music21 cut measures and tie notes across barlines, then shorten the first measure.
    shift = clip.first_downbeat - clip.bar_ticks if clip.pickup else clip.start_tick
    flat = stream.Part()
    flat.partName = title
    flat.insert(0, meter.TimeSignature(clip.time))
    flat.insert(0, key.KeySignature(clip.key_fifths).asKey(clip.key_mode))
    flat.insert(0, tempo.MetronomeMark(number=clip.tempo_bpm))
    for n in clip.notes:
        element = note.Note(spell(n.pitch, clip.key_fifths))
        element.quarterLength = Fraction(n.end - n.start, tpb)
        element.volume.velocity = n.velocity
        flat.insert(Fraction(n.start - shift, tpb), element)
    total = bar_quarters * clip.measures
    measured = flat.makeMeasures()
    measured.makeTies(inPlace=True)
    measured.makeRests(fillGaps=True, inPlace=True, refStreamOrTimeRange=[0, float(total)])
    measures = list(measured.getElementsByClass(stream.Measure))
    while len(measures) < clip.measures:   # a final empty measure when the last note ends early
        extra = stream.Measure(number=len(measures) + 1)
        extra.append(note.Rest(quarterLength=bar_quarters))
        measured.append(extra)
        measures.append(extra)
    for m in measures:
        m.makeRests(fillGaps=True, inPlace=True, timeRangeFromBarDuration=True)
    if clip.pickup:
        missing = Fraction(clip.bar_ticks - clip.pickup, tpb)
        _shorten_to_pickup(measures[0], missing)
        for number, m in enumerate(measures):
            m.number = number
            if number:
                measured.coreSetElementOffset(m, Fraction(m.offset) - missing)
        measured.coreElementsChanged()
    score = stream.Score()
    score.insert(0, measured)
    return score


def _shorten_to_pickup(measure: Any, missing: Fraction) -> None:
    """Turn a full first measure whose first `missing` quarters are rests into a pickup."""
    from music21 import note

    for element in list(measure.notesAndRests):
        offset = Fraction(element.offset)
        if offset < missing:
            if not isinstance(element, note.Rest) or offset + Fraction(element.quarterLength) > missing:
                raise NotationError("internal: the pickup measure holds notes before its upbeat")
            measure.remove(element)
        else:
            measure.coreSetElementOffset(element, offset - missing)
    measure.coreElementsChanged()
    measure.paddingLeft = float(missing)


# --- back to MIDI -------------------------------------------------------------------------------

def staff_notes(excerpt: dict, staff: int, clip: MelodyClip) -> list[ClipNote]:
    """The notes of one staff of a (result) excerpt, on the clip's tick grid.

    Each measure's `index` says which clip measure it fills; ties join notes across events.
    """
    tpb = clip.ticks_per_beat
    notes: list[ClipNote] = []
    open_ties: dict[int, ClipNote] = {}
    for measure in excerpt.get("measures", []):
        start = clip.measure_start(int(measure["index"]))
        length = measure_length({"time": clip.time, **measure})   # its duration, else its meter's
        measure_end = start + int(length * 4 * tpb)
        for staff_entry in measure.get("staves", []):
            if staff_entry.get("staff") != staff:
                continue
            for voice in staff_entry.get("voices", []):
                now = Fraction(0)
                for event in voice.get("events", []):
                    duration = Fraction(event["duration"])
                    onset = start + int(now * 4 * tpb)
                    end = min(start + int((now + duration) * 4 * tpb), measure_end)
                    now += duration
                    if event.get("type") != "chord" or onset >= measure_end:
                        continue
                    for n in event.get("notes", []):
                        pitch, tie = int(n["pitch"]), n.get("tie")
                        held = open_ties.get(pitch)
                        if tie in ("stop", "continue") and held is not None and held.end == onset:
                            held.end = end
                        else:
                            held = ClipNote(onset, end, pitch, 72)
                            notes.append(held)
                        if tie in ("start", "continue"):
                            open_ties[pitch] = held
                        else:
                            open_ties.pop(pitch, None)
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def staff_names(excerpt: dict) -> dict[int, tuple[str, int | None]]:
    """staff index -> (its part's name, its part's MIDI program) from an excerpt's parts."""
    names: dict[int, tuple[str, int | None]] = {}
    for part in excerpt.get("parts", []):
        for staff in part.get("staves", []):
            names[staff] = (part.get("name") or f"Staff {staff + 1}", part.get("midi_program"))
    return names


def accompaniment_tracks(clip: MelodyClip, excerpt: dict, staves: list[int]) -> list[tuple[str, int, int, list[ClipNote]]]:
    """(track name, channel, program, notes) for each accompaniment staff, on free MIDI channels."""
    names = staff_names(excerpt)
    free = [c for c in range(16) if c not in (clip.melody_channel, 9)]
    tracks = []
    for number, staff in enumerate(staves):
        name, program = names.get(staff, (f"Staff {staff + 1}", None))
        tracks.append((f"NotaBridge {name}", free[number % len(free)],
                       ACCOMPANIMENT_PROGRAM if program is None else int(program),
                       staff_notes(excerpt, staff, clip)))
    return tracks


def add_accompaniment(midi: Any, clip: MelodyClip, excerpt: dict, staves: list[int]) -> Any:
    """A copy of the melody's MidiFile with one new track per accompaniment staff.

    The original tracks (melody as played, tempo map, meter, names) are kept unchanged.
    """
    import copy

    import mido

    out = copy.deepcopy(midi)
    if out.type == 0:
        out.type = 1   # a format-0 file keeps its single track; the new ones follow it
    for name, channel, program, notes in accompaniment_tracks(clip, excerpt, staves):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        events = sorted([(n.start, 1, n.pitch, n.velocity) for n in notes] +
                        [(n.end, 0, n.pitch, 0) for n in notes])   # offs before ons at one tick
        now = 0
        for tick, is_on, pitch, velocity in events:
            kind = "note_on" if is_on else "note_off"
            track.append(mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=max(0, clip.end_tick - now)))
        out.tracks.append(track)
    return out


# --- the accompaniment job ----------------------------------------------------------------------

VOICE_NAMES = {1: ["Bass"], 2: ["Alto", "Bass"], 3: ["Alto", "Tenor", "Bass"]}
MAX_VOICES = int(BOUNDS["voices"].high)


def accompaniment_voice_names(voices: int) -> list[str]:
    """Names of the accompaniment parts below the melody (the melody is the soprano of a chorale)."""
    if not 1 <= voices <= MAX_VOICES:
        raise NotationError(f"voices must be between 1 and {MAX_VOICES}, not {voices}")
    return VOICE_NAMES.get(voices) or [f"Voice {n + 2}" for n in range(voices - 1)] + ["Bass"]


# Clefs and abbreviations as the chorales NotaGen-style models learn from write them
# (`V:3 bass nm="Tenor" snm="T."`), so the job's ABC header looks like their training data.
_CLEFS = {"Bass": "BassClef", "Tenor": "BassClef"}
# MIDI octave base of each voice's placeholder tonic (see score_for_accompaniment)
_REGISTER = {"Alto": 60, "Tenor": 48, "Bass": 36}


def score_for_accompaniment(clip: MelodyClip, voices: int) -> Any:
    """The melody score plus `voices` parts below it, measure for measure, to be written.

    The parts to write hold one placeholder note per measure (the key's tonic in the voice's
    register), not rests: NotaGen's ABC conversion (xml2abc) leaves voices without any note out
    of the piece, and the engine can only write voices the ABC declares. Accompany replaces
    every selected measure of these parts, so the model never reads the placeholders. A pickup
    measure is not selected (see accompaniment_excerpt): there these parts rest.
    """
    import copy

    from music21 import clef, key, note, stream

    score = clip_to_score(clip)
    melody = score.parts[0]
    melody.partName, melody.partAbbreviation = "Soprano", "S."
    # NotaGen's training ABC has no Q: line; the tempo stays in the MIDI file, not in the job.
    for mark in list(melody.recurse().getElementsByClass("MetronomeMark")):
        mark.activeSite.remove(mark)
    tonic = key.KeySignature(clip.key_fifths).asKey(clip.key_mode).tonic.pitchClass
    for name in accompaniment_voice_names(voices):
        part = stream.Part()
        part.partName, part.partAbbreviation = name, name[0] + "."
        placeholder = _REGISTER.get(name, 60) + tonic
        for position, m in enumerate(melody.getElementsByClass(stream.Measure)):
            measure = stream.Measure(number=m.number)
            measure.paddingLeft = m.paddingLeft
            if position == 0:
                measure.insert(0, getattr(clef, _CLEFS.get(name, "TrebleClef"))())
            for context in m.getElementsByClass(["TimeSignature", "KeySignature"]):
                measure.insert(0, copy.deepcopy(context))
            length = m.barDuration.quarterLength - m.paddingLeft
            measure.append(note.Rest(quarterLength=length) if m.paddingLeft else note.Note(placeholder, quarterLength=length))
            part.insert(m.offset, measure)
        part.makeNotation(inPlace=True)   # splits bar-long notes that need ties (5/8, 7/8, ...)
        score.insert(0, part)
    return score


def accompaniment_excerpt(clip: MelodyClip, voices: int) -> dict:
    """The accompany job's excerpt: melody on staff 0, `voices` staves to write (1..voices).

    Measure indices run 0..measures-1 in clip order (measure_start maps them back to ticks). The
    selection starts at the first full measure: a pickup is context the model reads (melody
    alone, as the accompaniment usually enters on the downbeat), so the model only ever writes
    whole bars, whatever it learnt about upbeats.
    """
    from notabridge.notation.music21_bridge import excerpt_from_score

    excerpt = excerpt_from_score(score_for_accompaniment(clip, voices))
    excerpt["title"] = "Melody from a DAW"
    excerpt["selection"] = {"start": 1 if clip.pickup else 0, "end": len(excerpt["measures"]),
                            "staves": list(range(len(excerpt["staves"])))}
    excerpt.setdefault("warnings", []).extend(clip.warnings)
    return excerpt
