"""NotaGen interleaved ABC -> excerpt JSON (rest un-reduction, abc2xml in-process, MusicXML reader).

With a `template` excerpt (the one the ABC header was made from), ABC voices are put back on the
template's staves and voices, and the template's parts, names, clefs and measure indices are kept.
"""
from __future__ import annotations

import contextlib
import re
import io
import threading
import warnings

from notabridge.cancel import checkpoint

from .abc_fast import Unsupported, read_interleaved, score_groups, score_layout
from .errors import NotationError
from .excerpt_base import copy_excerpt, measure_length, new_excerpt, rest_event
from .interleave import split_header_body, unreduce
from .keys import abc_key
from .marks import EMPTY_TEXT
from .musicxml_read import excerpt_from_musicxml
from .musicxml_write import abc_voice_slots

_LOCK = threading.Lock()
_NOISE = ("decoded from", "skipped header")


def abc_to_musicxml_element(abc_text: str):
    """Interleaved (or plain) ABC -> (MusicXML ElementTree element, abc2xml's messages), in-process."""
    err = io.StringIO()
    with _LOCK, contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # abc2xml uses pyparsing's deprecated camelCase names
        from abctoolkit import abc2xml

        try:
            docs = abc2xml.getXmlDocs(abc_text)
        except Exception as exc:
            raise NotationError(f"abc2xml failed: {exc}") from exc
    messages = [line.strip("- ").strip() for line in err.getvalue().splitlines()
                if line.strip() and not any(noise in line for noise in _NOISE)]
    if not docs:
        raise NotationError(f"this ABC cannot be read: {' '.join(messages)[:300] or 'abc2xml produced nothing'}")
    return docs[0], messages


def abc_to_excerpt(abc_text: str, template: dict | None = None, first_index: int | None = None,
                   reader: str = "auto") -> dict:
    """Interleaved ABC (NotaGen output; `[r:]` prefixes and rest reduction allowed) -> excerpt JSON.

    `template`: the excerpt whose ABC header this is; its staves/voices, parts and clefs are used.
    `first_index`: `index` of the first ABC bar in the score (default: the template's first measure).
    `reader`: "fast" (notabridge.notation.abc_fast, tens of milliseconds), "abc2xml" (abctoolkit's
    converter, the reference) or "auto" (fast, falling back to abc2xml for what it cannot read).
    """
    if not isinstance(abc_text, str) or "[V:" not in abc_text:
        raise NotationError("not interleaved ABC: no [V:n] bar found")
    if reader not in ("auto", "fast", "abc2xml"):
        raise ValueError(f"reader must be 'auto', 'fast' or 'abc2xml', not {reader!r}")
    header, body = split_header_body(abc_text)
    if template is not None:
        header = _header_in_force(header, template, first_index)
        abc_text = "".join(header + body)
    raw = None
    if reader in ("auto", "fast"):
        try:
            raw = read_interleaved(header, body)  # puts rests in place of missing voices itself
        except (Unsupported, ArithmeticError, ValueError, KeyError, IndexError) as exc:
            # model output can be anything: what the fast reader cannot take goes to abc2xml
            if reader == "fast":
                raise NotationError(f"the fast ABC reader cannot read this: {exc}") from exc
    if raw is None:
        # abc2xml drops an empty annotation ("^"); give it the invisible text that survives
        element, messages = abc_to_musicxml_element(re.sub(r'"([_^])"', rf'"\1{EMPTY_TEXT}"', unreduce(abc_text)))
        try:
            raw = excerpt_from_musicxml(element)
        except NotationError:
            raise
        except Exception as exc:  # abc2xml accepted text it could not really make sense of
            raise NotationError(f"this ABC cannot be read: {type(exc).__name__}: {exc}") from exc
        raw["warnings"].extend(f"ABC: {m}" for m in messages)
        raw.pop("groups", None)  # the %%score line says them as the fast reader reads them
        if score_groups(header):
            raw["groups"] = score_groups(header)
    if template is None:
        if first_index:
            for m in raw["measures"]:
                m["index"] += first_index
        return raw
    return _onto_template(raw, template, [staff for part in score_layout(header) for staff in part], first_index)


def _header_in_force(header: list[str], template: dict, first_index: int | None) -> list[str]:
    """The header with the key and meter in force where the ABC's bars start.

    When the bars start after the template's first measure (the engine sends the header and
    only the bars it generated), a key or meter change inside the template's earlier bars is
    not in the text; the template says what holds.
    """
    # the template measure where the bars start (infill) or the last one before them (continue)
    before = [m for m in template["measures"] if first_index is not None and m["index"] <= first_index]
    if not before:
        return header
    key, mode, time = before[-1]["key"], before[-1].get("mode"), before[-1]["time"]
    out = []
    for line in header:
        if line.startswith("K:"):
            line = f"K:{abc_key(key, mode)}\n"
        elif line.startswith("M:"):
            line = f"M:{time}\n"
        out.append(line)
    return out


def _measure_number(template: dict, index: int) -> int:
    """The printed number of measure `index`: the template's, else counted on from its nearest measure."""
    known = [(m["index"], m.get("number", m["index"] + 1)) for m in template["measures"]]
    if not known:
        return index + 1
    for measure_index, number in known:
        if measure_index == index:
            return number
    before = [(mi, n) for mi, n in known if mi < index]
    ref_index, ref_number = before[-1] if before else known[0]
    return ref_number + (index - ref_index)


def _onto_template(raw: dict, template: dict, groups: list[list[int]], first_index: int | None) -> dict:
    slots = abc_voice_slots(template)
    result = new_excerpt(template.get("title", ""))
    result["parts"] = copy_excerpt(template)["parts"]
    result["staves"] = copy_excerpt(template)["staves"]
    result["warnings"] = list(raw["warnings"])
    for key in ("groups", "beaming"):  # the template's staff groups; the ABC's own beams
        source = template if key == "groups" else raw
        if source.get(key):
            result[key] = copy_excerpt({key: source[key]})[key]
    if len(groups) != len(raw["staves"]):
        raise NotationError(f"the ABC has {len(raw['staves'])} staves but its header lists {len(groups)}")
    voice_target: dict[tuple[int, int], tuple[int, int]] = {}
    for staff, group in enumerate(groups):
        for position, number in enumerate(group):
            if number - 1 >= len(slots):
                raise NotationError(f"ABC voice V:{number} is not in the excerpt's header")
            voice_target[(staff, position)] = slots[number - 1]
    start = template["measures"][0]["index"] if first_index is None and template["measures"] else (first_index or 0)
    for i, measure in enumerate(raw["measures"]):
        checkpoint()
        index = start + i
        number = _measure_number(template, index)
        staves: dict[int, list] = {}
        for staff_entry in measure["staves"]:
            for voice in staff_entry["voices"]:
                target = voice_target.get((staff_entry["staff"], voice["voice"]))
                if target is None:
                    if any(e["type"] == "chord" for e in voice["events"]):
                        result["warnings"].append(f"measure {index}: notes of an extra ABC voice were left out")
                    continue
                staves.setdefault(target[0], []).append({"voice": target[1], "events": voice["events"]})
        out = {k: v for k, v in measure.items() if k not in ("staves", "index", "number")}
        out = {"index": index, "number": number, **out}
        for voices in staves.values():
            if all(v["voice"] != 0 for v in voices):  # voice 0 of a staff is always present
                voices.append({"voice": 0, "events": [rest_event(measure_length(measure))]})
        out["staves"] = [{"staff": s, "voices": sorted(v, key=lambda x: x["voice"])} for s, v in sorted(staves.items())]
        result["measures"].append(out)
    return result
