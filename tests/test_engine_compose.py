"""compose() (the excerpt-level entry point) and the generate / continue commands, on the toy
model of tests/engine_helpers.py and excerpts made by the notation layer."""
from fractions import Fraction
from pathlib import Path

import pytest

from notabridge.cli.main import main
from notabridge.jobs.compose import ComposeJob, compose
from notabridge.engine import Engine
from notabridge.errors import JobError
from notabridge.engine.sampling import Sampling
from tests.engine_helpers import HEADER

BARS = ["[V:1]G2 A2 B2|[V:2]G,6|\n", "[V:1]d6|[V:2]D,6|\n", "[V:1]B2 A2 G2|[V:2]C,6|\n",
        "[V:1]A6|[V:2]D,6|\n", "[V:1]G6|[V:2]G,6|\n", "[V:1]c4 B2|[V:2]C,6|\n"]
PROMPT = ("Baroque", "Bach, Johann Sebastian", "Choral")


@pytest.fixture(scope="module")
def engine(toy_bundle):
    return Engine(toy_bundle, device="cpu")


@pytest.fixture(scope="module")
def score():
    from notabridge.notation import abc_to_excerpt

    return abc_to_excerpt(HEADER + "".join(BARS))


def _select(score, start, end, staves=(0, 1)):
    return dict(score, selection={"start": start, "end": end, "staves": list(staves)})


def _measure_length(measure) -> Fraction:
    return sum((Fraction(e["duration"]) for e in measure["staves"][0]["voices"][0]["events"]), Fraction(0))


def test_continue_returns_new_measures_after_the_selection(engine, score):
    progress = []
    job = ComposeJob(mode="continue", excerpt=_select(score, 0, 3), bars=3, prompt=PROMPT,
                     sampling=Sampling(seed=1), variants=2)
    result = compose(job, engine, progress=progress.append)
    assert result.provider == "CPUExecutionProvider" and len(result.variants) == 2
    for variant in result.variants:
        measures = variant["excerpt"]["measures"]
        assert [m["index"] for m in measures] == [3, 4, 5]
        assert all(_measure_length(m) == Fraction(3, 4) for m in measures)
        assert {s["staff"] for m in measures for s in m["staves"]} == {0, 1}
        assert 0 <= variant["valid_first_try"] <= 1
    assert progress[-1].bars_done == progress[-1].bars_total == 6
    assert [p.bars_done for p in progress] == sorted(p.bars_done for p in progress)


def test_infill_replaces_the_gap_and_reports_likelihoods(engine, score):
    job = ComposeJob(mode="infill", excerpt=_select(score, 2, 4), sampling=Sampling(seed=2), variants=2)
    progress = []
    result = compose(job, engine, progress=progress.append)
    assert progress[-1].bars_done == progress[-1].bars_total == 2 * 2 * 2   # 2 bars x 2 candidates per variant
    lls = [v["log_likelihood"] for v in result.variants]
    assert lls == sorted(lls, reverse=True) and all(ll < 0 for ll in lls)
    for variant in result.variants:
        assert [m["index"] for m in variant["excerpt"]["measures"]] == [2, 3]


def test_accompany_keeps_the_given_staff(engine, score):
    job = ComposeJob(mode="accompany", excerpt=_select(score, 2, 5, staves=[1]), staves=[1], sampling=Sampling(seed=3))
    [variant] = compose(job, engine).variants
    given = {m["index"]: m["staves"][0] for m in score["measures"]}
    for m in variant["excerpt"]["measures"]:
        upper = next(s for s in m["staves"] if s["staff"] == 0)
        pitches = [[n["pitch"] for n in e.get("notes", [])] for e in upper["voices"][0]["events"]]
        assert pitches == [[n["pitch"] for n in e.get("notes", [])] for e in given[m["index"]]["voices"][0]["events"]]
        assert _measure_length(m) == Fraction(3, 4)


def test_generate_from_a_prompt(engine):
    result = compose(ComposeJob(mode="generate", excerpt=None, bars=3, prompt=PROMPT, sampling=Sampling(seed=4)), engine)
    [variant] = result.variants
    assert variant["abc"].startswith("%Baroque\n%Bach, Johann Sebastian\n%Choral\n")
    assert len(variant["excerpt"]["measures"]) == 3
    # meter and key asked for: M: and K: are forced in the header the model writes
    job = ComposeJob(mode="generate", excerpt=None, bars=2, prompt=PROMPT, sampling=Sampling(seed=4), time="3/4", key=2)
    [variant] = compose(job, engine).variants
    assert "\nM:3/4\n" in variant["abc"] and "\nK:D\n" in variant["abc"]
    assert variant["excerpt"]["measures"][-1]["key"] == 2


@pytest.mark.parametrize("job, message", [
    (ComposeJob(mode="remix", excerpt=None), "unknown mode"),
    (ComposeJob(mode="generate", excerpt=None, bars=0), "bars must be"),
    (ComposeJob(mode="generate", excerpt=None, variants=50), "variants must be"),
    (ComposeJob(mode="generate", excerpt=None, sampling=Sampling(temperature=-1)), "temperature"),
    (ComposeJob(mode="generate", excerpt=None, time="three"), "time must"),
    (ComposeJob(mode="continue", excerpt=None), "needs an excerpt"),
    (ComposeJob(mode="continue", excerpt={"format": "nope"}), "not valid"),
])
def test_bad_jobs_are_refused_with_a_message(engine, job, message):
    with pytest.raises(JobError, match=message):
        compose(job, engine)


def test_generate_and_continue_commands_write_each_format(toy_bundle, score, tmp_path, capsys):
    from notabridge.notation import read_excerpt, write_excerpt

    out = tmp_path / "new.musicxml"
    assert main(["generate", "--prompt", "|".join(PROMPT), "--bars", "3", "--seed", "1", "--model", str(toy_bundle),
                 "--quiet", "-o", str(out)]) == 0
    assert len(read_excerpt(out)["measures"]) == 3
    src = tmp_path / "score.musicxml"
    write_excerpt(score, src)
    for name in ("more.musicxml", "more.mid", "more.abc"):
        path = tmp_path / name
        assert main(["continue", str(src), "--measures", "1-4", "--bars", "2", "--seed", "2", "--model", str(toy_bundle),
                     "--quiet", "-o", str(path)]) == 0
        assert path.stat().st_size > 0
    continued = read_excerpt(tmp_path / "more.musicxml")
    assert len(continued["measures"]) == len(BARS) + 2   # two new bars after measure 4, the rest moved back
    assert "valid on the first try" in capsys.readouterr().out


def test_commands_explain_what_went_wrong(tmp_path, capsys):
    assert main(["generate", "--prompt", "only one field", "-o", str(tmp_path / "x.musicxml")]) == 1
    assert "three fields" in capsys.readouterr().err
    assert main(["generate", "--model", str(tmp_path), "-o", str(tmp_path / "x.wav")]) == 1
    assert "extension" in capsys.readouterr().err
    assert main(["continue", str(tmp_path / "missing.musicxml"), "--bars", "2", "-o", str(tmp_path / "x.mid")]) == 1
    assert "no such file" in capsys.readouterr().err
    default = Path(__file__).resolve().parent.parent / "models" / "default" / "config.json"
    if not default.exists():
        assert main(["generate", "--bars", "2", "-o", str(tmp_path / "x.mid")]) == 1
        assert "default model" in capsys.readouterr().err


def test_accompany_writes_a_staff_that_was_empty(engine):
    """A melody with an empty staff under it (a DAW clip): the empty staff gets its voice."""
    from notabridge.notation import abc_to_excerpt

    melody = abc_to_excerpt(HEADER + "".join(f"{bar.split('|')[0]}|[V:2]z6|\n" for bar in BARS[:4]))
    job = ComposeJob(mode="accompany", excerpt=_select(melody, 0, 4, staves=[1]), staves=[1], sampling=Sampling(seed=5))
    [variant] = compose(job, engine).variants
    measures = variant["excerpt"]["measures"]
    assert [m["index"] for m in measures] == [0, 1, 2, 3]
    for m in measures:
        lower = next(s for s in m["staves"] if s["staff"] == 1)
        assert any(e["type"] == "chord" for e in lower["voices"][0]["events"])   # the model wrote notes there
        assert _measure_length(m) == Fraction(3, 4)


def test_a_bar_that_cannot_be_written_ends_the_job_with_the_bars_before_it(engine):
    """Accompany over three bars whose last lasts 3/256 of a whole note (within the limits, but no sum
    of the writer's notes, L/16 = 1/128 at the shortest, makes it): the job is done, incomplete, with the first two bars and a
    warning saying why, in the result, the job status and the excerpt the plugin applies."""
    from notabridge.daemon.queue import JobQueue
    from notabridge.daemon.results import result_json
    from notabridge.notation import abc_to_excerpt

    bars = BARS[:3] + ["[V:1]G3/32|[V:2]G,3/32|\n"] + BARS[3:]
    score = abc_to_excerpt(HEADER + "".join(bars))
    job = ComposeJob(mode="accompany", excerpt=_select(score, 1, 4, staves=[1]), staves=[1], sampling=Sampling(seed=3))
    queue = JobQueue(engine)
    try:
        done = queue.wait(queue.submit(job, "test").id, timeout=120)
    finally:
        queue.stop()
    assert done.status == "done", done.status_json()
    assert done.status_json()["complete"] is False
    answer = result_json(done, formats=("excerpt",))
    assert answer["complete"] is False and answer["variants"][0]["complete"] is False
    [warning] = [w for w in answer["warnings"] if w.startswith("stopped after")]
    assert warning.startswith("stopped after 2 of 3 bars: the model wrote no valid bar 3 in 9 tries")
    excerpt = answer["variants"][0]["excerpt"]
    assert [m["index"] for m in excerpt["measures"]] == [1, 2] and warning in excerpt["warnings"]
