"""Selecting measures on MuseScore 3.2.3, which has no selection.selectRange: the plugin's own
selectMeasures (the batch file's "measures", the dialog's scripted runs, the writes) must select
exactly the measures asked for on real scores (pickups, whole-bar rests, voltas, transposing
instruments), or refuse before anything changes."""
from __future__ import annotations

import random

import pytest

from tests.musescore_helpers import REAL_SCORES, needs_mscore, run_probe


def random_ranges(measures: int, staves: int, count: int, seed: int) -> list[list[int]]:
    """[start, end, last staff, first staff, inside an undo command] ranges, first and last measures and
    single measures included; every other range is selected as inside an open undo command."""
    rng = random.Random(seed)
    ranges = [[0, 1, staves - 1, 0], [measures - 1, measures, staves - 1, staves - 1], [0, measures, staves - 1, 0]]
    while len(ranges) < count:
        start, first = rng.randrange(measures), rng.randrange(staves)
        ranges.append([start, rng.randint(start + 1, min(measures, start + 5)), rng.randrange(first, staves), first])
    return [r + [i % 2] for i, r in enumerate(ranges)]


@needs_mscore
@pytest.mark.parametrize("name", [name for name, _ in REAL_SCORES])
def test_selects_exactly_the_measures_asked_for(plugin_dir, real_scores, ms_home, name):
    shape = run_probe(plugin_dir, "selection_probe", real_scores[name], {"ranges": []}, ms_home)
    ranges = random_ranges(shape["measures"], shape["staves"], 60, seed=len(name))
    found = run_probe(plugin_dir, "selection_probe", real_scores[name], {"ranges": ranges}, ms_home)["rows"]
    wrong = [row for row in found if not row["ok"] or row["read"] != row["range"][:4]]
    assert not wrong, f"{len(wrong)} of {len(found)} ranges not selected exactly, e.g. {wrong[:3]}"


@needs_mscore
def test_multi_measure_rests_that_hide_the_range_are_refused(plugin_dir, ms_home, tmp_path):
    """Shown multi-measure rests merge bars MuseScore's navigation cannot tell apart: such a range is
    refused with what to do; ranges clear of them are still exact."""
    from music21 import meter, note, stream

    from tests.musescore_helpers import convert

    score = stream.Score()
    for low in (0, 12):
        part = stream.Part()
        for m in range(10):
            measure = stream.Measure(number=m + 1)
            if m == 0:
                measure.append(meter.TimeSignature("4/4"))
            if 2 <= m <= 5:          # bars 3-6 silent in every staff: one multi-measure rest
                measure.append(note.Rest(quarterLength=4))
            else:
                measure.append([note.Note(72 - low + k, quarterLength=1) for k in range(4)])
            part.append(measure)
        score.append(part)
    score.write("musicxml", str(tmp_path / "rests.musicxml"))
    plain = convert(tmp_path / "rests.musicxml", tmp_path / "rests.mscx", ms_home)
    shown = tmp_path / "rests_mm.mscx"
    shown.write_text(plain.read_text().replace("<Style>", "<Style>\n      <createMultiMeasureRests>1</createMultiMeasureRests>", 1))
    ranges = [[a, b, last, first] for a in range(10) for b in range(a + 1, 11) for first, last in ((0, 0), (0, 1), (1, 1))]
    rows = run_probe(plugin_dir, "selection_probe", shown, {"ranges": ranges}, ms_home)["rows"]
    for row in rows:
        if row["ok"]:
            assert row["read"] == row["range"], row
        else:
            assert "did not select exactly" in row["message"] and "multi-measure rests" in row["message"], row
    refused = [row["range"] for row in rows if not row["ok"]]
    assert [3, 4, 1, 0] in refused                     # one bar inside the multi-measure rest
    assert not [r for r in refused if r[0] >= 7]       # ranges clear of it are selected
