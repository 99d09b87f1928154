"""Bar validity on real interleaved ABC (a Bach chorale from music21's corpus) and on
hand-checked fragments: inline meter/unit changes, overlays, tuplets, rests for missing voices."""
from fractions import Fraction

import pytest

from notabridge.abc.bar_check import check_bar, header_context, parse_line, unreadable
from notabridge.abc.patching import split_piece

HEADER = "L:1/8\nM:3/4\nK:G\nV:1 treble\nV:2 bass\n"


@pytest.fixture(scope="module")
def chorale():
    from music21 import corpus

    from notabridge.notation import to_abc

    return split_piece(to_abc(corpus.parse("bach/bwv66.6")))


def test_every_full_bar_of_a_real_chorale_is_valid(chorale):
    ctx = header_context(chorale.header)
    assert ctx.voices == ["1", "2", "3", "4"] and ctx.default.bar == 1
    body = chorale.body
    results = [check_bar(line, ctx) for line in body]
    # only the pickup bar (a quarter) is short; the closing bar is filled with invisible x rests
    assert not results[0].valid and "voice 1 lasts 1/4" in results[0].reasons[0]
    assert all(r.valid for r in results[1:]), [r.reasons for r in results if not r.valid]
    assert check_bar(body[0], ctx, pickup_ok=True).valid


def test_a_chorale_bar_with_a_voice_shortened_is_refused(chorale):
    ctx = header_context(chorale.header)
    line = chorale.body[1]
    _, segments = parse_line(line)
    broken = line.replace(segments[1].content, segments[1].content.rsplit(" ", 1)[0], 1)
    result = check_bar(broken, ctx)
    assert not result.valid and any("voice 2" in r for r in result.reasons)


def test_missing_voices_are_filled_with_rests_in_header_order(chorale):
    ctx = header_context(chorale.header)
    _, segments = parse_line(chorale.body[1])
    only_bass = f"[V:4]{segments[3].content}|\n"
    result = check_bar(only_bass, ctx)
    assert result.valid
    assert result.line == f"[V:1]z8|[V:2]z8|[V:3]z8|[V:4]{segments[3].content}|\n"


@pytest.mark.parametrize("line, length", [
    ("[V:1]G2 A2 B2|[V:2]G,6|\n", Fraction(3, 4)),
    ("[V:1](3GAB (3cde z2|[V:2]G,6|\n", Fraction(3, 4)),          # triplets
    ("[V:1]G3/2A/ B2 c2|[V:2]G,>A, B,4|\n", Fraction(3, 4)),      # dotted halves and broken rhythm
    ("[V:1][GB]2 [Ac]4-|[V:2]!p!G,6|\n", Fraction(3, 4)),         # chords, ties, decorations
    ("[V:1]{/a}G2 \"Am\"A2 B2|[V:2]G,6|\n", Fraction(3, 4)),     # grace notes, chord symbols
    ("[V:1]G6 & B,6|[V:2]G,6|\n", Fraction(3, 4)),                # overlay: each part fills the bar
    ("[V:1][L:1/4]G A B|[V:2]G,6|\n", Fraction(3, 4)),            # inline unit change
])
def test_hand_checked_bars_are_valid(line, length):
    result = check_bar(line, header_context(HEADER))
    assert result.valid, result.reasons
    assert result.length == length


@pytest.mark.parametrize("line, reason", [
    ("[V:1]G2 A2|[V:2]G,6|\n", "voice 1 lasts 1/2"),
    ("[V:1]G6 & B,4|[V:2]G,6|\n", "durations cannot be read"),
    ("[V:1]G6|[V:3]G,6|\n", "not in the header"),
    ("[V:1]G6|[V:1]G6|\n", "twice"),
    ("[V:1]G6|[V:2]'9ez5|\n", "not ABC music"),
    ("[V:1]G6|[V:2]G,6", "unfinished"),
    ("[V:1]G6|[V:2]C,,,,,,6|\n", "outside what instruments play"),      # a weak model's octave marks
])
def test_broken_bars_are_refused_with_a_reason(line, reason):
    result = check_bar(line, header_context(HEADER))
    assert not result.valid
    assert any(reason in r for r in result.reasons), result.reasons


def test_inline_meter_change_applies_from_that_bar_on():
    ctx = header_context(HEADER)
    assert check_bar("[V:1][M:2/4]G4|[V:2][M:2/4]G,4|\n", ctx).valid
    assert check_bar("[V:1]A4|[V:2]A,4|\n", ctx).valid       # 2/4 stays in force
    assert not check_bar("[V:1]A6|[V:2]A,6|\n", ctx).valid
    assert not check_bar("[V:1][M:2/4]G4|[V:2][M:2/4]G,4|\n", header_context(HEADER),
                         keep_meter_and_key=True).valid
    assert not check_bar("[V:1][K:D]G6|[V:2]G,6|\n", header_context(HEADER), keep_meter_and_key=True).valid
    # a clef change is written as [K:clef] by xml2abc: not a key change
    assert check_bar("[V:1]G6|[V:2][K:tenor]G,6|\n", header_context(HEADER), keep_meter_and_key=True).valid


def test_free_meter_and_common_time():
    assert check_bar("[V:1]G8|\n", header_context("L:1/8\nM:C\nK:C\nV:1\n")).valid
    free = header_context("L:1/8\nM:none\nK:C\nV:1\nV:2\n")
    assert check_bar("[V:1]G5|[V:2]z5|\n", free).valid
    assert not check_bar("[V:1]G5|[V:2]z4|\n", free).valid


def test_unreadable_points_at_the_garbage():
    assert unreadable("G2 A2 B2") is None
    assert unreadable("G2 A2 %%B2") == "%%B2"


def test_broken_rhythms_count_as_the_notation_layer_reads_them():
    """`B>F/` is a dotted B and a halved F/: 7/4 of the unit, not 3/2 (abctoolkit ignores the
    arrow). A bar the engine calls valid must import as a full bar (seen: 33/32 in 4/4)."""
    from notabridge import notation

    ctx = header_context(["L:1/8\n", "M:4/4\n", "K:C\n", "V:1 treble\n"])
    too_long = "[V:1]A2 B>F/ c4 z/|\n"
    assert not check_bar(too_long, ctx).valid
    full = "[V:1]A2 B>F/ c4 z//|\n"
    assert check_bar(full, ctx).valid
    excerpt = notation.abc_to_excerpt("L:1/8\nM:4/4\nK:C\nV:1 treble\n" + full, first_index=0)
    events = excerpt["measures"][0]["staves"][0]["voices"][0]["events"]
    assert sum(Fraction(e["duration"]) for e in events) == 1
