"""What a job from the MuseScore plugin gives the model, compared with NotaGen's training text.

The real MuseScore 3 runs the installed plugin on nine real scores (music21 corpus works and
MuseScore's demos, tests/musescore_helpers.REAL_SCORES); the excerpt the plugin sends becomes ABC
as the daemon makes it, and each bar line is compared with NotaGen's own scripts run on the
MusicXML MuseScore exports of the same score (tests/notagen_reference.py). The v1 plugin (no
ties, slurs, marks, beams, dynamics, barlines) got 12% of these lines right (bench/musescore_text.py).
Headers are compared too: key modes and brackets come from the score's own file (score_marks.js).
"""
from __future__ import annotations

import contextlib
import io
import xml.etree.ElementTree as ET

import pytest

from notabridge.notation import excerpt_to_abc
from tests.musescore_helpers import REAL_SCORES, convert, needs_mscore, run_batch

pytest.importorskip("abctoolkit", reason="NotaGen's reference text needs abctoolkit")


def identical_lines(abc: str, header: list[str], bars: list[str]) -> tuple[int, int, bool]:
    """(bars whose line is identical to NotaGen's, bars compared, header identical); all-rest bars
    are left out."""
    lines = abc.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("[V:")), len(lines))
    ours = lines[start:]
    compared = [(i, bar) for i, bar in enumerate(bars) if bar]
    return sum(i < len(ours) and ours[i] == bar for i, bar in compared), len(compared), lines[:start] == header


@pytest.fixture(scope="module")
def plugin_texts(plugin_dir, real_scores, ms_home, tmp_path_factory) -> dict[str, tuple[dict, int, int, bool]]:
    """name -> (the plugin's excerpt of the whole score, identical lines, lines compared, header identical)."""
    from tests.notagen_reference import reference_text

    folder = tmp_path_factory.mktemp("texts")
    out = {}
    for name, _ in REAL_SCORES:
        xml = convert(real_scores[name], folder / f"{name}.musicxml", ms_home)
        header, bars = reference_text(xml)
        measures = len(ET.parse(xml).getroot().find("part").findall("measure"))
        report = run_batch(plugin_dir, real_scores[name], {"mode": "export-only", "measures": [0, measures],
                                                          "context_before": 0}, ms_home, timeout=300)
        assert report["ok"], f"{name}: {report['message']}"
        with contextlib.redirect_stderr(io.StringIO()):
            same, total, same_header = identical_lines(excerpt_to_abc(report["excerpt"]), header, bars)
        out[name] = (report["excerpt"], same, total, same_header)
    return out


@needs_mscore
def test_the_plugin_sends_what_notagen_was_trained_on(plugin_texts):
    same = sum(s for _, s, _, _ in plugin_texts.values())
    total = sum(t for _, _, t, _ in plugin_texts.values())
    shares = {name: f"{s}/{t}" for name, (_, s, t, _) in plugin_texts.items()}
    assert total > 300, shares
    headers = [name for name, (_, _, _, same_header) in plugin_texts.items() if not same_header]
    assert not headers, f"headers differ from NotaGen's: {headers}"
    assert same / total >= 0.85, f"{same}/{total} lines identical to NotaGen's text: {shares}"
    # a chorale with fermatas and ties, and a fugue with dynamics and text: every line
    for name in ("chorale", "fugue"):
        _, s, t, _ = plugin_texts[name]
        assert s == t, f"{name}: {s}/{t}"


@needs_mscore
def test_the_excerpt_carries_version_2_marks(plugin_texts):
    chorale = plugin_texts["chorale"][0]
    assert chorale["version"] == 2 and chorale["beaming"] == "written"
    events = [e for m in chorale["measures"] for s in m["staves"] for v in s["voices"] for e in v["events"]]
    assert sum("fermata" in e.get("marks", []) for e in events) >= 6
    assert any(n["tie"] == "start" for e in events for n in e.get("notes", []))
    assert chorale["measures"][-1].get("barline") == "final"
    assert chorale["measures"][0].get("mode") == "minor"                       # F-sharp minor, not A major
    assert chorale["groups"] == [{"first": "P1", "last": "P4", "symbol": "bracket", "barline": False}]
    gift = plugin_texts["gift"][0]
    assert [m.get("volta") for m in gift["measures"] if m.get("volta")] == ["1", "2"]
    brass = plugin_texts["brass"][0]
    assert brass["parts"][0]["transpose"] == {"diatonic": -1, "chromatic": -2, "octave_change": 0}   # B-flat trumpet
    strings = plugin_texts["strings"][0]
    kinds = {k for m in strings["measures"] for d in m.get("directions", []) for k in d if k in ("dynamics", "wedge")}
    assert kinds == {"dynamics", "wedge"}
    mozart = plugin_texts["mozart"][0]
    events = [e for m in mozart["measures"] for s in m["staves"] for v in s["voices"] for e in v["events"]]
    assert any(e.get("grace") for e in events) and any(e.get("slurs") for e in events)
    assert any(e.get("tuplet", {}).get("start") for e in events)
