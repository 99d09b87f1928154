"""The live session's carried KV cache: a prefill that reuses the previous bar's cache gives the
patch decoder's states of a fresh prefill, and only the patches that changed are run."""
from __future__ import annotations

import numpy as np
import pytest

from notabridge.engine.bundle import DEFAULT_BUNDLE

pytestmark = pytest.mark.skipif(not (DEFAULT_BUNDLE / "config.json").is_file(), reason="no embedded model")
HEADER = ('%Baroque\n%Bach, Johann Sebastian\n%Choral\n%%score 1 2 3 4\nL:1/8\nM:4/4\nK:G\n'
          'V:1 treble nm="Soprano" snm="S."\nV:2 treble nm="Alto" snm="A."\nV:3 bass nm="Tenor" snm="T."\n'
          'V:4 bass nm="Bass" snm="B."\n')
MELODY = ["G2 A2 B2 c2", "d4 B4", "c2 B2 A2 G2", "A6 z2", "B2 c2 d2 e2", "d8"]


def test_bars_written_one_after_another_carry_the_cache_and_match_a_fresh_prefill():
    from notabridge.abc.patching import line_patches, patches_to_ids
    from notabridge.engine import Engine
    from notabridge.engine.live_session import LiveSession, LiveWriter, melody_segment
    from notabridge.engine.sampling import Sampling

    engine = Engine(DEFAULT_BUNDLE, device="cpu")
    session = LiveSession(engine, HEADER, take_bars=32)
    lines, reused = [], []
    for bar, melody in enumerate(MELODY):
        written = session.write_bar(lines, melody_segment("1", melody), Sampling(seed=bar))
        assert written.line.startswith(f"[V:1]{melody}|[V:2]")
        lines.append(written.line)
        reused.append(written.reused_patches)
    assert reused[0] == 0 and all(r > 0 for r in reused[1:])
    assert reused == sorted(reused)                       # the carried part grows with the take
    # the same context through the carried cache and through a fresh prefill: the same states
    writer = LiveWriter(take_bars=32, prompt=[], header=session.header, prefix_body=lines, bars=1, given=[[]])
    ids = patches_to_ids(writer.context(engine.runner.patch_length - 1))[None]
    carried, _ = session.runner.patch(ids, session.runner.empty("patch", 1))
    assert session.runner.reused > 0
    fresh, _ = engine.runner.patch(ids, engine.runner.empty("patch", 1))
    np.testing.assert_allclose(carried, fresh, atol=2e-4, rtol=1e-3)
    # the take's `[r:i/j]` prefixes count down from its nominal length and never say "last bar"
    assert writer.body_lines[0].startswith("[r:0/31]") and line_patches(writer.body_lines[-1], True)
