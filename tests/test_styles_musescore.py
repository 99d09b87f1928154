"""Style suggestion from the MuseScore plugin on the real MuseScore 3 (headless batch file),
against a daemon running the embedded model: the selection is read from the score, sent to
POST /suggest, and the answer reported; the score itself is not touched."""
from __future__ import annotations

import pytest

from tests.musescore_helpers import needs_mscore, run_batch


@pytest.fixture(scope="module")
def default_daemon_url():
    from notabridge.engine.bundle import DEFAULT_BUNDLE
    from tests.daemon_helpers import running_daemon

    with running_daemon(DEFAULT_BUNDLE) as d:
        host, port = d.http.server_address[:2]
        yield f"http://{host}:{port}"


@needs_mscore
def test_plugin_suggests_styles_for_the_selected_measures(plugin_dir, scores, ms_home, default_daemon_url):
    before = scores["chorale"].read_bytes()
    report = run_batch(plugin_dir, scores["chorale"], {"mode": "suggest", "measures": [0, 8], "staves": [0, 1, 2, 3],
                                                       "daemon": default_daemon_url}, ms_home)
    assert report["ok"], report["message"]
    top = report["suggestions"]["suggestions"]
    assert len(top) == 3 and report["suggestions"]["bars_scored"] == 8
    assert report["message"].startswith("Styles that fit the selection best: 1. " + " / ".join(top[0]["prompt"]))
    import json
    from notabridge.engine.bundle import DEFAULT_BUNDLE
    known = json.loads((DEFAULT_BUNDLE / "prompts.json").read_text())
    assert all(item["prompt"] in known for item in top)
    assert report["written"] == [] and scores["chorale"].read_bytes() == before


@needs_mscore
def test_plugin_suggest_without_a_daemon_says_how_to_start_it(plugin_dir, scores, ms_home):
    report = run_batch(plugin_dir, scores["chorale"], {"mode": "suggest", "measures": [0, 4], "staves": [0],
                                                       "daemon": "http://127.0.0.1:9"}, ms_home)
    assert not report["ok"] and "not running" in report["message"]
