"""A finished job's result as JSON: the full form (HTTP, OSC over TCP) and a compact form that
fits one UDP datagram (the whole score is then fetched by job id over HTTP or TCP)."""
from __future__ import annotations

import base64
import json
import threading
from typing import Any

from notabridge.daemon.queue import Job

FORMATS = ("excerpt", "abc", "musicxml", "midi")   # midi: jobs sent as MIDI only (the melody's file + accompaniment)
_musicxml_lock = threading.Lock()   # music21 conversion is not known to be thread-safe


def result_json(job: Job, formats: tuple[str, ...] = FORMATS) -> dict[str, Any]:
    """The result of a done job with the variants in the requested formats (MusicXML built once, on demand)."""
    result = job.result
    variants = []
    for index, variant in enumerate(result.variants):
        item: dict[str, Any] = {"index": index, "valid_first_try": variant.get("valid_first_try"),
                                "log_likelihood": variant.get("log_likelihood"),
                                "bits_per_char": variant.get("bits_per_char"),
                                "originality": variant.get("originality"),
                                "complete": variant.get("complete", True)}
        if "excerpt" in formats:
            item["excerpt"] = variant.get("excerpt")
        if "abc" in formats:
            item["abc"] = variant.get("abc")
        if "musicxml" in formats:
            item["musicxml"] = _musicxml(job, index, variant)
        if "midi" in formats and variant.get("midi") is not None:
            item["midi"] = base64.b64encode(variant["midi"]).decode("ascii")
        variants.append(item)
    out = {"id": job.id, "status": job.status, "variants": variants, "provider": result.provider,
           "seconds": result.seconds, "warnings": list(result.warnings),
           "complete": getattr(result, "complete", True)}
    if getattr(result, "suggestions", None) is not None:   # mode suggest: the prompts ranked
        out["suggestions"] = result.suggestions
    if result.melody is not None:        # a MIDI job: how the melody was read, where the accompaniment lies
        out["melody"] = result.melody
    return out


def compact_result_json(job: Job, limit: int, url: str | None) -> str:
    """The result as a JSON string under `limit` bytes: ABC of each variant when it fits, else only
    scores and the address to fetch everything from."""
    full = result_json(job, formats=("abc",))
    full["url"] = url
    text = json.dumps(full)
    if len(text.encode()) <= limit:
        return text
    for item in full["variants"]:
        item.pop("abc", None)
    full["truncated"] = "the variants are too large for one UDP datagram: fetch them over HTTP (url) or OSC over TCP"
    text = json.dumps(full)
    if len(text.encode()) <= limit:
        return text
    return json.dumps({"id": job.id, "status": job.status, "variants": len(full["variants"]), "url": url,
                       "truncated": full["truncated"]})


def _musicxml(job: Job, index: int, variant: dict) -> str | None:
    key = f"musicxml:{index}"
    if key not in job.cache:
        with _musicxml_lock:
            if key not in job.cache:
                job.cache[key] = _excerpt_to_musicxml(variant.get("excerpt"))
    return job.cache[key]


def _excerpt_to_musicxml(excerpt: dict | None) -> str | None:
    if excerpt is None:
        return None
    from notabridge.notation import excerpt_to_musicxml
    data = excerpt_to_musicxml(excerpt)
    return data.decode("utf-8") if isinstance(data, bytes) else data
