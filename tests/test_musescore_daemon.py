"""The MuseScore plugin end to end: the real MuseScore 3 runs the installed plugin headless (batch
file), which reads the selection, sends it to a running NotaBridge daemon (real engine, embedded
model when present, else the tiny test bundle), writes the answer into the score and saves it.
The saved score is checked with music21: every original note outside the edited measures is
still there, and every new measure is complete in every voice of every staff."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon_helpers import running_daemon
from tests.musescore_helpers import content, needs_mscore, parse_with_music21, run_batch, staff_measures, voices_complete
from tests.musescore_helpers import ms_home, originals, plugin_dir, scores  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parent.parent
EMBEDDED = REPO / "models" / "default"


@pytest.fixture(scope="module")
def daemon(request):
    pytest.importorskip("bridge.compose", reason="bridge.compose (the engine's excerpt level) is not in this checkout yet")
    bundle = EMBEDDED if (EMBEDDED / "config.json").is_file() else request.getfixturevalue("tiny_bundle")
    with running_daemon(bundle) as d:
        host, port = d.http.server_address[:2]
        yield f"http://{host}:{port}"


# (score, selected measures, staves the selection names)
CASES = [("chorale", (2, 4), [0, 1, 2, 3]), ("rag", (4, 6), [0, 1]), ("demo", (3, 5), [0, 1, 2, 3])]


def run_mode(plugin_dir, score, home, tmp_path, daemon, mode, measures, staves, bars=2) -> tuple[dict, Path]:
    out = tmp_path / f"{score.stem}_{mode}.mscx"
    report = run_batch(plugin_dir, score, {"mode": mode, "measures": list(measures), "staves": staves,
                                           "daemon": daemon, "output": str(out), "context_before": 4,
                                           "settings": {"bars": bars, "variants": 1, "seed": 11}}, home, timeout=300)
    assert report["ok"], report["message"]
    return report, out


@needs_mscore
@pytest.mark.parametrize("name,measures,staves", CASES)
def test_continue_writes_new_complete_measures_after_the_selection(plugin_dir, scores, originals, ms_home, tmp_path,
                                                                   daemon, name, measures, staves):
    report, out = run_mode(plugin_dir, scores[name], ms_home, tmp_path, daemon, "continue", measures, staves)
    end = measures[1]
    assert report["written"] == [end, end + 1]
    before, after = originals[name], staff_measures(parse_with_music21(out, ms_home))
    for s in range(len(before)):
        # the bars after the selection held notes, so two empty ones were inserted for the new music
        assert len(after[s]) == len(before[s]) + 2
        for i in range(end):
            assert content(after[s][i]) == content(before[s][i]), f"staff {s} measure {i} changed"
        for i in range(end, len(before[s])):
            assert content(after[s][i + 2]) == content(before[s][i]), f"staff {s} measure {i} (moved) changed"
        for i in (end, end + 1):
            assert voices_complete(after[s][i]) == [], f"staff {s} new measure {i}"


@needs_mscore
@pytest.mark.parametrize("name,measures,staves", CASES)
def test_infill_replaces_the_selection_with_complete_measures(plugin_dir, scores, originals, ms_home, tmp_path,
                                                             daemon, name, measures, staves):
    report, out = run_mode(plugin_dir, scores[name], ms_home, tmp_path, daemon, "infill", measures, staves)
    assert report["written"] == list(range(*measures))
    before, after = originals[name], staff_measures(parse_with_music21(out, ms_home))
    for s in range(len(before)):
        assert len(after[s]) == len(before[s])
        for i in range(len(before[s])):
            if measures[0] <= i < measures[1]:
                assert voices_complete(after[s][i]) == [], f"staff {s} infilled measure {i}"
            else:
                assert content(after[s][i]) == content(before[s][i]), f"staff {s} measure {i} changed"
