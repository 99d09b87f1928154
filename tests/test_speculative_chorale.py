"""Speculative decoding end to end on a real chorale with the embedded model: continue and
accompany write valid bars with every voice, as plain decoding does, in fewer char-decoder calls."""
from __future__ import annotations

import pytest

from notabridge.abc.bar_check import check_bar, header_context, parse_line
from notabridge.abc.patching import split_piece
from notabridge.engine import Engine
from notabridge.engine.sampling import Sampling
from notabridge.engine.writer import _has_notes


@pytest.fixture(scope="module")
def chorale():
    from music21 import corpus

    from notabridge.notation import to_abc

    return split_piece(to_abc(corpus.parse("bach/bwv66.6"), prompt=("Baroque", "Bach, Johann Sebastian", "Choral")))


@pytest.fixture(scope="module")
def engines():
    from notabridge.engine.bundle import load_bundle

    bundle = load_bundle(None, "cpu", threads=1)   # the embedded model, loaded once for both engines
    assert bundle.draft is not None                # it ships its draft table
    return Engine(bundle, speculative=True), Engine(bundle, speculative=False)


def voices_with_notes(bar: str, ctx) -> list[str]:
    return [s.voice for s in parse_line(bar)[1] if _has_notes(s.content, ctx.state(s.voice))]


@pytest.mark.parametrize("seed", [0, 1])
def test_continue_writes_every_voice_with_speculation(chorale, engines, seed):
    ctx = header_context(chorale.header)
    abc = "".join(chorale.header + chorale.body[:5])
    calls = []
    for engine in engines:
        [variant] = engine.continue_(abc, 3, Sampling(seed=seed))
        assert variant.complete and len(variant.bars) == 3
        for bar in variant.bars:
            assert check_bar(bar, ctx, pickup_ok=True).valid, bar     # phrase ends may be short, as in the user's bars
            assert voices_with_notes(bar, ctx) == ["1", "2", "3", "4"], bar
        assert variant.bits_per_char is not None                     # the surprise is measured both ways
        calls.append(engine.last_run.stats.char_steps / engine.last_run.stats.patch_steps)
    assert engines[0].last_run.speculative.chars_per_call > 1.5
    assert calls[0] < 0.6 * calls[1]                                # char-decoder calls per patch


def test_accompany_writes_the_lower_voices_with_speculation(chorale, engines):
    ctx = header_context(chorale.header)
    abc = "".join(chorale.header + chorale.body[:5])
    soprano = [parse_line(line)[1][0] for line in chorale.body[5:8]]
    given = [f"[V:1]{s.content}{s.barline}\n" for s in soprano]
    engine = engines[0]
    variants = engine.accompany(abc, given, Sampling(seed=3), variants=2)
    assert engine.last_run.speculative is not None and engine.last_run.speculative.calls > 0
    for variant in variants:
        assert variant.complete and len(variant.bars) == 3
        for bar, s in zip(variant.bars, soprano):
            assert check_bar(bar, ctx, pickup_ok=True).valid, bar
            assert parse_line(bar)[1][0].content == s.content          # the given soprano is kept
            assert voices_with_notes(bar, ctx) == ["1", "2", "3", "4"], bar


def test_the_continue_command_writes_every_voice_of_a_real_chorale(tmp_path, capsys):
    """`notabridge continue` with the embedded model (speculation on by default)."""
    from music21 import corpus

    from notabridge.cli.main import main
    from notabridge.notation import read_excerpt

    src = tmp_path / "bwv66.6.mxl"
    src.write_bytes(corpus.getWork("bach/bwv66.6").read_bytes())
    out = tmp_path / "more.musicxml"
    assert main(["continue", str(src), "--measures", "1-4", "--bars", "2", "--seed", "1", "--device", "cpu",
                 "--quiet", "-o", str(out)]) == 0
    given = read_excerpt(src)["measures"]
    measures = read_excerpt(out)["measures"]
    assert len(measures) == len(given) + 2
    after = next(i for i, m in enumerate(given) if m["number"] == 4)   # the new bars follow measure 4
    for m in measures[after + 1:after + 3]:
        sounding = {s["staff"] for s in m["staves"]
                    if any(e["type"] == "chord" for v in s["voices"] for e in v["events"])}
        assert sounding == {0, 1, 2, 3}, m["index"]
    assert "valid on the first try" in capsys.readouterr().out
