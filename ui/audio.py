"""A score as sound, in memory: excerpt JSON -> MIDI (mido) -> PCM rendered by a SoundFont
synthesiser (midirenderer, a wheel with no system library) with a General MIDI sound font
(TimGM6mb.sf2, which the pretty_midi package ships). Both come with the `ui` extra, so playing
needs no other setup; NOTABRIDGE_SOUNDFONT=/path/to/font.sf2 chooses another font.

The MIDI is written here rather than through music21 so that every measure's start time is
known exactly: A/B listening restarts another variant at the same measure."""
from __future__ import annotations

import importlib.util
import io
import os
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

DEFAULT_TEMPO = 100          # quarter notes per minute where the score names none
TICKS_PER_QUARTER = 480
VELOCITY = 80
GAIN = 8.0                   # small sound fonts play quietly; one fixed gain keeps A/B levels equal
HEADROOM = 0.95              # ...lowered only where a loud score would clip
SOUNDFONT_ENV = "NOTABRIDGE_SOUNDFONT"
_SYSTEM_FONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
                 "/usr/share/sounds/sf2/default-GM.sf2")
_font_cache: dict[Path, bytes] = {}


class AudioError(RuntimeError):
    """Listening cannot work here; the message says what to install or set."""


@dataclass
class Audio:
    samples: np.ndarray                  # int16, [frames, channels]
    rate: int
    bar_starts: list[float] = field(default_factory=list)   # seconds at which each rendered measure starts

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    def pcm(self, from_s: float = 0.0) -> bytes:
        """Interleaved little-endian 16-bit samples from `from_s` seconds on."""
        start = min(len(self.samples), max(0, int(round(from_s * self.rate))))
        return self.samples[start:].astype("<i2").tobytes()


def soundfont_path() -> Path | None:
    chosen = os.environ.get(SOUNDFONT_ENV)
    if chosen:
        return Path(chosen) if Path(chosen).is_file() else None
    spec = importlib.util.find_spec("pretty_midi")   # the file only: importing pretty_midi is not needed
    for folder in (spec.submodule_search_locations or []) if spec else []:
        font = Path(folder) / "TimGM6mb.sf2"
        if font.is_file():
            return font
    return next((Path(p) for p in _SYSTEM_FONTS if Path(p).is_file()), None)


def synthesiser_problem() -> str | None:
    """None when scores can be rendered to sound here, else what to do about it."""
    if importlib.util.find_spec("midirenderer") is None:
        return "the synthesiser is not installed: pip install 'notabridge[ui]' (it brings midirenderer)"
    if soundfont_path() is None:
        if os.environ.get(SOUNDFONT_ENV):
            return f"{SOUNDFONT_ENV}={os.environ[SOUNDFONT_ENV]} is not a file: point it at a .sf2 sound font"
        return "no General MIDI sound font: pip install 'notabridge[ui]' (pretty_midi ships one)"
    return None


def measure_length(measure: dict) -> Fraction:
    """A measure's length in whole notes: its own duration (pickups), else its time signature."""
    if measure.get("duration"):
        return Fraction(measure["duration"])
    top, bottom = measure["time"].split("/")
    return Fraction(sum(int(t) for t in top.split("+")), int(bottom))


def excerpt_to_midi_bytes(excerpt: dict) -> tuple[bytes, list[float]]:
    """Standard MIDI File of the excerpt (one channel per part, its GM program, ties held) and
    the start of every measure in seconds."""
    import mido

    channel_of, program_of = {}, {}
    for n, part in enumerate(excerpt["parts"]):
        channel = n if n < 9 else n + 1   # channel 10 is drums in General MIDI
        for staff in part["staves"]:
            channel_of[staff] = min(channel, 15)
        program_of[min(channel, 15)] = int(part.get("midi_program", 0))
    notes: list[tuple[Fraction, Fraction, int, int]] = []   # start, end (whole notes), channel, pitch
    tempo_marks: list[tuple[Fraction, float]] = []
    open_ties: dict[tuple, int] = {}    # (staff, voice, pitch) -> index in notes of the held note
    bar_starts_whole: list[Fraction] = []
    at = Fraction(0)
    tempo = float(DEFAULT_TEMPO)
    for measure in excerpt["measures"]:
        bar_starts_whole.append(at)
        if measure.get("tempo"):
            tempo = float(measure["tempo"])
        if not tempo_marks or tempo_marks[-1][1] != tempo:
            tempo_marks.append((at, tempo))
        for staff in measure["staves"]:
            channel = channel_of.get(staff["staff"], 0)
            for voice in staff["voices"]:
                t = at
                for event in voice["events"]:
                    length = Fraction(event["duration"])
                    for note in event.get("notes") or [] if event["type"] == "chord" else []:
                        key = (staff["staff"], voice["voice"], note["pitch"])
                        tie = note.get("tie")
                        if tie in ("stop", "continue") and key in open_ties:
                            held = open_ties.pop(key)
                            s, _, c, p = notes[held]
                            notes[held] = (s, t + length, c, p)
                        else:
                            held = len(notes)
                            notes.append((t, t + length, channel, note["pitch"]))
                        if tie in ("start", "continue"):
                            open_ties[key] = held
                    t += length
        at += measure_length(measure)

    def ticks(whole: Fraction) -> int:
        return int(round(whole * 4 * TICKS_PER_QUARTER))

    def seconds(whole: Fraction) -> float:
        total, marks = 0.0, tempo_marks + [(at, 0.0)]
        for (start, qpm), (end, _) in zip(marks, marks[1:]):
            if whole <= start:
                break
            total += float(min(whole, end) - start) * 4 * 60.0 / qpm
        return total

    events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []   # tick, order, message
    for start, qpm in tempo_marks:
        events.append((ticks(start), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm))))
    for channel, program in program_of.items():
        events.append((0, 1, mido.Message("program_change", channel=channel, program=program)))
    for start, end, channel, pitch in notes:
        events.append((ticks(end), 2, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        events.append((ticks(start), 3, mido.Message("note_on", channel=channel, note=pitch, velocity=VELOCITY)))
    events.append((ticks(at), 4, mido.MetaMessage("end_of_track")))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    last = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - last))
        last = tick
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.append(track)
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue(), [seconds(s) for s in bar_starts_whole]


def render(excerpt: dict) -> Audio:
    """The excerpt as sound (all its measures), at a fixed gain (so two variants compare fairly)."""
    problem = synthesiser_problem()
    if problem:
        raise AudioError(problem)
    import midirenderer

    font = soundfont_path()
    assert font is not None
    if font not in _font_cache:
        _font_cache[font] = font.read_bytes()
    midi, bar_starts = excerpt_to_midi_bytes(excerpt)
    try:
        wav = midirenderer.render_wave_from(_font_cache[font], midi)
    except (ValueError, RuntimeError) as exc:
        raise AudioError(f"the synthesiser could not render this score: {exc}") from exc
    with wave.open(io.BytesIO(wav)) as reader:
        if reader.getsampwidth() != 2:
            raise AudioError(f"the synthesiser wrote {8 * reader.getsampwidth()}-bit samples; 16-bit expected")
        frames = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
        samples = frames.reshape(-1, reader.getnchannels())
        rate = reader.getframerate()
    peak = int(np.abs(samples.astype(np.int32)).max()) if samples.size else 0
    gain = min(GAIN, HEADROOM * 32767 / peak) if peak else GAIN
    samples = np.clip(samples.astype(np.float32) * gain, -32768, 32767).astype(np.int16)
    return Audio(samples, rate, bar_starts)
