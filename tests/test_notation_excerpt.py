"""Excerpt JSON v1: validation, MusicXML / music21 / MIDI / ABC round trips, measure ranges."""
from __future__ import annotations

import copy

import pytest
from music21 import corpus

from notabridge.notation import (NotationError, abc_to_excerpt, check_excerpt, cut_measures, excerpt_from_midi,
                             excerpt_from_musicxml, excerpt_from_score, excerpt_to_abc, excerpt_to_midi,
                             excerpt_to_musicxml, excerpt_to_score, indices_for_numbers, splice_measures, split_abc,
                             validate_excerpt)
from notabridge.notation.compare import excerpt_differences
from tests.notation_helpers import chord, piano_excerpt, rest


def test_hand_written_excerpt_is_valid():
    assert validate_excerpt(piano_excerpt()) == []


def test_validation_reports_path_and_reason_of_every_error():
    bad = piano_excerpt()
    bad["measures"][1]["staves"][0]["voices"][0]["events"][1]["notes"][0]["tpc"] = 14  # C is not MIDI 77
    bad["measures"][2]["staves"][1]["voices"][0]["events"][0]["duration"] = "1/2"     # voice too short
    bad["measures"][3]["staves"][2]["staff"] = 7                                         # unknown staff
    errors = validate_excerpt(bad)
    assert "measures[1].staves[0].voices[0].events[1].notes[0]: tpc 14 is not a spelling of MIDI pitch 77" in errors
    assert "measures[2].staves[1].voices[0]: events last 1/2 but the measure lasts 1" in errors
    assert "measures[3].staves[2].staff: staff 7 is not in the staves list" in errors
    assert len(errors) == 3
    schema_bad = piano_excerpt()
    schema_bad["measures"][0]["key"] = 9
    schema_bad["measures"][1]["staves"][0]["voices"][0]["events"][0]["duration"] = "three eighths"
    errors = validate_excerpt(schema_bad)
    assert any(e.startswith("measures[0].key:") for e in errors)
    assert any(e.startswith("measures[1].staves[0].voices[0].events[0].duration:") for e in errors)
    with pytest.raises(NotationError, match="measures\\[0\\].key"):
        check_excerpt(schema_bad)


@pytest.mark.parametrize("route", ["musicxml", "music21", "abc"])
def test_hand_written_excerpt_survives_every_route(route):
    original = piano_excerpt()
    if route == "musicxml":
        back = excerpt_from_musicxml(excerpt_to_musicxml(original))
    elif route == "music21":
        back = excerpt_from_score(excerpt_to_score(original))
    else:
        back = abc_to_excerpt(excerpt_to_abc(original), template=original)
    assert excerpt_differences(original, back) == []
    assert [m["time"] for m in back["measures"]] == ["3/4", "3/4", "4/4", "4/4"]
    assert [m["key"] for m in back["measures"]] == [2, 2, -3, -3]
    assert back["measures"][0].get("duration") == "1/4"
    assert validate_excerpt(back) == []
    ties = [n["tie"] for m in back["measures"][1:3] for e in m["staves"][0]["voices"][0]["events"] for n in e.get("notes", [])]
    assert "start" in ties and "stop" in ties


def test_musicxml_round_trip_keeps_parts_clefs_tempo():
    back = excerpt_from_musicxml(excerpt_to_musicxml(piano_excerpt()))
    assert [(p["name"], p["staves"], p["midi_program"]) for p in back["parts"]] == [("Flute", [0], 73), ("Piano", [1, 2], 0)]
    assert [s["clef"] for s in back["staves"]] == ["treble", "treble", "bass"]
    assert back["measures"][0]["tempo"] == 80


def test_corpus_chorale_through_abc_and_back():
    original = excerpt_from_musicxml(corpus.getWork("bach/bwv66.6"))
    abc = excerpt_to_abc(original, prompt=("Baroque", "Bach, Johann Sebastian", "Choral"))
    assert excerpt_differences(original, abc_to_excerpt(abc, template=original)) == []


def test_engine_style_abc_header_prefix_and_generated_bars_convert_back():
    """The engine keeps the header, feeds prefix bars and appends generated ones (with [r:] marks
    and rest reduction): the result lands on the template's staves, continuing its indices."""
    excerpt = piano_excerpt()
    excerpt["measures"][1]["staves"][0]["voices"][0]["events"] = [rest("3/4")]  # flute silent in bar 1
    header, bars = split_abc(excerpt_to_abc(excerpt))
    assert len(bars) == 4 and header.startswith("%%score")
    assert "[V:1]" not in bars[3]  # the flute's rest bar is dropped (rest reduction)
    generated = ["[r:4/1]" + bars[3], "[r:5/0]" + bars[1]]  # two new bars after the excerpt
    back = abc_to_excerpt(header + "".join(bars) + "".join(generated), template=excerpt)
    assert [m["index"] for m in back["measures"]] == [0, 1, 2, 3, 4, 5]
    assert [m["number"] for m in back["measures"]] == [0, 1, 2, 3, 4, 5]
    new = {"measures": back["measures"][4:]}
    assert excerpt_differences({"measures": [dict(excerpt["measures"][3], index=4)]}, {"measures": new["measures"][:1]}) == []
    only_new = abc_to_excerpt(header + "".join(generated), template=excerpt, first_index=4)  # what compose does
    assert [(m["index"], m["number"]) for m in only_new["measures"]] == [(4, 4), (5, 5)]
    assert excerpt_differences({"measures": back["measures"][4:]}, only_new) == []
    # bars after a key and meter change in the template, sent without the bars before them
    infill = abc_to_excerpt(header + "".join(bars[3:]), template=excerpt, first_index=3)
    assert excerpt_differences({"measures": excerpt["measures"][3:]}, infill) == []
    assert (infill["measures"][0]["key"], infill["measures"][0]["time"]) == (-3, "4/4")
    flute_bar5 = next(s for s in back["measures"][5]["staves"] if s["staff"] == 0)
    assert all(e["type"] == "rest" for v in flute_bar5["voices"] for e in v["events"])
    assert validate_excerpt(back) == []


def test_silent_staff_keeps_other_staves_in_place():
    """A staff with no notes at all is absent from the ABC; the others must not shift."""
    excerpt = piano_excerpt()
    for measure in excerpt["measures"]:
        measure["staves"][1] = {"staff": 1, "voices": [{"voice": 0, "events": [rest(measure.get("duration") or {"3/4": "3/4", "4/4": "1/1"}[measure["time"]])]}]}
    abc = excerpt_to_abc(excerpt)
    assert "V:2" in abc and "V:3" not in abc  # flute and the bass staff; the silent right hand is left out
    back = abc_to_excerpt(abc, template=excerpt)
    assert excerpt_differences(excerpt, back) == []


def test_midi_round_trip_keeps_pitches_meter_and_tempo():
    original = excerpt_from_musicxml(corpus.getWork("bach/bwv66.6"))
    original["measures"] = original["measures"][1:]  # MIDI has no pickups: start on a full bar
    for i, m in enumerate(original["measures"]):
        m["index"] = i
    original["measures"][0]["tempo"] = 96
    back = excerpt_from_midi(excerpt_to_midi(original))
    assert back["measures"][0]["tempo"] == 96
    assert all(m["time"] == "4/4" for m in back["measures"])
    def pitches(e):  # struck notes (tied continuations are one MIDI note)
        return sorted((m["index"], s["staff"], n["pitch"]) for m in e["measures"] for s in m["staves"]
                      for v in s["voices"] for ev in v["events"] for n in ev.get("notes", [])
                      if n.get("tie") not in ("stop", "continue"))
    assert pitches(back) == pitches(original)
    assert any("quantised" in w for w in back["warnings"])


def test_midi_round_trip_of_a_part_that_ends_in_silence():
    """MIDI keeps no trailing rests: the silent part's last bar comes back as a rest bar, not as
    a score with parts of different lengths (seen when the panel saved a result as .mid)."""
    abc = "L:1/8\nM:3/4\nK:G\nV:1 treble\nV:2 bass\n[V:1]G2 A2 B2|[V:2]G,6|\n[V:1]d6|[V:2]z6|\n"
    back = excerpt_from_midi(excerpt_to_midi(abc_to_excerpt(abc, first_index=0)))
    assert len(back["measures"]) == 2
    last_bass = back["measures"][1]["staves"][1]["voices"][0]["events"]
    assert [(e["type"], e["duration"]) for e in last_bass] == [("rest", "3/4")]


def test_cut_keeps_context_and_records_selection():
    excerpt = piano_excerpt()
    start, end = indices_for_numbers(excerpt, 2, 3)
    cut = cut_measures(excerpt, start, end, context=1, staves=[1, 2])
    assert [m["index"] for m in cut["measures"]] == [1, 2, 3]
    assert cut["selection"] == {"start": 2, "end": 4, "staves": [1, 2]}
    with pytest.raises(NotationError):
        indices_for_numbers(excerpt, 5, 9)


def test_infill_replaces_only_given_staves():
    excerpt = piano_excerpt()
    new_bar = {"index": 2, "number": 2, "time": "4/4", "key": -3,
               "staves": [{"staff": 1, "voices": [{"voice": 0, "events": [chord("1/1", (60, 14))]}]}]}
    result = splice_measures(excerpt, {"measures": [new_bar]}, mode="infill")
    assert result["measures"][2]["staves"][1]["voices"][0]["events"][0]["notes"][0]["pitch"] == 60
    assert result["measures"][2]["staves"][0] == excerpt["measures"][2]["staves"][0]
    assert result["measures"][3] == excerpt["measures"][3]
    assert validate_excerpt(result) == []
    assert excerpt["measures"][2]["staves"][1]["voices"][0]["events"][0]["notes"][0]["pitch"] == 63  # input untouched


def test_continue_inserts_after_selection_and_moves_the_rest():
    excerpt = piano_excerpt()
    excerpt["selection"] = {"start": 1, "end": 3, "staves": [0]}
    new_bar = {"index": 0, "time": "4/4", "key": -3,
               "staves": [{"staff": 0, "voices": [{"voice": 0, "events": [chord("1/1", (72, 14))]}]}]}
    result = splice_measures(excerpt, {"measures": [new_bar]}, mode="continue")
    assert [m["index"] for m in result["measures"]] == [0, 1, 2, 3, 4]
    assert result["measures"][3]["staves"][0]["voices"][0]["events"][0]["notes"][0]["pitch"] == 72
    assert result["measures"][4]["staves"][1] == excerpt["measures"][3]["staves"][1]
    assert [s["staff"] for s in result["measures"][3]["staves"]] == [0, 1, 2]  # missing staves get rests
    assert validate_excerpt(result) == []
    bad = copy.deepcopy(new_bar)
    bad["staves"][0]["staff"] = 9
    with pytest.raises(NotationError):
        splice_measures(excerpt, {"measures": [bad]}, mode="continue")


def test_a_bar_split_at_a_repeat_keeps_its_printed_number_and_later_bars_keep_theirs():
    # BWV 347 numbers its bars 0, 1, 2, 3, 4, "4a" (after the repeat), 5, 6, ...: "4a" once read as
    # bar 6, so --measures 1-6 ended after it, two bars early
    from music21 import corpus

    excerpt = excerpt_from_musicxml(str(corpus.getWork("bach/bwv347")))
    assert [m["number"] for m in excerpt["measures"][:8]] == [0, 1, 2, 3, 4, 4, 5, 6]
    assert indices_for_numbers(excerpt, 1, 6) == (1, 8)
    assert indices_for_numbers(excerpt, 1, 4) == (1, 6)       # both halves of bar 4
    assert indices_for_numbers(excerpt, 4, 5) == (4, 7)
