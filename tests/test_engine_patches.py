"""Generation-time patches are NotaGen's training-time patches, in every mode.

The real Decoder and BarWriter are driven by a stand-in model that wants one real piece
(tests/oracle_helpers.py): at every character it puts all its mass on the next character of the
piece's training patches. When the writer forces, masks or cuts anything training would not,
the text goes astray and the patches fed back to the model differ from `piece_patches` of the
piece. Pieces: real scores of music21's corpus (chorales, string quartets, keyboard pieces, folk
tunes from ABC files, songs with triplets, madrigals), converted by the notation layer.
"""
import pytest

from notabridge.abc.bar_check import check_bar, header_context, parse_line
from notabridge.engine import Engine
from notabridge.abc.patching import add_line_prefixes, line_patches, piece_patches, split_piece
from notabridge.engine.sampling import Sampling
from tests.oracle_helpers import PIECES, OracleRunner, changes_key_or_meter, piece_abc

MODES = ("generate", "continue", "infill", "accompany")


@pytest.fixture(scope="module")
def pieces() -> dict[str, str]:
    return {name: piece_abc(name) for _, name in PIECES}


def _given_top_voice(header: list[str], gap: list[str]) -> list[str]:
    """The gap's bars holding only voice 1 (a rest where it rests), as compose hands them over."""
    ctx = header_context(header)
    out = []
    for line in gap:
        check = check_bar(line, ctx, pickup_ok=True)
        kept = [s for s in parse_line(check.line if check.valid else line)[1] if s.voice == "1"]
        out.append("".join(f"[V:{s.voice}]{s.content}{s.barline}" for s in kept) + "\n")
    return out


def drive(mode: str, text: str, every_voice: bool = False, range_rule: bool = False, patch_length: int = 512):
    """Run `mode` on the piece with the oracle: (patches fed back to the model, the training
    patches of the same bars, the variant, how often the context slid)."""
    piece = split_piece(text)
    header, body = piece.header, piece.body
    target = piece_patches(text)
    runner = OracleRunner(target, patch_length)
    engine = Engine(runner=runner)
    sampling = Sampling(seed=0)
    head = "".join(header)
    starts = [1 + sum(len(line_patches(h, False)) for h in header)]
    for line in add_line_prefixes(body):
        starts.append(starts[-1] + len(line_patches(line, True)))
    options = dict(every_voice=every_voice, range_rule=range_rule)
    if mode == "generate":
        [variant] = engine.generate([], len(body), sampling, every_voice=every_voice)
        first, last = 1, starts[-1]
    elif mode == "continue":
        [variant] = engine.continue_(head + body[0], len(body) - 1, sampling, **options)
        first, last = starts[1], starts[-1]
    elif mode == "infill":
        [variant] = engine.infill(head + body[0], len(body) - 2, body[-1:], sampling, variants=1, candidates=1,
                                  **options)
        first, last = starts[1], starts[-2]
    else:
        given = _given_top_voice(header, body[1:])
        [variant] = engine.accompany(head + body[0], given, sampling, **options)
        first, last = starts[1], starts[-1]
    expected = target[first:last]
    return runner.fed[:len(expected)], expected, variant, engine.last_run.stats.slides


def _without_unjustified_final_bar(text: str) -> str:
    """The piece without its final bar when that is shorter than the meter by a length no
    earlier bar has (nor its complement): only a new piece may end so (continue, infill and
    accompany keep a new bar at the meter or at a short length the user's bars justify)."""
    from notabridge.engine.writer import _short_lengths

    piece = split_piece(text)
    ctx = header_context(piece.header)
    last = check_bar(piece.body[-1], header_context(piece.header), pickup_ok=True).length
    if last is None or ctx.default.bar is None or last >= ctx.default.bar \
            or last in _short_lengths(ctx, piece.body[:-1]):
        return text
    return "".join(piece.header + piece.body[:-1])


def _first_difference(fed: list[str], expected: list[str]) -> str | None:
    for i, (a, b) in enumerate(zip(fed, expected)):
        if a != b:
            return f"patch {i}: wrote {fed[max(0, i - 2):i + 1]!r}, training has {expected[max(0, i - 2):i + 1]!r}"
    if len(fed) != len(expected):
        return f"wrote {len(fed)} patches, training has {len(expected)}"
    return None


def test_the_pieces_are_real_and_varied(pieces):
    kinds = {kind for kind, _ in PIECES}
    assert len(pieces) >= 30 and kinds >= {"chorale", "quartet", "keyboard", "folk", "song"}
    assert sum(text.count("(3") for text in pieces.values()) > 20          # triplets
    assert sum(text.count("\n[V:") for text in pieces.values()) > 1400     # body lines


@pytest.mark.parametrize("mode", MODES)
def test_every_line_is_written_in_training_patches(pieces, mode):
    """Each mode from the first bar on (generate from nothing) with the model free to leave out
    voices it rests. Continue, infill and accompany refuse key and meter changes the user's bars
    do not hold: pieces that change key or meter are run from such a change further down."""
    failures = []
    lines = done = 0
    for name, text in pieces.items():
        body = split_piece(text).body
        if mode == "accompany" and all(line.count("[V:") == 1 and "[V:1]" in line for line in body):
            continue   # one voice: nothing to accompany
        if mode != "generate" and changes_key_or_meter(text):
            continue
        if mode != "generate":   # a new bar is as long as the meter or as a short bar of the user's
            text = _without_unjustified_final_bar(text)
        done += 1
        fed, expected, variant, slides = drive(mode, text)
        problem = _first_difference(fed, expected)
        if problem:
            failures.append(f"{name}: {problem}")
        elif not variant.complete:
            failures.append(f"{name}: {variant.warning}")
        lines += len(body)
    assert not failures, "\n".join(failures)
    assert done >= 30 and lines > 1000


def _sounding_run(text: str, every_declared: bool = False) -> str:
    """The piece up to the first line that leaves out a voice sounding in its first line (or,
    `every_declared`, any voice its header declares)."""
    piece = split_piece(text)
    voices = set(header_context(piece.header).voices) if every_declared else \
        {s.voice for s in parse_line(piece.body[0])[1]}
    keep = []
    for line in piece.body:
        if not voices <= {s.voice for s in parse_line(line)[1]}:
            break
        keep.append(line)
    return "".join(piece.header + keep)


@pytest.mark.parametrize("mode", ["generate", "continue", "infill", "accompany"])
def test_forced_voices_are_written_in_training_patches(pieces, mode):
    """With every voice of the user's bars (generate: of its header) written in every bar
    (the default), the forced `[V:k]` slots fall where training puts them (pieces while all
    their voices sound)."""
    checked = 0
    for kind, name in PIECES:
        if kind != "chorale":
            continue
        text = _sounding_run(pieces[name], every_declared=mode == "generate")
        if len(split_piece(text).body) < 4:
            continue
        fed, expected, variant, slides = drive(mode, text, every_voice=True)
        assert _first_difference(fed, expected) is None, (name, _first_difference(fed, expected))
        checked += 1
    assert checked >= 5


def test_the_context_slides_in_training_patches(pieces):
    """A 128-patch context: the decoder slides many times and every patch still matches."""
    text = pieces["haydn/opus74no1/movement1"]
    fed, expected, variant, slides = drive("continue", text, patch_length=128)
    assert _first_difference(fed, expected) is None
    assert slides >= 10 and variant.complete


def test_a_key_change_in_the_users_bars_lets_the_model_write_key_changes(pieces):
    """Continue from the first key change on: the later changes of the real piece come through."""
    checked = 0
    for name in ("joplin/maple_leaf_rag", "schubert/lindenbaum"):
        piece = split_piece(pieces[name])
        first = next(i for i in range(1, len(piece.body))
                     if changes_key_or_meter("".join(piece.header + piece.body[i - 1:i + 1])))
        text = "".join(piece.header + piece.body[first:])
        assert not changes_key_or_meter(text) and "[K:" in piece.body[first]
        fed, expected, variant, slides = drive("continue", text)
        assert _first_difference(fed, expected) is None, (name, _first_difference(fed, expected))
        assert "".join(piece.body[first + 1:]).count("[K:") >= 2   # changes still to write
        checked += 1
    assert checked == 2


def test_notes_outside_a_parts_range_are_never_written(pieces):
    """A real chorale whose soprano leaps two octaves up in bar 4 (one note changed): by default
    the writer keeps the soprano in a soprano's range (the oracle's note is refused); with the
    range rule off the leap is written as the oracle wants it."""
    from notabridge.abc.syntax import Scanner
    from notabridge.abc.voice_ranges import voice_ranges

    piece = split_piece(pieces["bach/bwv66.6"])
    line = piece.body[3]
    start = line.index("[V:1]") + len("[V:1]")
    pos = next(i for i in range(start, len(line)) if line[i].isalpha() and line[i] not in "zx")
    high = line[pos].lower() + ("''" if line[pos].islower() else "'")   # two octaves up
    body = piece.body[:3] + [line[:pos] + high + line[pos + 1:]] + piece.body[4:]
    text = "".join(piece.header + body)
    lo, hi = voice_ranges(piece.header, piece.body[:1])["1"]
    assert hi < 84 <= max(Scanner(keep_events=True).feed(body[3][start:]).finish().pitches())

    fed, expected, variant, _ = drive("continue", text, range_rule=True)   # past the refusal the oracle is lost
    assert _first_difference(fed, expected) is not None and len(variant.bars) >= 2
    soprano = [p for bar in variant.bars for s in parse_line(bar)[1] if s.voice == "1"
               for p in Scanner(keep_events=True).feed(s.content).finish().pitches()]
    assert soprano and lo <= min(soprano) and max(soprano) <= hi

    fed, expected, variant, _ = drive("continue", text, range_rule=False)
    assert _first_difference(fed, expected) is None


def test_the_writer_opens_no_tuplet_inside_a_tuplet():
    """NotaGen's training text nests tuplets 4 times in 6,200 (all Beethoven); a model that
    nests them writes bars no note can close (continuations of a Schumann quartet gave up)."""
    from fractions import Fraction

    from notabridge.abc.syntax import Scanner
    inside, _ = Scanner().feed("(3AB(").choices(Fraction(1))      # one note of the triplet to come
    assert not set("123456789") & set(inside) and "c" in inside     # a slur may open there, a tuplet not
    after, _ = Scanner().feed("(3ABc(").choices(Fraction(1))
    assert set("23456789") <= set(after)


def _allowed_after(writer, text: str) -> set[str]:
    """The characters the writer lets the model write after `text` (a body line being written,
    after its `[r:i/n]` prefix)."""
    forced, bans = writer.probe(writer.line.prefix + text).constraint()
    return {forced} if forced is not None else {chr(i) for i in range(128) if bans[i] < 2}


def test_inline_fields_follow_the_training_texts_habits():
    """A model left free wrote first bars like `[V:2][K:B] ...|[V:3][K:G] ...|[V:4][K:D]` under
    K:Bb and runs like `[K:bass] [K:treble] [K:alto] [K:bass]`; NotaGen's text has neither."""
    from notabridge.engine.writer import BarWriter
    header = ["L:1/8\n", "M:4/4\n", "K:Bb\n", "V:1 treble\n", "V:2 treble\n", "V:3 bass\n"]
    writer = BarWriter(prompt=[], header=header, prefix_body=[], bars=2, max_tries=1)
    # the first bar: keys within two fifths of the header's (Bb: from Ab/Fm to C/Am, any mode)
    after_e = _allowed_after(writer, "[V:1][K:E")
    assert "b" in after_e and not {"]", "m"} & after_e               # Eb, not E major or E minor
    assert "]" not in _allowed_after(writer, "[V:1][K:D")          # D major: four fifths away
    assert "]" in _allowed_after(writer, "[V:1][K:Dm")              # D minor: one flat
    # once one voice changed key, the others of the bar line may change only to that key (or clef)
    after = _allowed_after(writer, "[V:1][K:Gm] G8|[V:2][K:")
    assert {c for c in after if c.isupper()} == {"G"} and "b" in after   # Gm, or a clef such as bass
    assert _allowed_after(writer, "[V:1][K:Gm] G8|[V:2][K:G") == {"m"}
    # a run of fields holds each letter at most twice (`[K:Ab][K:bass]` is real, a third is not)
    assert "K" in _allowed_after(writer, "[V:1][K:bass] [")
    assert "K" not in _allowed_after(writer, "[V:1][K:bass] [K:treble][M:2/4][")
    assert {"K", "M"} <= _allowed_after(writer, "[V:1][K:bass] [K:treble] G [")


def test_a_generated_header_declares_a_meter_unit_and_key_the_bars_can_be_written_in():
    """A model left free wrote `M:2/22` (bars of 1/11 of a whole note, which no note fills);
    NotaGen's headers hold meters N/D with D a power of two, its units, keys and tempos."""
    from notabridge.engine.writer import BarWriter
    writer = BarWriter(prompt=["%Renaissance\n"], header=None, prefix_body=[], bars=2, max_tries=1)

    def allowed(text: str) -> set[str]:
        forced, bans = writer.probe(text).constraint()
        return {forced} if forced is not None else {chr(i) for i in range(128) if bans[i] < 2}
    assert allowed("L:1/8") == {"\n"} and allowed("L:1/") == set("12348")
    writer.on_patch("L:1/8\n", False)
    # tempo: a beat, "=", beats per minute (a model left free wrote [Q:111/17//4 and gave up)
    assert allowed("Q:1") == {"/"} and allowed("Q:1/4") == {"="} and allowed("Q:1/4=120") == {"\n"}
    assert allowed("M:2/2") == {"\n"} and allowed("M:2/") == set("123468")
    assert {"\n", "6"} <= allowed("M:12/1") and "\n" in allowed("M:36/4")   # as in real headers
    writer.on_patch("M:4/4\n", False)
    assert "\n" in allowed("K:Bmin") and "\n" not in allowed("K:Bmi") and "b" not in allowed("K:")   # no clef
