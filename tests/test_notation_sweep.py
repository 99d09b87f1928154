"""Correctness sweep on real scores (issue 4, item 4): excerpt -> NotaGen ABC -> excerpt must keep
every onset, duration and spelled pitch in every voice. >= 150 pieces of music21's corpus plus
MuseScore 3's demo scores (exported to MusicXML by mscore3 when it is installed).
Targets: >= 98% of Bach chorales, >= 90% of all pieces. Failures and causes: docs/notation_sweep.md.
A bigger sweep: python bench/notation_sweep.py --scale 4
"""
from __future__ import annotations

import shutil

from tests.notation_sweep_pieces import corpus_pieces, musescore_demo_pieces, run_sweep, summary


def test_sweep_of_real_scores(tmp_path):
    pieces = corpus_pieces() + musescore_demo_pieces(tmp_path)
    assert len(pieces) >= 150
    outcomes = run_sweep(pieces)
    report = summary(outcomes)
    print(report)
    bach = [o for o in outcomes if o.piece.group == "bach chorales"]
    assert len(bach) >= 100
    assert sum(o.ok for o in bach) >= 0.98 * len(bach), report
    assert sum(o.ok for o in outcomes) >= 0.90 * len(outcomes), report
    if shutil.which("mscore3"):
        assert any(o.piece.group == "musescore demos" for o in outcomes)
