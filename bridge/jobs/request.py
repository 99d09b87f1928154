"""Turn a client's job JSON (the same object over HTTP and OSC) into a ComposeJob.

Shared settings fill whatever the request leaves out; the request's own "settings" object
overrides them for this job only. Every bound is checked here, before the job is queued, so a
bad request is answered at once with a message saying what to change.
"""
from __future__ import annotations

from typing import Any

from notabridge.jobs.settings import SETTING_RANGES, SettingsError, validate_setting

MODES = ("generate", "continue", "infill", "accompany")
LIMITS: dict[str, int] = {
    "max_body_bytes": 2_000_000,        # HTTP body and OSC-over-TCP frame
    "max_udp_reply_bytes": 8000,        # no UDP datagram we send is larger
    "max_queued_jobs": 16,
    "max_bars": SETTING_RANGES["bars"]["max"],
    "max_variants": SETTING_RANGES["variants"]["max"],
    "max_excerpt_measures": 512,
    "max_staves": 64,
}
_JOB_KEYS = {"mode", "excerpt", "bars", "prompt", "settings", "variants", "staves", "time", "key", "tag"}


class RequestError(ValueError):
    """A job request that cannot be run as sent; the message says what to change."""


def parse_job_request(obj: Any, shared: dict[str, Any]) -> Any:
    """Validate a job request against the limits and build a notabridge.jobs.compose.ComposeJob."""
    if not isinstance(obj, dict):
        raise RequestError('a job must be a JSON object such as {"mode": "continue", "excerpt": {...}, "bars": 4}')
    unknown = set(obj) - _JOB_KEYS
    if unknown:
        raise RequestError(f"unknown job fields {sorted(unknown)}; known: {sorted(_JOB_KEYS)}")
    mode = obj.get("mode")
    if mode not in MODES:
        raise RequestError(f"mode must be one of {list(MODES)}, not {mode!r}")

    overrides = obj.get("settings") or {}
    if not isinstance(overrides, dict):
        raise RequestError("settings must be an object of setting overrides, e.g. {\"temperature\": 1.0}")
    for name in ("bars", "variants", "prompt"):   # accepted at top level too, as the API shows
        if name in obj:
            overrides = {**overrides, name: obj[name]}
    try:
        values = dict(shared)
        values.update({name: validate_setting(name, value) for name, value in overrides.items()})
    except SettingsError as exc:
        raise RequestError(str(exc)) from None

    excerpt = obj.get("excerpt")
    if mode == "generate":
        if excerpt is not None:
            raise RequestError("generate starts from the prompt alone: leave out excerpt")
    else:
        _check_excerpt(excerpt, mode)
    staves = obj.get("staves")
    if staves is not None:
        if (not isinstance(staves, list) or len(staves) > LIMITS["max_staves"]
                or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < LIMITS["max_staves"] for s in staves)):
            raise RequestError("staves must be a list of staff indices (0-based integers)")
    elif mode == "accompany":
        raise RequestError("accompany needs staves: the indices of the staves to write (the others are given)")
    time_sig, key = obj.get("time"), obj.get("key")
    if time_sig is not None and (not isinstance(time_sig, str) or len(time_sig) > 8):
        raise RequestError('time must be a meter such as "3/4"')
    if key is not None and (not isinstance(key, int) or isinstance(key, bool) or not -7 <= key <= 7):
        raise RequestError("key must be the number of fifths, -7..7")

    from notabridge.jobs.compose import ComposeJob
    from notabridge.engine.sampling import Sampling

    prompt = values["prompt"]
    sampling = Sampling(temperature=values["temperature"], top_k=values["top_k"], top_p=values["top_p"],
                        seed=values["seed"], order=values["order"])
    return ComposeJob(mode=mode, excerpt=excerpt, bars=values["bars"],
                      prompt=None if prompt is None else (prompt["period"], prompt["composer"], prompt["instrumentation"]),
                      sampling=sampling, variants=values["variants"], staves=staves, time=time_sig, key=key)


def _check_excerpt(excerpt: Any, mode: str) -> None:
    if not isinstance(excerpt, dict):
        raise RequestError(f"{mode} needs an excerpt (excerpt JSON v1, see docs/excerpt.md)")
    measures = excerpt.get("measures")
    if not isinstance(measures, list) or not measures:
        raise RequestError("excerpt.measures must be a non-empty list")
    if len(measures) > LIMITS["max_excerpt_measures"]:
        raise RequestError(f"the excerpt has {len(measures)} measures; send at most {LIMITS['max_excerpt_measures']}")
    errors = _validate_excerpt(excerpt)
    if errors:
        shown = "; ".join(errors[:5]) + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else "")
        raise RequestError(f"the excerpt is not valid excerpt JSON v1: {shown}")


def _validate_excerpt(excerpt: dict) -> list[str]:
    from notabridge.notation import validate_excerpt
    return list(validate_excerpt(excerpt))
