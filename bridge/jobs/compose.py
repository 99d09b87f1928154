"""The one excerpt-level entry point every front door calls (daemon, CLI, panel).

compose(job, engine) turns the job's excerpt into NotaGen interleaved ABC (notabridge.notation),
runs the engine in the job's mode, and turns the new bars back into excerpt JSON holding
only the new or replaced measures, each with the `index` where it goes in the score.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

from notabridge import notation
from notabridge.cancel import cancel_scope
from notabridge.abc.patching import SplitPiece
from notabridge.engine.generation import Engine, Variant
from notabridge.engine.sampling import Sampling
from notabridge.errors import JobError
from notabridge.limits import bound_problem
from notabridge.notation import NotationError
from notabridge.jobs.request import MODES

CONTEXT_MEASURES = 32      # measures before the selection the model reads
SUFFIX_MEASURES = 4        # real measures after an infill gap used to rank candidates
KEY_NAMES = {f: n for f, n in zip(range(-7, 8), "Cb Gb Db Ab Eb Bb F C G D A E B F# C#".split())}


@dataclass
class ComposeJob:
    mode: str
    excerpt: dict | None
    bars: int = 4
    prompt: tuple[str, str, str] | None = None
    sampling: Sampling = field(default_factory=Sampling)
    variants: int = 1
    staves: list[int] | None = None
    time: str | None = None
    key: int | None = None
    # True once the excerpt passed validate_excerpt (parse_job_request does it at the daemon's door):
    # the schema pass of a large excerpt takes most of a second, so compose does not repeat it
    excerpt_valid: bool = False
    # accompany a melody sent as a Standard MIDI File instead of an excerpt (notabridge.jobs.midi_melody):
    # `voices` staves are written under it; `pickup` (quarter notes) for a file that starts on its upbeat
    midi: bytes | None = None
    voices: int = 3
    pickup: Fraction | None = None
    range_rule: bool = True          # no note outside each part's range (notabridge.abc.voice_ranges)
    # NotaGen's text of the score the excerpt was read from (notation.notagen_chain on the user's
    # file): header lines and one line per measure, index-aligned with the excerpt's measures.
    # When given, continue feeds the model these lines instead of re-encoding the excerpt.
    source_text: tuple[list[str], list[str]] | None = None


@dataclass
class Progress:
    bars_done: int
    bars_total: int
    variant: int | None
    partial_abc: str | None


@dataclass
class ComposeResult:
    variants: list[dict]
    provider: str
    seconds: float
    warnings: list[str]
    complete: bool = True            # False: a variant stopped before all its bars (warnings say why)
    suggestions: dict | None = None   # mode suggest: notabridge.jobs.suggest.suggest's answer (no variants)
    melody: dict | None = None        # a MIDI job: how the melody was read (notabridge.jobs.midi_melody)


ProgressFn = Callable[[Progress], None]


def compose(job: ComposeJob, engine: Engine, progress: ProgressFn | None = None,
            cancel: threading.Event | None = None) -> ComposeResult:
    """Run one job; raises JobError (user-facing message) or Cancelled."""
    start = time.perf_counter()
    melody = None
    if job.midi is not None:
        from notabridge.jobs.midi_melody import read_melody

        with cancel_scope(cancel):
            job, melody = read_melody(job)
    _check(job)
    if job.mode == "suggest":
        from notabridge.jobs.suggest import suggest

        answer = suggest(engine, job.excerpt)
        return ComposeResult(variants=[], provider=engine.provider, seconds=time.perf_counter() - start,
                             warnings=answer.pop("warnings"), suggestions=answer)
    warnings: list[str] = [] if melody is None else list(melody.clip.warnings)
    if job.prompt and engine.info.get("prompts") and list(job.prompt) not in [list(p) for p in engine.info["prompts"]]:
        warnings.append(f"the model was not trained on the prompt {' / '.join(job.prompt)}; it may ignore it")
    try:
        with cancel_scope(cancel):   # the notation conversions check it once per measure
            variants, gave_up = _run_mode(job, engine, warnings, _progress_adapter(job, progress), cancel)
    except NotationError as exc:
        raise JobError(str(exc)) from None
    _add_originality(job, engine, variants, warnings)
    if melody is not None:   # each variant also as the melody's file with the accompaniment added
        for variant in variants:
            variant["midi"] = melody.accompanied(variant["excerpt"])
    if len(variants) < job.variants:
        reason = f": {gave_up[0]}" if gave_up else ""
        warnings.append(f"{job.variants - len(variants)} of {job.variants} variants gave up{reason}; "
                        f"here are the other {len(variants)}")
    return ComposeResult(variants=variants, provider=engine.provider, seconds=time.perf_counter() - start,
                         warnings=warnings, melody=None if melody is None else melody.info(),
                         complete=all(v.get("complete", True) for v in variants))


def default_prompt(prompts: list) -> tuple[str, str, str] | None:
    """A prompt the model knows for a melody with voices under it: a choral one when it has one
    (a chorale is a melody over alto, tenor and bass), else its first; None when it lists none."""
    known = [tuple(p) for p in prompts if len(p) == 3]
    choral = [p for p in known if p[2].strip().lower() == "choral"]
    return (choral or known or [None])[0]


def _add_originality(job: ComposeJob, engine: Engine, variants: list[dict], warnings: list[str]) -> None:
    """Each variant's `originality` (notabridge.jobs.originality): its longest run of bars shared with the
    model's training pieces and with the rest of the user's score; a warning from 2 bars on.
    Only the voices the model wrote are checked (accompany's given voices are the user's)."""
    from notabridge.jobs.originality import bundle_index, originality

    training = bundle_index(engine.info.get("path"))
    sel = (job.excerpt or {}).get("selection") or {}
    rewrites = job.mode in ("infill", "accompany")
    staves = (job.staves if job.staves is not None else sel.get("staves")) if rewrites else None
    skip = (sel["start"], sel["end"]) if rewrites and sel else None
    for number, variant in enumerate(variants, start=1):
        try:
            variant["originality"] = originality(variant["excerpt"], training, job.excerpt, skip, staves)
        except Exception as exc:  # noqa: BLE001 - a check that fails must not cost the user the music
            variant["originality"] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        if variant["originality"]["warning"]:
            warnings.append(f"variant {number}: {variant['originality']['warning']}")


def _check(job: ComposeJob) -> None:
    if job.mode not in MODES:
        raise JobError(f"unknown mode {job.mode!r}: use one of {', '.join(MODES)}")
    for name in ("bars", "variants"):
        value = getattr(job, name)
        problem = bound_problem(name, value) or (None if isinstance(value, int) else f"{name} must be a whole number")
        if problem:
            raise JobError(problem)
    # what a user may ask for (notabridge.limits); the sampler itself takes any temperature >= 0,
    # as the engine's retries cool it below the user's minimum
    problems = job.sampling.check() + [p for p in (bound_problem(name, getattr(job.sampling, name))
                                                   for name in ("temperature", "top_k", "top_p")) if p]
    if job.sampling.seed is not None and bound_problem("seed", job.sampling.seed):
        problems.append(bound_problem("seed", job.sampling.seed))
    if problems:
        raise JobError("; ".join(problems))
    if job.mode != "generate":
        if not isinstance(job.excerpt, dict):
            raise JobError(f"mode {job.mode} needs an excerpt (the selected measures and their context)")
        if not job.excerpt_valid:
            from notabridge.notation import validate_excerpt

            errors = validate_excerpt(job.excerpt)
            if errors:
                raise JobError("the excerpt is not valid: " + "; ".join(errors[:5]))
        if not job.excerpt.get("selection"):
            raise JobError(f"mode {job.mode} needs the excerpt's selection (which measures)")
    if job.time is not None:
        from notabridge.notation.bounds import time_signature_problem

        problem = time_signature_problem(job.time, "time", sep=" ")
        if problem:
            raise JobError(problem)
    if job.key is not None and job.key not in KEY_NAMES:
        raise JobError(f"key must be a number of fifths from -7 to 7 (got {job.key!r})")


class _ProgressAdapter:
    """Engine bar callbacks (per variant) -> Progress over all variants of the job."""

    def __init__(self, progress: ProgressFn, total: int):
        self.progress, self.total = progress, total
        self.done: dict[int, int] = {}   # variant -> bars written

    def __call__(self, variant: int, bars_done: int, partial: str) -> None:
        self.done[variant] = bars_done
        self.progress(Progress(sum(self.done.values()), self.total, variant, partial))


def _progress_adapter(job: ComposeJob, progress: ProgressFn | None) -> _ProgressAdapter | None:
    return None if progress is None else _ProgressAdapter(progress, job.bars * job.variants)


def _context_range(excerpt: dict, start: int) -> int:
    first = excerpt["measures"][0]["index"]
    return max(first, start - CONTEXT_MEASURES)


def _run_mode(job: ComposeJob, engine: Engine, warnings: list[str], on_bar: _ProgressAdapter | None,
              cancel: threading.Event | None) -> tuple[list[dict], list[str]]:
    """The variants as excerpts, and why the variants the engine left out gave up."""
    kw = dict(sampling=job.sampling, variants=job.variants, progress=on_bar, cancel=cancel)
    if job.mode == "generate":
        from notabridge.abc.prompt import prompt_lines

        lines = prompt_lines(job.prompt)
        meter = job.time
        key = KEY_NAMES[job.key] if job.key is not None else None
        results = engine.generate(lines, job.bars, meter=meter, key=key, **kw)
        return [_variant(r, notation.abc_to_excerpt(r.header + "".join(r.bars), first_index=0), warnings)
                for r in results], results.gave_up

    excerpt = job.excerpt
    assert excerpt is not None   # _check: every mode but generate has one
    sel = excerpt["selection"]
    start, end = sel["start"], sel["end"]
    first = _context_range(excerpt, start)
    kw["range_rule"] = job.range_rule
    if job.mode == "continue":
        context = notation.cut_measures(excerpt, first, end)
        header, body = _abc(context, job, warnings)
        header, body = _source_lines(job, header, body, first, end, warnings)
        results = engine.continue_(_piece(header, body), job.bars, **kw)
        return [_variant(r, notation.abc_to_excerpt(r.header + "".join(r.bars), template=context, first_index=end),
                         warnings) for r in results], results.gave_up

    last = excerpt["measures"][-1]["index"] + 1
    suffix_end = min(last, end + SUFFIX_MEASURES) if job.mode == "infill" else end
    window = notation.cut_measures(excerpt, first, suffix_end)
    staves = job.staves if job.staves is not None else sel.get("staves")
    window, header, body = _abc_with_voices_for(window, staves, job, warnings)
    n_before, n_gap = start - first, end - start
    if len(body) != suffix_end - first:
        raise JobError(f"the excerpt's ABC has {len(body)} bars for {suffix_end - first} measures; "
                       f"cannot line up the selection")
    before, gap, after = body[:n_before], body[n_before:n_before + n_gap], body[n_before + n_gap:]
    if on_bar is not None:  # these modes write the selection's bars; infill decodes 2 candidates per variant
        on_bar.total = n_gap * job.variants * (2 if job.mode == "infill" else 1)
    given = _given_voices(header, window, gap, staves) if job.mode == "accompany" or staves else None
    if job.mode == "accompany":
        if given is None:
            raise JobError("accompany needs at least one staff that is given (not written): choose fewer staves")
        results = engine.accompany(_piece(header, before), given, **kw)
    else:
        results = engine.infill(_piece(header, before), n_gap, after, given_bars=given, **kw)
    return [_variant(r, notation.abc_to_excerpt(r.header + "".join(r.bars), template=window, first_index=start),
                     warnings) for r in results], results.gave_up


def _piece(header: str, body: list[str]) -> SplitPiece:
    """The context as the engine reads it: header lines (blank lines dropped, as the text splitter
    drops them) and the body lines as they are."""
    return SplitPiece([line for line in header.splitlines(True) if line != "\n"], list(body))


def _abc(excerpt: dict, job: ComposeJob, warnings: list[str]) -> tuple[str, list[str]]:
    abc = notation.excerpt_to_abc(excerpt, prompt=job.prompt, warnings=warnings)
    return notation.split_abc(abc)


def _source_lines(job: ComposeJob, header: str, body: list[str], first: int, end: int,
                  warnings: list[str]) -> tuple[str, list[str]]:
    """The score's own NotaGen text for measures first..end-1 (job.source_text), when its voices
    are laid out as the excerpt's ABC (so that the new bars read back onto the right staves);
    else the excerpt's ABC as given."""
    if job.source_text is None:
        return header, body
    from notabridge.abc.prompt import prompt_lines
    from notabridge.notation.abc_export import in_force
    from notabridge.notation.abc_fast import score_layout

    source_header, lines = job.source_text
    offset = job.excerpt["measures"][0]["index"]
    ours = [line for line in header.splitlines(keepends=True) if not line.startswith("%") or line.startswith("%%")]
    if score_layout(source_header) != score_layout(ours) or len(lines) != len(job.excerpt["measures"]):
        warnings.append("the score's voices do not line up with the excerpt's; the model reads the excerpt's ABC")
        return header, body
    text_header = prompt_lines(job.prompt) + in_force(source_header, lines[:first - offset])
    return "".join(text_header), lines[first - offset:end - offset]


def _abc_with_voices_for(window: dict, staves: list[int] | None, job: ComposeJob,
                         warnings: list[str]) -> tuple[dict, str, list[str]]:
    """The window's ABC, with an ABC voice for every staff to write even when it is empty.

    xml2abc leaves out voices without notes (an empty accompaniment staff). Such a staff gets
    one stand-in note in the first measure of a copy of the window, so the ABC declares its
    voice (numbered, named and clefed by the notation layer as usual); the stand-in is then
    taken out of the first bar again. The copy is the template the new bars are read back with.
    """
    from notabridge.abc.bar_check import parse_line
    from notabridge.notation.excerpt_base import copy_excerpt

    sounding = {staff for staff, _ in notation.abc_voice_slots(window)}
    empty = [s for s in (staves or []) if s not in sounding]
    if not empty:
        header, body = _abc(window, job, warnings)
        return window, header, body
    template = copy_excerpt(window)
    first = template["measures"][0]
    for staff in empty:
        entry = next((e for e in first["staves"] if e["staff"] == staff), None)
        events = entry["voices"][0]["events"] if entry and entry["voices"] else []
        rest = next((e for e in events if e["type"] == "rest"), None)
        if rest is None:
            raise JobError(f"staff {staff} cannot be written: its first measure holds no rest to start from")
        duration = rest["duration"]
        rest.clear()
        rest.update({"type": "chord", "duration": duration, "notes": [{"pitch": 60, "tpc": 14, "tie": None}]})
    header, body = _abc(template, job, warnings)
    slots = notation.abc_voice_slots(template)
    stand_ins = {str(n + 1) for n, (staff, voice) in enumerate(slots) if staff in empty and voice == 0}
    lead, segments = parse_line(body[0])
    kept = [seg for seg in segments if seg.voice not in stand_ins]
    if kept:
        body[0] = lead + "".join(f"[V:{seg.voice}]{seg.content}{seg.barline}" for seg in kept) + "\n"
    else:  # nothing else sounds in that bar: the stand-in voice becomes a rest of the bar
        from notabridge.abc.bar_check import check_bar, header_context, rest_text

        check = check_bar(body[0], header_context(header), pickup_ok=True)
        seg = segments[0]
        body[0] = f"[V:{seg.voice}]{rest_text(check.length, header_context(header).default.unit)}{seg.barline}\n" \
            if check.valid else body[0]
    return template, header, body


def _given_voices(header: str, window: dict, gap: list[str], staves: list[int] | None) -> list[str] | None:
    """The gap's bars with only the voices on staves NOT being written (those are forced);
    given voices the ABC dropped as rest-only come back as rests."""
    from notabridge.abc.bar_check import check_bar, header_context, parse_line

    slots = notation.abc_voice_slots(window)
    write = set(staves if staves is not None else [s["index"] for s in window["staves"]])
    keep = {str(n + 1) for n, (staff, _) in enumerate(slots) if staff not in write}
    if len(keep) == len(slots):
        raise JobError("the staves to write hold no voice of the excerpt: choose staves that are in it")
    if not keep:
        return None
    out = []
    ctx = header_context(header)
    for line in gap:
        check = check_bar(line, ctx, pickup_ok=True)
        _, segments = parse_line(check.line if check.valid else line)
        kept = [s for s in segments if s.voice in keep]
        out.append("".join(f"[V:{s.voice}]{s.content}{s.barline}" for s in kept) + "\n")
    return out


def _variant(result: Variant, excerpt: dict, warnings: list[str]) -> dict:
    complete = getattr(result, "complete", True)
    if not complete:   # the variant stopped early: its excerpt says so too (the plugin shows it)
        excerpt.setdefault("warnings", []).append(result.warning)
    warnings.extend(w for w in excerpt.get("warnings", []) if w not in warnings)
    return {"excerpt": excerpt, "abc": result.header + "".join(result.bars), "complete": complete,
            "valid_first_try": result.valid_first_try, "log_likelihood": result.log_likelihood,
            "bits_per_char": result.bits_per_char}
