"""The numbers that explain a variant, in words a musician reads at a glance: how freely the
model chose (bits per character), how many bars it got right at once, which voices it actually
wrote, and the settings that made it."""
from __future__ import annotations

import html

from . import document


EXPLAINED = ("bits/char: how surprising the model found the characters it chose for the new bars "
             "(higher with a higher temperature or a wider top-k / top-p; lower is closer to what it expects).\n"
             "valid on the first try: bars whose voices all filled the meter at once (the others were sampled again).\n"
             "voices written: voices with notes in the new bars; silent ones only rest.\n"
             "settings: what this job used; a free seed is drawn by the panel and shown so the job can be repeated.")


def voices_written(applied: document.Applied, excerpt_parts: list[dict], staves: list[int] | None) -> tuple[int, int, list[str]]:
    """(voices with notes in the new bars, voices it was to write, names of the silent ones).
    A voice is one staff's voice; a staff that only rests in every new bar is silent."""
    new = set(applied.new_indices)
    names = {}
    for part in excerpt_parts:
        for k, staff in enumerate(part["staves"]):
            label = part.get("name") or part["id"]
            names[staff] = label if len(part["staves"]) == 1 else f"{label} {k + 1}"
    wanted = set(staves) if staves is not None else None
    sounding: dict[tuple[int, int], bool] = {}
    for measure in applied.excerpt["measures"]:
        if measure["index"] not in new:
            continue
        for staff in measure["staves"]:
            if wanted is not None and staff["staff"] not in wanted:
                continue
            for voice in staff["voices"]:
                key = (staff["staff"], voice["voice"])
                notes = any(e["type"] == "chord" for e in voice["events"])
                sounding[key] = sounding.get(key, False) or notes
    silent = sorted({k for k, v in sounding.items() if not v})
    silent_names = [names.get(s, f"staff {s + 1}") + ("" if v == 0 else f" (voice {v + 1})") for s, v in silent]
    return sum(sounding.values()), len(sounding), silent_names


def describe(data: dict, applied: document.Applied, excerpt_parts: list[dict], staves: list[int] | None) -> str:
    """One line of rich text with the variant's numbers (EXPLAINED says what they mean)."""
    parts = []
    bits = data.get("bits_per_char")
    if isinstance(bits, (int, float)):
        parts.append(f"<b>{bits:.2f}</b> bits/char")
    valid = data.get("valid_first_try")
    if isinstance(valid, (int, float)):
        bars = len(applied.new_indices)
        parts.append(f"<b>{round(valid * bars)}</b> of {bars} bars valid on the first try")
    written, total, silent = voices_written(applied, excerpt_parts, staves)
    if total:
        text = f"<b>{written}</b> of {total} voices written"
        if silent:
            text += f" <span style='color:#c0392b'>(silent: {html.escape(', '.join(silent))})</span>"
        parts.append(text)
    fit = data.get("log_likelihood")
    if isinstance(fit, (int, float)):
        parts.append(f"leads into the bars after: {fit:.1f} nats")
    copied = (data.get("originality") or {}).get("max_bars") or 0
    if copied >= 2:   # the originality check (docs/styles.md): say it where the variant is shown
        parts.append(f"<span style='color:#c0392b'>⚠ {copied} bars copied (see the message)</span>")
    return " · ".join(parts)


def settings_line(settings: dict) -> str:
    """The settings a job used, as a short line."""
    prompt = settings.get("prompt") or {}
    seed = settings.get("seed")
    items = [f"T {settings.get('temperature')}", f"top-k {settings.get('top_k')}", f"top-p {settings.get('top_p')}",
             f"seed {'free' if seed is None else seed}"]
    if settings.get("order", "notagen") != "notagen":
        items.append(f"{settings['order']} order")
    if prompt:
        items.append(html.escape(f"{prompt.get('composer', '')} · {prompt.get('instrumentation', '')}"))
    return "settings: " + " · ".join(str(i) for i in items)
