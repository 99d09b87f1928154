"""Property test: random excerpts (meters, keys, spellings incl. double sharps/flats, tuplets,
dots, chords, ties, several voices) survive excerpt -> NotaGen ABC -> excerpt exactly."""
from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from notabridge.notation import abc_to_excerpt, excerpt_to_abc, validate_excerpt
from notabridge.notation.compare import excerpt_differences
from notabridge.notation.spelling import consistent, octave_from_midi, step_from_tpc

METERS = {"2/4": Fraction(1, 2), "3/4": Fraction(3, 4), "4/4": Fraction(1), "6/8": Fraction(3, 4), "3/8": Fraction(3, 8)}
# groups of events that fill a span; triplets stay inside one beat as notation requires
CELLS = [["1/4"], ["1/8", "1/8"], ["3/16", "1/16"], ["1/16", "1/16", "1/8"], ["1/12", "1/12", "1/12"], ["1/8", "1/16", "1/16"]]


@st.composite
def voice_events(draw, length: Fraction, allow_rests: bool = True):
    events = []
    total = Fraction(0)
    while total < length:
        left = length - total
        if left >= Fraction(1, 2) and draw(st.booleans()):
            durations = [draw(st.sampled_from(["1/2", "3/8"] if left < Fraction(3, 4) else ["1/2", "3/4", "3/8"]))]
        elif left >= Fraction(1, 4):
            durations = draw(st.sampled_from(CELLS))
        else:
            durations = [str(left)] if left in (Fraction(1, 8), Fraction(1, 16), Fraction(3, 16)) else ["1/16"] * int(left * 16)
        for d in durations:
            value = Fraction(d)
            if allow_rests and draw(st.integers(0, 5)) == 0:
                event = {"type": "rest", "duration": d}
            else:
                size = draw(st.integers(1, 3))
                notes = []
                for _ in range(size):
                    tpc = draw(st.integers(0, 33))
                    octave_base = draw(st.integers(3, 5))
                    pitch = next(p for p in range(12 * octave_base, 12 * octave_base + 12) if consistent(p, tpc))
                    # one note per staff position: ABC ties by letter and octave, so a tied
                    # chord holding Cb and Cbb together cannot be written (docs/notation_sweep.md)
                    position = (step_from_tpc(tpc)[0], octave_from_midi(pitch, *step_from_tpc(tpc)))
                    if all((step_from_tpc(n["tpc"])[0], octave_from_midi(n["pitch"], *step_from_tpc(n["tpc"]))) != position for n in notes):
                        notes.append({"pitch": pitch, "tpc": tpc, "tie": None})
                event = {"type": "chord", "duration": d, "notes": notes}
            if value.denominator % 3 == 0:
                event["tuplet"] = {"actual": 3, "normal": 2}
            events.append(event)
            total += value
    return events


@st.composite
def excerpts(draw):
    meter = draw(st.sampled_from(sorted(METERS)))
    length = METERS[meter]
    staves = draw(st.integers(1, 2))
    measures = []
    for i in range(draw(st.integers(1, 3))):
        key = draw(st.integers(-7, 7))
        staff_entries = []
        for s in range(staves):
            voices = [{"voice": 0, "events": draw(voice_events(length))}]
            if s == 0 and draw(st.booleans()):
                voices.append({"voice": 1, "events": draw(voice_events(length))})
            staff_entries.append({"staff": s, "voices": voices})
        measures.append({"index": i, "number": i + 1, "time": meter, "key": key, "staves": staff_entries})
    # tie the last chord of a voice to a repeated first chord of the next measure
    for a, b in zip(measures, measures[1:]):
        first = b["staves"][0]["voices"][0]["events"][0]
        last = a["staves"][0]["voices"][0]["events"][-1]
        if draw(st.booleans()) and last["type"] == "chord":
            duration, tuplet = first["duration"], first.get("tuplet")
            first.clear()
            first.update({"type": "chord", "duration": duration, "notes": [dict(n, tie="stop") for n in last["notes"]]})
            if tuplet:
                first["tuplet"] = tuplet
            for n in last["notes"]:
                n["tie"] = "start"
    return {"format": "notabridge-excerpt", "version": 1, "title": "",
            "parts": [{"id": "P1", "name": "Piano", "staves": list(range(staves)), "midi_program": 0}],
            "staves": [{"index": s, "part": "P1", "clef": "treble" if s == 0 else "bass"} for s in range(staves)],
            "measures": measures, "warnings": []}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(excerpts())
def test_random_excerpts_survive_the_abc_round_trip(excerpt):
    assert validate_excerpt(excerpt) == []
    assume(any(e["type"] == "chord" for m in excerpt["measures"] for s in m["staves"] for v in s["voices"] for e in v["events"]))
    back = abc_to_excerpt(excerpt_to_abc(excerpt), template=excerpt)
    assert excerpt_differences(excerpt, back) == []
    assert [(m["time"], m["key"]) for m in back["measures"]] == [(m["time"], m["key"]) for m in excerpt["measures"]]
