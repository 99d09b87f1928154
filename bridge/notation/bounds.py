"""Every number of an excerpt inside notabridge.limits.BOUNDS, checked before anything else reads it.

A schema-valid excerpt can still ask for unbounded work: one measure in "1000000/1" time makes
the duration splitter write 140,000 notes. These checks are cheap (one pass, no Fraction
arithmetic on unbounded text) and run before the JSON Schema and the semantic checks. Values of
the wrong type are left to the schema, which names them better.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from notabridge.limits import BOUNDS, LIMITS, bound_problem, short_repr as _short

from .excerpt_base import time_length, time_parts

_FRACTION = re.compile(r"^([1-9][0-9]*)/([1-9][0-9]*)$")
_TIME = re.compile(r"^([1-9][0-9]*(?:\+[1-9][0-9]*)*)/([1-9][0-9]*)$")


def time_signature_problem(text: Any, where: str, sep: str = ": ") -> str | None:
    """None for a time signature such as "3/4" or "2+3/8" within BOUNDS, else what is wrong
    ("<where><sep>reason": sep ": " for excerpt paths, " " for a job's own field)."""
    if not isinstance(text, str) or len(text) > LIMITS["max_fraction_chars"] or not _TIME.match(text):
        return f'{where}{sep}must be a time signature such as "3/4" or "2+3/8", not {_short(text)}'
    total, unit = time_parts(text)
    return (bound_problem("time_numerator", total, f"{where}: the number of beats")
            or bound_problem("time_denominator", unit, f"{where}: the beat unit")
            or (None if unit & (unit - 1) == 0 else f"{where}: the beat unit must be a power of two, not {unit}"))


def fraction_problem(text: Any, name: str, where: str) -> tuple[str | None, Fraction | None]:
    """(problem, value) of a duration text "n/d" bounded by BOUNDS[name] and the denominator bound."""
    if not isinstance(text, str) or len(text) > LIMITS["max_fraction_chars"] or not _FRACTION.match(text):
        return None, None   # not a fraction at all: the schema says so
    value = Fraction(text)
    problem = bound_problem("duration_denominator", value.denominator, f"{where}: the denominator of {text}")
    if problem is None and name == "measure_length":
        problem = bound_problem(name, value, f"{where}: {text} whole notes")
    elif problem is None and value > BOUNDS["measure_length"].high:
        problem = f"{where}: {text} whole notes is longer than the longest measure ({BOUNDS['measure_length'].high})"
    return problem, value


def excerpt_bound_errors(obj: Any) -> list[str]:
    """Every number of the excerpt that is outside its bound, as "path: reason" (at most 20)."""
    errors: list[str] = []
    if not isinstance(obj, dict):
        return errors
    parts, staves, measures = obj.get("parts"), obj.get("staves"), obj.get("measures")
    _count(errors, "parts", parts, "parts")
    _count(errors, "staves", staves, "staves")
    _count(errors, "measures", measures, "measures")
    if errors:
        return errors
    for i, part in enumerate(_dicts(parts)):
        _number(errors, "midi_program", part.get("midi_program"), f"parts[{i}].midi_program")
        _count(errors, "staves", part.get("staves"), f"parts[{i}].staves")
        for k, s in enumerate(_list(part.get("staves"))):
            _number(errors, "staff_index", s, f"parts[{i}].staves[{k}]")
    for i, staff in enumerate(_dicts(staves)):
        _number(errors, "staff_index", staff.get("index"), f"staves[{i}].index")
    events = 0
    for m, measure in enumerate(_dicts(measures)):
        where = f"measures[{m}]"
        _number(errors, "measure_index", measure.get("index"), f"{where}.index")
        _number(errors, "measure_number", measure.get("number"), f"{where}.number")
        _number(errors, "key", measure.get("key"), f"{where}.key")
        _number(errors, "tempo", measure.get("tempo"), f"{where}.tempo")
        if "time" in measure:
            problem = time_signature_problem(measure["time"], f"{where}.time")
            _add(errors, problem)
            if problem is None:
                _add(errors, bound_problem("measure_length", time_length(measure["time"]),
                                           f"{where}.time: the measure's length in whole notes"))
        if "duration" in measure:
            _add(errors, fraction_problem(measure["duration"], "measure_length", f"{where}.duration")[0])
        _count(errors, "staves", measure.get("staves"), f"{where}.staves")
        for s, staff in enumerate(_dicts(measure.get("staves"))):
            swhere = f"{where}.staves[{s}]"
            _number(errors, "staff_index", staff.get("staff"), f"{swhere}.staff")
            if isinstance(staff.get("voices"), list) and len(staff["voices"]) > BOUNDS["voice"].high + 1:
                errors.append(f"{swhere}.voices: at most {BOUNDS['voice'].high + 1} voices per staff")
            for v, voice in enumerate(_dicts(staff.get("voices"))):
                vwhere = f"{swhere}.voices[{v}]"
                _number(errors, "voice", voice.get("voice"), f"{vwhere}.voice")
                _count(errors, "events_per_voice", voice.get("events"), f"{vwhere}.events")
                for e, event in enumerate(_dicts(voice.get("events"))):
                    events += 1
                    ewhere = f"{vwhere}.events[{e}]"
                    _add(errors, fraction_problem(event.get("duration"), "duration", f"{ewhere}.duration")[0])
                    _number(errors, "dots", event.get("dots"), f"{ewhere}.dots")
                    tuplet = event.get("tuplet")
                    if isinstance(tuplet, dict):
                        _number(errors, "tuplet_ratio", tuplet.get("actual"), f"{ewhere}.tuplet.actual")
                        _number(errors, "tuplet_ratio", tuplet.get("normal"), f"{ewhere}.tuplet.normal")
                    notes = event.get("notes")
                    if isinstance(notes, list) and len(notes) > BOUNDS["notes_per_chord"].high:
                        errors.append(f"{ewhere}.notes: at most {BOUNDS['notes_per_chord'].high} notes in a chord")
                    for n, note in enumerate(_dicts(notes)):
                        _number(errors, "pitch", note.get("pitch"), f"{ewhere}.notes[{n}].pitch")
                        _number(errors, "tpc", note.get("tpc"), f"{ewhere}.notes[{n}].tpc")
                    if len(errors) >= 20:
                        return errors
    if events > BOUNDS["events"].high:
        errors.append(f"measures: {events} events in all; send at most {BOUNDS['events'].high}")
    selection = obj.get("selection")
    if isinstance(selection, dict):
        _number(errors, "measure_index", selection.get("start"), "selection.start")
        _number(errors, "measure_index", selection.get("end"), "selection.end")
        _count(errors, "staves", selection.get("staves"), "selection.staves")
        for k, s in enumerate(_list(selection.get("staves"))):
            _number(errors, "staff_index", s, f"selection.staves[{k}]")
    return errors[:20]


def _add(errors: list[str], problem: str | None) -> None:
    if problem:
        errors.append(problem)


def _number(errors: list[str], name: str, value: Any, where: str) -> None:
    # only numbers are checked here (None: absent; strings, lists ...: the schema's business)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _add(errors, bound_problem(name, value, f"{where}:"))


def _count(errors: list[str], name: str, value: Any, where: str) -> None:
    if isinstance(value, list) and len(value) > BOUNDS[name].high:
        errors.append(f"{where}: {len(value)} entries; send at most {BOUNDS[name].high}")


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
