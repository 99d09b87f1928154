"""A fast reader for NotaGen interleaved ABC (the subset xml2abc writes and NotaGen generates).

abc2xml (pyparsing) needs about a second for a four-part, 100-bar piece; this reader needs a
few tens of milliseconds. It follows abc2xml's rules where ABC leaves room (accidentals hold for
the rest of the bar per octave, a tied note keeps its alteration, `>`/`<` broken rhythms,
`(p:q:r` tuplets) and is checked against abc2xml on real scores (tests/test_notation_abc.py).
Anything outside the subset (voice overlays `&`, multi-measure rests, unknown symbols) raises
`Unsupported`, and the caller falls back to abc2xml.
"""
from __future__ import annotations

import re
from fractions import Fraction

from notabridge.abc.syntax import (ACCIDENTALS, INNER_NOTE, default_q, default_unit, is_compound, key_signature, multiplier,
                                   read_tokens)
from notabridge.cancel import checkpoint

from .durations import TYPE_NAMES, default_tuplet, fraction_text, notated_value
from .excerpt_base import add_warning, new_excerpt, rest_event, time_length
from .spelling import midi_from_spelling, tpc_from_step
from .keys import abc_mode
from .marks import ABC_BARLINES, ABC_MARKS, ABC_WEDGES, DYNAMICS, MARKS


class Unsupported(Exception):
    """ABC this reader does not handle; use abc2xml instead."""


_SHARP_ORDER = "FCGDAEB"


def key_fifths(value: str) -> int:
    token = value.strip().split()[0] if value.strip() else "C"
    fifths = key_signature(token)
    if fifths is None or not -7 <= fifths <= 7:
        raise Unsupported(f"key {value!r}")
    return fifths


def key_mode(value: str) -> str | None:
    """The MusicXML mode word of an ABC key ("F#min" -> "minor"); None for major and none."""
    token = value.strip().split()[0] if value.strip() else "C"
    match = re.fullmatch(r"([A-Ga-g][#b]?)([A-Za-z]*)", token)
    return abc_mode(match.group(2)) if match else None


_CLEF_WORD = re.compile(r"(treble|bass3|bass|alto1|alto2|alto|tenor|soprano|mezzosoprano|baritone|perc|none)?([+-](?:8|15))?")


def clef_octave(word: str) -> int | None:
    """Octave shift of an ABC clef word ("treble-8" -> -1), None when the word is no clef."""
    word = word.removeprefix("clef=")
    match = _CLEF_WORD.fullmatch(word)
    if not word or not match or not (match.group(1) or match.group(2)):
        return None
    if match.group(1) in ("perc",):
        raise Unsupported("percussion clef")
    return {None: 0, "-8": -1, "+8": 1, "-15": -2, "+15": 2}[match.group(2)]


def transposition(semitones: int) -> tuple[int, int, int]:
    """(fifths shift, semitones, diatonic steps) of a transposition given in semitones only,
    spelled the simplest way (a tone down: Bb instruments)."""
    from .musicxml_read import _diatonic_steps, _fifths_shift

    fifths = _fifths_shift(None, semitones % 12 if semitones >= 0 else -((-semitones) % 12))
    return fifths, semitones, _diatonic_steps((fifths, semitones))


def key_alterations(fifths: int) -> dict[str, int]:
    if fifths >= 0:
        return {step: 1 for step in _SHARP_ORDER[:fifths]}
    return {step: -1 for step in _SHARP_ORDER[7 + fifths:]}


def meter_text(value: str) -> str | None:
    value = value.strip()
    if value == "C":
        return "4/4"
    if value == "C|":
        return "2/2"
    if re.fullmatch(r"\d+(\+\d+)*/\d+", value):
        return value
    if value.lower() == "none":
        return None
    raise Unsupported(f"meter {value!r}")


def _unit(value: str) -> Fraction:
    try:
        return Fraction(value.strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise Unsupported(f"unit length {value!r}") from exc


def _tempo(value: str) -> float | None:
    match = re.search(r"(\d+)/(\d+)\s*=\s*(\d+(?:\.\d+)?)", value)
    if not match:
        match2 = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", value)
        return float(match2.group(1)) if match2 else None
    beat = Fraction(int(match.group(1)), int(match.group(2)))
    return round(float(match.group(3)) * float(beat / Fraction(1, 4)), 2)


_CLEF_NAMES = {"treble": "treble", "bass": "bass", "alto": "alto", "tenor": "tenor", "soprano": "soprano",
               "mezzosoprano": "mezzo-soprano", "baritone": "baritone", "treble-8": "treble8vb", "treble+8": "treble8va",
               "bass-8": "bass8vb", "alto1": "soprano", "alto2": "mezzo-soprano", "bass3": "baritone"}


class _Voice:
    """Parsing state of one ABC voice: key, unit length, open ties and tuplets."""

    def __init__(self, fifths: int, unit: Fraction, meter: str | None) -> None:
        self.fifths, self.unit, self.meter = fifths, unit, meter
        self.mode: str | None = None
        self.key_alts = key_alterations(fifths)
        self.ties: dict[tuple[str, int], int] = {}  # (step, octave) -> alteration of an open tie
        self.octave_shift = 0  # an octave clef (treble-8) writes notes an octave from where they sound
        self.shift = (0, 0)  # (fifths, semitones) from written to concert pitch (a transposing voice)
        self.last_notes: list[dict] = []

    def set_field(self, name: str, value: str) -> bool:
        """Apply an inline or header field; True when it set a key (not only a clef)."""
        if name == "K":
            words = value.split()
            clef = [w for w in words if clef_octave(w) is not None or w.startswith("clef=")]
            keys = [w for w in words if w not in clef]
            for word in clef:
                self.octave_shift = clef_octave(word.removeprefix("clef=")) or 0
            if keys:
                self.fifths = key_fifths(keys[0])
                self.mode = key_mode(keys[0])
                self.key_alts = key_alterations(self.fifths)
                return True
        elif name == "M":
            self.meter = meter_text(value)
        elif name == "L":
            self.unit = _unit(value)
        return False

    def pitch(self, acc: str | None, letter: str, marks: str, bar_alts: dict) -> dict:
        step = letter.upper()
        octave = (4 if letter.isupper() else 5) + marks.count("'") - marks.count(",")
        if (step, octave) in self.ties:
            alter = self.ties[(step, octave)]
            stop = True
        else:
            stop = False
            if acc:
                alter = ACCIDENTALS[acc]
                bar_alts[(step, octave)] = alter
            elif (step, octave) in bar_alts:
                alter = bar_alts[(step, octave)]
            else:
                alter = self.key_alts.get(step, 0)
        return {"pitch": midi_from_spelling(step, alter, octave + self.octave_shift) + self.shift[1],
                "tpc": tpc_from_step(step, alter) + self.shift[0],
                "tie": "stop" if stop else None, "_key": (step, octave), "_alter": alter}


def parse_bar(text: str, voice: _Voice, excerpt: dict, fields: dict, directions: list | None = None) -> list[dict]:
    """One voice's text of one bar -> events (durations in whole notes, ties marked); dynamics,
    hairpins and text annotations go to `directions` with their time in the bar."""
    events: list[dict] = []
    bar_alts: dict = {}
    tuplets: list[list] = []  # [factor, notes left, p, q]
    pending_broken = Fraction(1)
    opened_ties: dict[tuple[str, int], int] = {}
    space, marks = True, []  # whitespace before the next event (no beam to it), decorations for it
    slur_starts = 0
    grace: list[dict] = []  # grace notes waiting for the next note
    previous = None
    for match in _tokens(text):
        kind, token = match.lastgroup, match.group(0)
        if kind == "broken" and previous == "broken":
            raise Unsupported(f"broken rhythm {token!r} after another")
        previous = kind
        if directions is not None and kind in ("deco", "pdeco", "annot"):
            item = _direction(token)
            if item:
                at = sum((e["_length"] for e in events), Fraction(0))
                directions.append({"at": fraction_text(at) if at else "0", **item})
                continue
        if kind == "space":
            space = True
            continue
        if kind == "slur":
            slur_starts += 1
            continue
        if kind == "slurend":
            if events:
                events[-1]["_slur_stop"] = events[-1].get("_slur_stop", 0) + 1
            continue
        if kind in ("deco", "pdeco", "short", "skip"):
            if token in ABC_MARKS and ABC_MARKS[token] not in marks:
                marks.append(ABC_MARKS[token])
            continue
        if kind in ("annot", "bar", "volta"):
            continue
        if kind == "overlay":
            raise Unsupported("voice overlay (&)")
        if kind == "field":
            name, value = match["fname"], match["fvalue"] or ""
            words = value.split()
            if name == "K" and directions is not None and words and all(clef_octave(w) is not None for w in words):
                at = sum((e["_length"] for e in events), Fraction(0))
                directions.append({"at": fraction_text(at) if at else "0", "clef": _CLEF_NAMES.get(words[0], "treble")})
            if name in "KML":
                if voice.set_field(name, value):
                    fields.setdefault("fifths", voice.fifths + voice.shift[0])
                    fields.setdefault("mode", voice.mode)
                if name != "K":
                    fields.setdefault(name, value)
            elif name == "Q":
                fields.setdefault("Q", value)
            continue
        if kind == "grace":
            grace += _grace_groups(match["gbody"], voice, bar_alts)
            continue
        if kind == "tuplet":
            p = int(match["tp"])
            q = int(match["tq"]) if match["tq"] else default_q(p, is_compound(voice.meter))
            r = int(match["tr"]) if match["tr"] else p
            tuplets.append([Fraction(q, p), r, p, q, True])  # the last item: its first note is still to come
            continue
        if kind == "broken":
            if not events:
                raise Unsupported("broken rhythm without a note before it")
            short = Fraction(1, 2 ** len(token))
            first, second = (2 - short, short) if token[0] == ">" else (short, 2 - short)
            events[-1]["_length"] *= first
            pending_broken = second
            continue
        # a note, chord or rest: one event
        factor = pending_broken
        pending_broken = Fraction(1)
        ratio = None
        bracket = []
        for t in tuplets:
            factor *= t[0]
            ratio = (t[2], t[3])
            t[1] -= 1
            if t[4]:
                bracket.append("start")
                t[4] = False
            if t[1] == 0:
                bracket.append("stop")
        tuplets = [t for t in tuplets if t[1] > 0]
        joined, space = not space, False
        if kind == "rest":
            length = voice.unit * multiplier(match.group("rdur")) * factor
            events.append({"type": "rest", "_length": length, "_ratio": ratio, "_joined": joined,
                           "_marks": marks, "_invisible": match.group(0)[0] == "x", "_slur_start": slur_starts,
                           "_grace": grace, "_bracket": bracket})
            marks, slur_starts, grace = [], 0, []
            continue
        if kind == "note":
            parts = [match.groupdict()]
            outer, chord_tie = Fraction(1), ""
        else:
            parts = [m.groupdict() for m in INNER_NOTE.finditer(match["cbody"])]
            if not parts:
                raise Unsupported(f"chord {token!r}")
            outer, chord_tie = multiplier(match["cdur"]), match["ctie"]
        notes = []
        for part in parts:
            note = voice.pitch(part["acc"], part["letter"], part["oct"], bar_alts)
            if part["tie"] or chord_tie:
                opened_ties[note["_key"]] = note["_alter"]
                note["tie"] = "continue" if note["tie"] == "stop" else "start"
            notes.append(note)
        for note in notes:  # ties reach only the next event
            voice.ties.pop(note["_key"], None)
        voice.ties.clear()
        voice.ties.update(opened_ties)
        opened_ties = {}
        length = voice.unit * multiplier(parts[0]["dur"]) * outer * factor
        events.append({"type": "chord", "_length": length, "_ratio": ratio, "notes": notes, "_joined": joined,
                       "_marks": marks, "_slur_start": slur_starts, "_grace": grace, "_bracket": bracket})
        marks, slur_starts, grace = [], 0, []
    if grace:
        add_warning(excerpt, "grace notes after the last note of a bar were left out")
    _beams(events)
    return events


def _tokens(text: str):
    """abc.syntax's tokens of a finished text; what is not ABC there is not ABC here either."""
    try:
        yield from read_tokens(text)
    except ValueError as exc:
        raise Unsupported(str(exc)) from None


def _grace_groups(body: str, voice: _Voice, bar_alts: dict) -> list[dict]:
    """The inside of `{...}` -> grace groups (a note or a chord each); `/` first: acciaccatura."""
    slash = body.startswith("/")
    groups = []
    for match in _tokens(body[1:] if slash else body):
        kind = match.lastgroup
        if kind == "space" or (kind == "skip" and match.group(0) == "-"):
            continue
        if kind == "note":
            parts, outer = [match.groupdict()], Fraction(1)
        elif kind == "chord" and INNER_NOTE.search(match["cbody"]):
            parts = [m.groupdict() for m in INNER_NOTE.finditer(match["cbody"])]
            outer = multiplier(match["cdur"])
        else:
            raise Unsupported(f"grace notes {body!r}")
        notes = [voice.pitch(part["acc"], part["letter"], part["oct"], bar_alts) for part in parts]
        length = voice.unit * multiplier(parts[0]["dur"]) * outer
        group = {"notes": [{"pitch": n["pitch"], "tpc": n["tpc"]} for n in notes],
                 "type": TYPE_NAMES.get(length, "eighth") if notated_value(length) else "eighth"}
        if slash:
            group["slash"] = True
        groups.append(group)
    if not groups:
        raise Unsupported(f"grace notes {body!r}")
    return groups


def _direction(token: str) -> dict | None:
    """An ABC decoration or annotation that is a measure direction in excerpt v2, else None."""
    if token in ABC_WEDGES:
        return {"wedge": ABC_WEDGES[token]}
    if token.startswith("!") and token[1:-1] in DYNAMICS:
        return {"dynamics": token[1:-1]}
    if token.startswith('"') and token[1:2] in ("^", "_"):
        return {"words": token[2:-1], "placement": "above" if token[1] == "^" else "below"}
    if token.startswith('"') and token[1:2] not in ("<", ">", "@"):
        return {"chord": token[1:-1]}
    return None


def _beams(events: list[dict]) -> None:
    """Beams as ABC writes them: notes with no space between them are beamed; a rest inside a
    beamed group takes the beam of the note after it (xml2abc), so it carries none itself."""
    runs: list[list[dict]] = []
    for i, event in enumerate(events):
        if i and event.get("_joined"):
            runs[-1].append(event)
        else:
            runs.append([event])
    for run in runs:
        chords = [e for e in run if e["type"] == "chord"]
        if len(chords) < 2:
            continue
        for k, event in enumerate(chords):
            event["_beam"] = "begin" if k == 0 else ("end" if k == len(chords) - 1 else "continue")


def _finish(event: dict) -> dict:
    length = event.pop("_length")
    ratio = event.pop("_ratio")
    if length <= 0:
        raise Unsupported("event without duration")
    out = {"type": event["type"], "duration": fraction_text(length)}
    if event["type"] == "chord":
        out["notes"] = [{"pitch": n["pitch"], "tpc": n["tpc"], "tie": n["tie"]} for n in event["notes"]]
    if event.get("_beam"):
        out["beam"] = event["_beam"]
    if event.get("_marks"):
        out["marks"] = [m for m in MARKS if m in event["_marks"]]
    if event.get("_invisible"):
        out["invisible"] = True
    if event.get("_grace"):
        out["grace"] = event["_grace"]
    slurs = {k: event[f"_slur_{k}"] for k in ("start", "stop") if event.get(f"_slur_{k}")}
    if slurs:
        out["slurs"] = slurs
    ratio = ratio or default_tuplet(length)
    notated = length * Fraction(*ratio) if ratio else length
    shape = notated_value(notated)
    if shape and shape[1]:
        out["dots"] = shape[1]
    if ratio:
        out["tuplet"] = {"actual": ratio[0], "normal": ratio[1]}
        for kind in event.get("_bracket", ()):
            out["tuplet"][kind] = True
    return out


def barline_fields(text: str) -> tuple[dict, dict]:
    """Excerpt v2 barline fields from one voice's text of a bar: (for this measure, for the next).

    xml2abc writes a repeat start as the end of the barline before the measure (`|:`, `::`) and
    a volta number after it (`|1`, `:|2`)."""
    this: dict = {}
    following: dict = {}
    items = [m for m in _tokens(text) if m.lastgroup not in ("annot", "deco", "field")]
    while items and items[0].lastgroup == "space":
        items.pop(0)
    while items and items[-1].lastgroup == "space":
        items.pop()
    if items and items[0].lastgroup == "volta":
        this["volta"] = items[0]["vnum"]
    elif items and items[0].lastgroup == "bar" and _bar_text(items[0]).endswith(":"):
        this["repeat_start"] = True
        if items[0]["bnum"]:
            this["volta"] = items[0]["bnum"]
    if len(items) > 1 and items[-1].lastgroup == "bar":
        bar, number = _bar_text(items[-1]), items[-1]["bnum"]
        if bar in ABC_BARLINES:
            this["barline"] = ABC_BARLINES[bar]
        if bar.endswith(":"):
            following["repeat_start"] = True
        if number:
            following["volta"] = number
    return this, following


def _bar_text(match) -> str:
    """A barline token without its volta number (`:|2` -> `:|`)."""
    return match.group(0)[:match.start("bnum") - match.start()] if match["bnum"] else match.group(0)


def score_layout(header: list[str]) -> list[list[list[int]]]:
    """Parts -> staves -> ABC voice numbers, from %%score (braces make one part, parentheses one staff)."""
    voices = [int(line.split()[0][2:]) for line in header if re.match(r"V:\d+", line)]
    score = next((line[7:] for line in header if line.startswith("%%score")), None)
    if score is None:
        return [[[v]] for v in voices]
    parts: list[list[list[int]]] = []
    brace: list[list[int]] | None = None
    for token in re.findall(r"\{|\}|\([^)]*\)|\d+", score):
        if token == "{":
            brace = []
        elif token == "}":
            if brace:
                parts.append(brace)
            brace = None
        else:
            staff = [int(x) for x in re.findall(r"\d+", token)]
            if brace is not None:
                brace.append(staff)
            else:
                parts.append([staff])
    listed = {v for part in parts for staff in part for v in staff}
    return parts + [[[v]] for v in voices if v not in listed]


def score_groups(header: list[str]) -> list[dict]:
    """Bracket groups of %%score (`[ 1 | 2 ]`) over the parts of score_layout, as excerpt v2 groups."""
    score = next((line[7:] for line in header if line.startswith("%%score")), None)
    if score is None:
        return []
    groups, stack, part, in_brace = [], [], 0, False
    for token in re.findall(r"\[|\]|\{|\}|\||\([^)]*\)|\d+", score):
        if token == "[":
            stack.append({"symbol": "bracket", "barline": False, "first": part})
        elif token == "]" and stack:
            group = stack.pop()
            if part > group["first"]:
                groups.append(dict(group, first=f"P{group['first'] + 1}", last=f"P{part}"))
        elif token == "|" and stack and not in_brace:
            stack[-1]["barline"] = True
        elif token == "{":
            in_brace = True
        elif token == "}":
            in_brace = False
            part += 1
        elif not in_brace:
            part += 1
    return sorted(groups, key=lambda g: (int(g["first"][1:]), -int(g["last"][1:])))


def read_interleaved(header: list[str], body: list[str]) -> dict:
    """Unreduced interleaved ABC (every voice on every line) -> raw excerpt, staves from %%score."""
    fields = {}
    for line in header:
        m = re.match(r"([KMLQ]):(.*)", line)
        if m:
            fields.setdefault(m.group(1), m.group(2).strip())
    fifths = key_fifths(fields.get("K", "C"))
    mode = key_mode(fields.get("K", "C"))
    meter = meter_text(fields.get("M", "4/4")) or "4/4"
    unit = _unit(fields["L"]) if "L" in fields else default_unit(time_length(meter))
    layout = score_layout(header)
    names = {}
    clefs = {}
    transposed: dict[int, int] = {}  # voice -> semitones its written notes sound (xml2abc's transpose=)
    for line in header:
        m = re.match(r"V:(\d+)\s*(.*)", line)
        if m:
            rest = m.group(2)
            name = re.search(r'nm="([^"]*)"', rest)
            short = re.search(r'snm="([^"]*)"', rest)
            names[int(m.group(1))] = (name.group(1) if name else "", short.group(1) if short else "")
            if "map=" in rest:
                raise Unsupported("percussion voice")
            steps = re.search(r"(?<!\S)transpose=(-?\d+)", rest)
            if steps and int(steps.group(1)):
                transposed[int(m.group(1))] = int(steps.group(1))
            words = [w for w in rest.split() if "=" not in w or w.startswith("clef=")]
            clefs[int(m.group(1))] = words[0].removeprefix("clef=") if words and clef_octave(words[0]) is not None else "treble"
    excerpt = new_excerpt()
    excerpt["beaming"] = "written"
    if score_groups(header):
        excerpt["groups"] = score_groups(header)
    slot: dict[int, tuple[int, int]] = {}
    for p, part in enumerate(layout):
        first_voice = part[0][0]
        pid = f"P{p + 1}"
        staves = []
        for staff_voices in part:
            index = len(excerpt["staves"])
            excerpt["staves"].append({"index": index, "part": pid, "clef": _CLEF_NAMES.get(clefs.get(staff_voices[0], "treble"), "treble")})
            staves.append(index)
            for k, v in enumerate(staff_voices):
                slot[v] = (index, k)
        name, short = names.get(first_voice, ("", ""))
        excerpt["parts"].append({"id": pid, "name": name, "abbreviation": short, "staves": staves, "midi_program": 0})
        if first_voice in transposed:
            shift = transposition(transposed[first_voice])
            excerpt["parts"][-1]["transpose"] = {"diatonic": shift[2], "chromatic": shift[1], "octave_change": 0}
        order = [list(slot[v]) for v in sorted(v for staff_voices in part for v in staff_voices)]
        if order != sorted(order):  # ABC numbers the voices across staves (xml2abc: order of appearance)
            excerpt["parts"][-1]["voice_order"] = order
    voices = {v: _Voice(fifths, unit, meter) for v in slot}
    for v, voice in voices.items():
        voice.mode = mode
        if v in transposed:  # notes and keys as written; the excerpt is at concert pitch
            voice.shift = transposition(transposed[v])[:2]
            voice.fifths -= voice.shift[0]
            voice.key_alts = key_alterations(voice.fifths)
    for v, clef in clefs.items():
        if v in voices:
            voices[v].octave_shift = clef_octave(clef) or 0
    tempo = _tempo(fields["Q"]) if "Q" in fields else None
    current_key, current_mode, current_meter = fifths, mode, meter
    segment = re.compile(r"\[V:(\d+)\](.*?)(?=\[V:\d+\]|$)")
    carried: dict = {}  # barline fields the previous bar's barline gave this one
    for i, line in enumerate(body):
        checkpoint()
        line = re.sub(r"^\[r:[^\]]*\]", "", line.rstrip("\n"))
        bar_fields: dict = {}
        per_voice = {}
        directions: list[dict] = []
        clefs: list[dict] = []
        segments = segment.findall(line)
        barlines, next_barlines = barline_fields(segments[0][1]) if segments else ({}, {})
        barlines = {**carried, **barlines}
        carried = next_barlines
        for number, text in segments:
            number = int(number)
            if number not in voices:
                raise Unsupported(f"voice V:{number} not declared")
            found: list[dict] = []
            per_voice[number] = [_finish(e) for e in parse_bar(text, voices[number], excerpt, bar_fields, found)]
            staff, k = slot[number]
            directions += [{"staff": staff, "voice": k, **d} for d in found if "clef" not in d]
            for d in found:  # a clef change is written in every voice of its staff (each voice shows it
                if "clef" not in d:  # after its note under way then): once, at the earliest time, is enough
                    continue
                same = next((c for c in clefs if c["staff"] == staff and c["clef"] == d["clef"]), None)
                if same is None:
                    clefs.append({"staff": staff, **d})
                elif Fraction(d["at"]) < Fraction(same["at"]):
                    same["at"] = d["at"]
        if "M" in bar_fields:
            current_meter = meter_text(bar_fields["M"]) or current_meter
        # each part's key is its first voice's (concert pitch); the first part's is the score's
        keys = [(voices[part[0][0]].fifths + voices[part[0][0]].shift[0], voices[part[0][0]].mode) for part in layout]
        if keys:
            current_key, current_mode = keys[0]
        elif "fifths" in bar_fields:
            current_key, current_mode = bar_fields["fifths"], bar_fields["mode"]
        part_keys = {excerpt["parts"][p]["id"]: dict({"key": k}, **({"mode": md} if md else {}))
                     for p, (k, md) in enumerate(keys) if (k, md) != (current_key, current_mode)}
        if "Q" in bar_fields:
            tempo = _tempo(bar_fields["Q"])
        totals = [sum(Fraction(e["duration"]) for e in evs) for evs in per_voice.values()]
        nominal = time_length(current_meter)
        length = max(totals) if totals else nominal
        measure = {"index": i, "number": i + 1, "time": current_meter, "key": current_key}
        if current_mode:
            measure["mode"] = current_mode
        if part_keys:
            measure["part_keys"] = part_keys
        if length != nominal:
            measure["duration"] = fraction_text(length)
        if tempo is not None:
            measure["tempo"] = tempo
            tempo = None
        measure.update(barlines)
        if directions:
            measure["directions"] = directions
        if clefs:
            measure["clefs"] = clefs
        staves: dict[int, list] = {}
        for number, events in sorted(per_voice.items()):
            total = sum((Fraction(e["duration"]) for e in events), Fraction(0))
            if total < length:
                events.append(rest_event(length - total))
            staff, k = slot[number]
            staves.setdefault(staff, []).append({"voice": k, "events": events})
        measure["staves"] = []
        for s in range(len(excerpt["staves"])):
            voices_here = staves.get(s) or [{"voice": 0, "events": [rest_event(length)]}]
            if all(v["voice"] != 0 for v in voices_here):
                voices_here.insert(0, {"voice": 0, "events": [rest_event(length)]})
            measure["staves"].append({"staff": s, "voices": sorted(voices_here, key=lambda v: v["voice"])})
        excerpt["measures"].append(measure)
    return excerpt
