"""Turn a client's job JSON (the same object over HTTP and OSC) into a ComposeJob.

Shared settings fill whatever the request leaves out; the request's own "settings" object
overrides them for this job only. Every bound is checked here, before the job is queued, so a
bad request is answered at once with a message saying what to change.
"""
from __future__ import annotations

import base64
import binascii
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from notabridge import limits
from notabridge.jobs.settings import SettingsError, validate_setting

if TYPE_CHECKING:   # compose pulls in the engine: imported when a request is first built
    from notabridge.jobs.compose import ComposeJob

MODES = ("generate", "continue", "infill", "accompany", "suggest")   # suggest: name the selection's style


def _json_number(value: Any) -> Any:
    return str(value) if isinstance(value, Fraction) else value


# what /capabilities shows under "limits"; the table itself is notabridge.limits
LIMITS: dict[str, Any] = {
    **limits.LIMITS,
    "max_bars": limits.BOUNDS["bars"].high,
    "max_variants": limits.BOUNDS["variants"].high,
    "max_excerpt_measures": limits.BOUNDS["measures"].high,
    "max_staves": limits.BOUNDS["staves"].high,
    "bounds": {name: {"min": _json_number(b.low), "max": _json_number(b.high)} for name, b in limits.BOUNDS.items()},
}
_JOB_KEYS = {"mode", "excerpt", "bars", "prompt", "settings", "variants", "staves", "time", "key", "tag", "midi", "voices"}
_short = limits.short_repr


class RequestError(ValueError):
    """A job request that cannot be run as sent; the message says what to change."""


def parse_job_request(obj: Any, shared: dict[str, Any]) -> ComposeJob:
    """Validate a client's job JSON (anything may arrive) against the limits and build the ComposeJob."""
    if not isinstance(obj, dict):
        raise RequestError('a job must be a JSON object such as {"mode": "continue", "excerpt": {...}, "bars": 4}')
    deep = json_depth_problem(obj)
    if deep:
        raise RequestError(deep)
    unknown = set(obj) - _JOB_KEYS
    if unknown:
        raise RequestError(f"unknown job fields {[_short(k) for k in sorted(unknown)[:5]]}; known: {sorted(_JOB_KEYS)}")
    mode = obj.get("mode")
    if not isinstance(mode, str) or mode not in MODES:
        raise RequestError(f"mode must be one of {list(MODES)}, not {_short(mode)}")
    tag = obj.get("tag", "")
    if not isinstance(tag, str) or len(tag) > 100:
        raise RequestError("tag must be a string of at most 100 characters")

    overrides = obj.get("settings")
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):   # [], "", 0 and false too: a job runs only as asked
        raise RequestError(f'settings must be an object of setting overrides such as {{"temperature": 1.0}}, '
                           f"not {_short(overrides)}")
    try:
        values = dict(shared)
        values.update({name: validate_setting(name, value) for name, value in overrides.items()})
        for name in ("bars", "variants", "prompt"):   # accepted at top level too, as the API shows; these win
            if name in obj:
                values[name] = validate_setting(name, obj[name])
    except SettingsError as exc:
        raise RequestError(str(exc)) from None

    excerpt, midi, voices = obj.get("excerpt"), obj.get("midi"), obj.get("voices")
    if midi is not None or voices is not None:
        midi = _check_midi(obj, mode)
    elif mode == "generate":
        if excerpt is not None:
            raise RequestError("generate starts from the prompt alone: leave out excerpt")
    else:
        _check_excerpt(excerpt, mode)
    staves = obj.get("staves")
    if staves is not None:
        if (not isinstance(staves, list) or not staves or len(staves) > limits.BOUNDS["staves"].high
                or any(limits.bound_problem("staff_index", s) or not isinstance(s, int) for s in staves)):
            raise RequestError(f"staves must be a non-empty list of staff indices (integers from {limits.BOUNDS['staff_index'].low} "
                               f"to {limits.BOUNDS['staff_index'].high}), not {_short(staves)}")
    elif mode == "accompany" and midi is None:
        raise RequestError("accompany needs staves: the indices of the staves to write (the others are given)")
    time_sig, key = obj.get("time"), obj.get("key")
    if time_sig is not None:
        from notabridge.notation.bounds import time_signature_problem

        problem = time_signature_problem(time_sig, "time", sep=" ")
        if problem:
            raise RequestError(problem)
    if key is not None:
        problem = limits.bound_problem("key", key, "key (fifths)") or (None if isinstance(key, int) else "key must be a whole number")
        if problem:
            raise RequestError(problem)

    from notabridge.jobs.compose import ComposeJob
    from notabridge.engine.sampling import Sampling

    prompt = values["prompt"]
    sampling = Sampling(temperature=values["temperature"], top_k=values["top_k"], top_p=values["top_p"],
                        seed=values["seed"], order=values["order"])
    return ComposeJob(mode=mode, excerpt=excerpt, bars=values["bars"],
                      prompt=None if prompt is None else (prompt["period"], prompt["composer"], prompt["instrumentation"]),
                      sampling=sampling, variants=values["variants"], staves=staves, time=time_sig, key=key,
                      excerpt_valid=excerpt is not None,   # _check_excerpt validated it
                      midi=midi, range_rule=values["range_rule"],
                      **({} if voices is None else {"voices": voices}))   # else ComposeJob's default


def _check_midi(obj: dict, mode: str) -> bytes:
    """The melody of a MIDI accompany job: {"mode": "accompany", "midi": base64 SMF, "voices": n}."""
    if mode != "accompany" or obj.get("midi") is None:
        raise RequestError('midi and voices make an accompaniment of a melody: {"mode": "accompany", '
                           '"midi": "<a Standard MIDI File in base64>", "voices": 3}')
    if obj.get("excerpt") is not None or obj.get("staves") is not None:
        raise RequestError("send the melody either as midi (the voices to write: voices) or as an excerpt "
                           "with staves, not both")
    voices = obj.get("voices")
    if voices is not None:
        problem = limits.bound_problem("voices", voices) or (None if isinstance(voices, int) else "voices must be a whole number")
        if problem:
            raise RequestError(problem)
    try:
        data = base64.b64decode(obj["midi"], validate=True) if isinstance(obj["midi"], str) else b""
    except (binascii.Error, ValueError):
        data = b""
    if not data.startswith(b"MThd"):
        raise RequestError("midi must be a Standard MIDI File (.mid) in base64, not "
                           f"{_short(obj['midi'])}: export the melody clip as MIDI and send its bytes")
    return data


def _check_excerpt(excerpt: Any, mode: str) -> None:
    if not isinstance(excerpt, dict):
        raise RequestError(f"{mode} needs an excerpt (excerpt JSON v1, see docs/excerpt.md)")
    measures = excerpt.get("measures")
    if not isinstance(measures, list) or not measures:
        raise RequestError("excerpt.measures must be a non-empty list")
    if len(measures) > limits.BOUNDS["measures"].high:
        raise RequestError(f"the excerpt has {len(measures)} measures; send at most {limits.BOUNDS['measures'].high}")
    errors = _validate_excerpt(excerpt)
    if errors:   # a schema message quotes the value, which may be megabytes: each is cut short
        shown = "; ".join(_cut(e) for e in errors[:5]) + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else "")
        raise RequestError(f"the excerpt is not valid excerpt JSON v1: {shown}")


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit - 20] + f"... ({len(text)} characters)"


def json_depth_problem(obj: Any, where: str = "the JSON") -> str | None:
    """None when no list/object nests deeper than LIMITS["max_json_depth"] (checked without recursion)."""
    limit = limits.LIMITS["max_json_depth"]
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return f"{where} nests objects and lists more than {limit} levels deep"
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return None


def _validate_excerpt(excerpt: dict) -> list[str]:
    from notabridge.notation import validate_excerpt
    return list(validate_excerpt(excerpt))
