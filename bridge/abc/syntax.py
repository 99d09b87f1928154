"""NotaGen's ABC, token by token: one lexer and one duration tracker for every reader and writer.

The ABC here is what xml2abc writes and NotaGen reads (shared/NOTAGEN.md, "Text format"): notes
with accidentals, octave marks, durations and ties, rests, chords, tuplets `(p:q:r`, broken
rhythms `>`/`<`, slurs, grace notes `{...}`, decorations `!...!` and `.~HLMOPSTuv`, annotations
`"..."`, inline fields `[K:...]`, overlays `&` and barlines. `TOKENS` is the lexical grammar;
`Scanner` reads one voice's bar incrementally (a character at a time while the model writes it,
or a whole text at once): what it lasts so far, the events it holds, which characters may come
next without breaking a token, and which of those add no time. The bar check (notabridge.abc.bar_check), the
bar writer (notabridge.engine.writer), the patcher (notabridge.abc.patching) and the notation layer's fast reader
(notabridge.notation.abc_fast) all read ABC through this module, so they agree on where a note ends.
"""
from __future__ import annotations

import copy
from functools import lru_cache
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

# -- lexical grammar ----------------------------------------------------------------------------
_ACC = r"\^\^|\^|__|_|="
_DUR = r"\d*(?:/+\d*)?"
_INNER = rf"(?:{_ACC})?[A-Ga-g][,']*{_DUR}-?"
TOKENS = re.compile(rf"""
    (?P<space>[ \t]+)
  | (?P<bar>\[\||:*\|[|\]]*:*(?P<bnum>\d[\d,\-]*)?|::+)
  | (?P<volta>\[(?P<vnum>\d[\d,\-]*))
  | (?P<field>\[(?P<fname>[H-Zh-z])(?P<fcolon>:(?P<fvalue>[^\]\n|\[]*)(?P<fclose>\])?)?)
  | (?P<deco>!(?P<dname>[^!\n|]*)(?P<dclose>!)?)
  | (?P<pdeco>\+[^+\n|]*(?P<pclose>\+)?)
  | (?P<annot>"(?P<text>[^"\n|]*)(?P<aclose>")?)
  | (?P<grace>\{{(?P<gbody>[^}}\n|]*)(?P<gclose>\}})?)
  | (?P<tuplet>\((?P<tp>[1-9]\d*)(?::(?P<tq>\d*))?(?::(?P<tr>\d*))?)
  | (?P<slur>\()
  | (?P<slurend>\))
  | (?P<broken>[<>]{{1,3}})
  | (?P<chord>\[(?P<cbody>(?:{_INNER}|[ ])*)(?P<copen>{_ACC})?(?P<cclose>\](?P<cdur>{_DUR})(?P<ctie>-?))?)
  | (?P<note>(?P<acc>{_ACC})?(?P<letter>[A-Ga-g])(?P<oct>[,']*)(?P<dur>{_DUR})(?P<tie>-?))
  | (?P<accopen>{_ACC})
  | (?P<rest>[zx](?P<rdur>{_DUR}))
  | (?P<short>[.~HLMOPSTuvJRy])
  | (?P<overlay>&)
  | (?P<skip>[`$\\]|-)
""", re.VERBOSE)
INNER_NOTE = re.compile(rf"(?P<acc>{_ACC})?(?P<letter>[A-Ga-g])(?P<oct>[,']*)(?P<dur>{_DUR})(?P<tie>-?)")

# barlines as NotaGen's patcher splits a body line on them (plain text search, as in training)
BARLINES = ("|:", "::", ":|", "[|", "||", "|]", "|")
BARLINE_SPLIT = re.compile("(" + "|".join(map(re.escape, BARLINES)) + ")")
# the barlines a writer may end a voice's bar with (xml2abc's, with volta numbers after them)
BARLINE_FORMS = ("|", "||", "|]", ":|", "|:", "::", ":|:", "[|", "|1", "|2", ":|1", ":|2", "||1", "||2")
VOICE_MARK = re.compile(r"\[V:\s*([^\]\s]+)[^\]]*\]")
LINE_PREFIX = re.compile(r"^\[r:\d+/\d+\]")
INLINE_FIELD = re.compile(r"\[([A-Za-z]):([^\]]*)\]")

PITCHES = "ABCDEFGabcdefg"
DIGITS = "0123456789"
ACCIDENTALS = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
FIELD_LETTERS = "IKLMQ"     # inline fields a voice's bar may hold ("k": [K:] with a clef only)
CLEFS = ("treble", "bass", "alto", "tenor", "soprano", "mezzosoprano", "baritone", "treble-8", "treble+8",
         "bass-8", "bass+8", "none")
SHORT_DECORATIONS = ".~HLMOPSTuv"

# what may start something new in a voice's bar (the writer adds barlines and the end itself)
_START_EVENT = PITCHES + "^_=zx["
_START = _START_EVENT + ' !"{(' + ")" + SHORT_DECORATIONS
_AFTER_EVENT = "<>"
# the !decorations! a writer may use: ABC 2.1's and xml2abc's (an unknown name never ends)
DECORATIONS = tuple("""
^ trill trill( trill) lowermordent uppermordent mordent pralltriller roll turn turnx invertedturn invertedturnx
arpeggio > accent emphasis fermata invertedfermata tenuto 0 1 2 3 4 5 + plus snap slide wedge upbow downbow
open thumb breath pppp ppp pp p mp mf f ff fff ffff sfz sf sfp fp rfz crescendo( crescendo) < <( <)
diminuendo( diminuendo) >( >) segno coda D.S. D.C. dacoda dacapo fine shortphrase mediumphrase longphrase
ped ped-up 8va( 8va) 8vb( 8vb) editorial courtesy staccato marcato""".split())
MAX_ANNOTATION = 40         # NotaGen's cleaning drops longer annotations
# durations a writer may give a note, in units of L: numerators up to 16 (and 24, 32), divisions
# by 2, 4 and 8 (`G22`, `G3/7` or `G4/16` read as ABC, but no score writes them)
NUMERATORS = tuple(str(n) for n in list(range(1, 17)) + [24, 32])
DENOMINATORS = ("2", "4", "8")
MAX_GRACE = 16
MAX_CHORD_NOTES = 8
_ANNOT_CHARS = "".join(chr(c) for c in range(32, 127) if chr(c) not in '"|[]')
_ANNOT_FIRST = "^_<>@ABCDEFG"   # where the text goes (xml2abc writes ^ and _), or a chord symbol
_GRACE_CHARS = PITCHES + "^_=,'/ ()-" + DIGITS


def multiplier(text: str) -> Fraction:
    """An ABC duration suffix as a multiple of the unit length: "" 1, "3" 3, "/" 1/2, "//" 1/4, "3/2"."""
    if not text:
        return Fraction(1)
    num, slash, den = text.partition("/")
    numerator = int(num) if num else 1
    if not slash:
        return Fraction(numerator)
    digits = den.strip("/")
    if digits:
        return Fraction(numerator, int(digits))
    return Fraction(numerator, 2 ** text.count("/"))


def pitch_number(acc: str | None, letter: str, marks: str) -> int:
    """MIDI number of a written note, its own accidental applied (not the key's): `^c'` -> 85."""
    return (60 + _STEP[letter.upper()] + (12 if letter.islower() else 0) + ACCIDENTALS.get(acc or "", 0)
            + 12 * (marks.count("'") - marks.count(",")))


def parse_meter(text: str) -> Fraction | None:
    """M: value -> bar length in whole notes (None for free meter); raises ValueError when unreadable."""
    text = text.strip().split()[0] if text.strip() else ""
    if text in ("C", "c", "C|", "c|"):
        return Fraction(1)
    if not text or text.lower() == "none":
        return None
    num, _, den = text.partition("/")
    return Fraction(sum(int(n) for n in num.split("+")), int(den))


def default_unit(bar: Fraction | None) -> Fraction:
    """ABC's unit length when a header has no L: it follows the meter (1/16 below 3/4, else 1/8)."""
    return Fraction(1, 16) if bar is not None and bar < Fraction(3, 4) else Fraction(1, 8)


def parse_unit(text: str) -> Fraction:
    num, _, den = text.strip().partition("/")
    return Fraction(int(num), int(den or 1))


def is_compound(meter: str | None) -> bool:
    """6/8, 9/8, 12/8 ...: where a 5-, 7- or 9-tuplet takes the time of 3 notes."""
    if not meter or "/" not in meter:
        return False
    num, _, den = meter.strip().partition("/")
    try:
        n = sum(int(x) for x in num.split("+"))
    except ValueError:
        return False
    return den.strip() == "8" and n % 3 == 0 and n != 3


def default_q(p: int, compound: bool) -> int:
    """ABC's time of a p-tuplet when q is not written."""
    if p in (2, 4, 8):
        return 3
    if p in (3, 6):
        return 2
    return 3 if compound else 2


@dataclass
class Event:
    """A note, chord or rest of a voice's bar, or an inline field / grace group (value 0)."""
    kind: str                          # "note", "chord", "rest", "field", "grace", "overlay"
    value: Fraction = Fraction(0)      # whole notes, tuplets and broken rhythms applied
    ratio: tuple[int, int] | None = None   # (p, q) of the tuplet it is in
    notes: list[tuple[str | None, str, str, bool]] = field(default_factory=list)  # (acc, letter, marks, tied)
    name: str = ""                     # field name / rest letter
    text: str = ""                     # field value


class Scanner:
    """One voice's bar of ABC, read a character at a time (or all at once).

    The last token stays open (`G2` may still become `G2/`); everything before it is final.
    `value()` is what the bar lasts if the text ended here, in whole notes."""

    def __init__(self, unit: Fraction = Fraction(1, 8), bar: Fraction | None = None, compound: bool = False,
                 keep_events: bool = False):
        self.unit, self.bar, self.compound = unit, bar, compound
        self.text = ""
        self.pos = 0                        # text before pos is final
        self.tail: re.Match | None = None   # the last token, still open to more characters
        self.error: int | None = None       # where the text stopped being ABC
        self.done = Fraction(0)             # final events of the current overlay part
        self.parts: list[Fraction] = []     # finished overlay parts
        self.tuplets: list[list] = []       # [factor, notes left, p, q]
        self.field_run = ""                 # letters of the inline fields since the last other token
        self.broken = Fraction(1)           # factor of the next event after `>`/`<`
        self.last: Fraction | None = None   # value of the last final event
        self.notes = 0                      # final pitched events
        self.lettered = False               # a letter other than a rest's: NotaGen keeps the voice
        self.events: list[Event] | None = [] if keep_events else None
        self._tail_value: Fraction | None = None

    def clone(self) -> "Scanner":
        """An independent copy (a writer probes what a forced run would do)."""
        other = copy.copy(self)
        other.parts, other.tuplets = list(self.parts), [list(t) for t in self.tuplets]
        other.events = None if self.events is None else [copy.copy(e) for e in self.events]
        return other

    # -- reading ------------------------------------------------------------------------------
    def feed(self, chars: str) -> "Scanner":
        self.text += chars
        self._tail_value = None
        if not self.lettered:
            self.lettered = any(c.isalpha() and c not in "zZxX" for c in chars)
        if self.error is not None:
            return self
        text, pos, prev = self.text, self.pos, None
        while pos < len(text):
            m = TOKENS.match(text, pos)
            if m is None or m.end() == pos:
                self.error = pos
                break
            if prev is not None:
                self._commit(prev)
                if self.error is not None:
                    return self
            prev, pos = m, m.end()
        if prev is not None:
            self.tail, self.pos = prev, prev.start()
        return self

    def finish(self) -> "Scanner":
        """The text is complete: commit its last token (an unclosed one is an error)."""
        if self.error is None and self.tail is not None:
            if self.is_open():
                self.error = self.tail.start()
            else:
                self._commit(self.tail)
                self.tail, self.pos, self._tail_value = None, len(self.text), None
        return self

    def is_open(self) -> bool:
        """Inside a token or construct that must go on before the bar may end."""
        m = self.tail
        if m is None:
            return False
        return unclosed(m) or m.lastgroup in ("tuplet", "broken", "slur", "volta")

    def _commit(self, m: re.Match) -> None:
        kind = m.lastgroup
        if kind == "field":
            self.field_run += m["fname"].upper()
        elif kind != "space":
            self.field_run = ""
        if kind in ("note", "rest", "chord"):
            mult, pitched = self._multiplier(m)
            if mult is None or mult <= 0:
                self.error = m.start()
                return
            ratio = None
            factor = self.broken
            for t in self.tuplets:
                factor *= t[0]
                ratio = (t[2], t[3])
                t[1] -= 1
            self.tuplets = [t for t in self.tuplets if t[1] > 0]
            value = self.unit * mult * factor
            self.done += value
            self.last, self.broken = value, Fraction(1)
            self.notes += pitched
            if self.events is not None:
                self.events.append(Event(kind, value, ratio, _notes(m), name=m.group(0)[0] if kind == "rest" else ""))
        elif kind == "broken":
            if self.last is None:
                self.error = m.start()
                return
            first, second = _broken(m.group(0))
            self.done += self.last * (first - 1)
            if self.events:
                self.events[-1].value *= first
            self.last *= first
            self.broken = second
        elif kind == "tuplet":
            p = int(m["tp"])
            q = int(m["tq"]) if m["tq"] else default_q(p, self.compound)
            r = int(m["tr"]) if m["tr"] else p
            if q <= 0 or r <= 0:
                self.error = m.start()
                return
            self.tuplets.append([Fraction(q, p), r, p, q])
        elif kind == "field":
            name, value = m["fname"], m["fvalue"] or ""
            try:
                if name == "L":
                    self.unit = parse_unit(value)
                elif name == "M":
                    self.bar = parse_meter(value)
                    self.compound = is_compound(value)
            except (ValueError, ZeroDivisionError, IndexError):
                self.error = m.start()
                return
            if self.events is not None:
                self.events.append(Event("field", name=name, text=value))
        elif kind == "overlay":
            if self.events is not None:
                self.events.append(Event("overlay"))
            self.parts.append(self.done)
            self.done, self.tuplets, self.broken, self.last = Fraction(0), [], Fraction(1), None
        elif kind == "grace" and self.events is not None:
            self.events.append(Event("grace", text=m["gbody"]))

    @staticmethod
    def _multiplier(m: re.Match) -> tuple[Fraction | None, bool]:
        kind = m.lastgroup
        try:
            if kind == "note":
                return multiplier(m["dur"]), True
            if kind == "rest":
                return multiplier(m["rdur"]), False
            first = INNER_NOTE.search(m["cbody"])
            if first is None:
                return None, False
            return multiplier(first["dur"]) * multiplier(m["cdur"] or ""), True
        except (ValueError, ZeroDivisionError):
            return None, False

    # -- what the bar holds -------------------------------------------------------------------
    def _factor(self) -> Fraction:
        factor = self.broken
        for t in self.tuplets:
            factor *= t[0]
        return factor

    def tail_value(self) -> Fraction:
        """What the open last token adds to the bar as it stands."""
        if self._tail_value is None:   # asked several times per character: computed once
            self._tail_value = self._compute_tail_value()
        return self._tail_value

    def _compute_tail_value(self) -> Fraction:
        m = self.tail
        if m is None or self.error is not None:
            return Fraction(0)
        kind = m.lastgroup
        if kind in ("note", "rest", "chord"):
            mult, _ = self._multiplier(m)
            return self.unit * mult * self._factor() if mult else Fraction(0)
        if kind == "broken" and self.last is not None:
            return self.last * (_broken(m.group(0))[0] - 1)
        return Fraction(0)

    def value(self) -> Fraction:
        return self.done + self.tail_value()

    def has_note(self) -> bool:
        m = self.tail
        return self.notes > 0 or (m is not None and (m.lastgroup == "note" or
                                                     (m.lastgroup == "chord" and INNER_NOTE.search(m["cbody"]))))

    def complete_value(self) -> Fraction | None:
        """The finished text's length (overlay parts must agree), None when it is not ABC."""
        self.finish()
        if self.error is not None:
            return None
        if any(p != self.done for p in self.parts):
            return None
        return self.done

    def pitches(self) -> list[int]:
        """Written pitches of the final notes (events must be kept)."""
        return [pitch_number(a, letter, marks) for e in self.events or [] for a, letter, marks, _ in e.notes]

    # -- what may come next -------------------------------------------------------------------
    def stage(self) -> str:
        """Where the open token stands: "start", "paren", "tuplet", "broken", "acc", "bracket",
        "cacc", "fname", "fbody", "deco", "annot", "grace", or a duration stage of a note ("n-"),
        rest ("r-"), chord ("c-") or note inside an open chord ("i-"): "-oct", "-num", "-slash",
        "-den", "-tied", "-space"."""
        m = self.tail
        if m is None:
            return "start"
        kind = m.lastgroup
        if kind == "note":
            return "n" + _dur_stage(m["dur"], m["tie"], octave=True)
        if kind == "rest":
            return "r" + _dur_stage(m["rdur"], "", octave=False)
        if kind == "chord":
            if m["cclose"]:
                return "c" + _dur_stage(m["cdur"], m["ctie"], octave=False)
            if m["copen"]:
                return "cacc"
            body = m["cbody"]
            if not body:
                return "bracket"
            if body.endswith(" "):
                return "i-space"
            inner = list(INNER_NOTE.finditer(body))[-1]
            return "i" + _dur_stage(inner["dur"], inner["tie"], octave=True)
        if kind == "field":
            return "start" if m["fclose"] else ("fbody" if m["fcolon"] else "fname")
        if kind in ("deco", "pdeco"):
            return "start" if (m["dclose"] if kind == "deco" else m["pclose"]) else "deco"
        if kind == "annot":
            return "start" if m["aclose"] else "annot"
        if kind == "grace":
            return "start" if m["gclose"] else "grace"
        if kind in ("slur", "tuplet", "broken", "accopen"):
            return {"slur": "paren", "accopen": "acc"}.get(kind, kind)
        return "start"

    def choices(self, target: Fraction | None, *, need: str | None = None, pitch_range: tuple[int, int] | None = None,
                fields: str = FIELD_LETTERS, end_below: bool = False,
                end_at: frozenset = frozenset(), keys: tuple[str, ...] | None = None) -> tuple[str, bool]:
        """(characters that may continue the bar, whether it may end here).

        `target`: the bar's length in whole notes (None: any length). While the bar is shorter
        any grammatical character may follow except one that makes it longer than `target`
        whatever comes after; once it is full only characters that add no time may follow
        (octave marks, ties, slur ends, decorations, annotations, inline fields, spaces, the end
        of an open chord). A token is never left unfinished at the end. `need`: what the bar
        must hold to end: "letter" (NotaGen's rest reduction drops a voice whose bar has no
        letter but z and x; any other letter, a decoration's too, keeps it) or "note" (rests
        may not fill the bar before a note). `pitch_range` (lowest, highest MIDI): notes
        outside it cannot be written. `fields`: inline field letters allowed. `end_below`: the
        bar may end before `target` (a pickup), not after; `end_at`: shorter lengths it may end at.
        `keys`: the only keys a [K:] field may name (any clef it may still name). A run of inline
        fields holds at most two [K:] and two [I:] (the training text has a few pairs such as
        `[K:Ab][K:bass]`, no triple; a model left free wrote runs of five clef changes). Tempo
        fields may repeat: Maple Leaf Rag's text has three in a row."""
        if self.error is not None:
            return "", False
        stage = self.stage()
        run = self._field_run()
        fields = "".join(c for c in fields if c.upper() not in "KI" or run.count(c.upper()) < 2)
        chars = _grammar(stage, self, fields, keys)
        value = self.value()
        ends_event = True                          # what comes next may end the open event
        if stage[0] in "nrci" and stage[1:] in _DURATION_STAGES:
            dur = self._duration_text(stage)
            tail = self.tail_value()
            strict = need == "note" and stage[0] == "r" and not self.has_note()
            room = None if target is None or stage[0] == "i" else target - (value - tail)
            ok = _duration_chars(dur, self._base(stage), room, strict)
            chars = "".join(c for c in chars if c not in _DURATION_CHARS or c in ok)
            ends_event = _complete(dur) and (room is None or (tail < room if strict else tail <= room))
        if not ends_event:   # only what finishes the event: its duration, octave marks, the rest of a chord
            keep = _DURATION_CHARS + "'," + (PITCHES + "^_= ]" if stage[0] == "i" else "")
            chars = "".join(c for c in chars if c in keep)
        elif target is not None and value >= target:   # full: nothing more that takes time
            chars = "".join(c for c in chars if c in _DURATION_CHARS) + _timeless(stage, chars, fields)
        elif target is not None:
            chars = self._broken_fits(stage, chars, target, value)
            if target - value < self.unit * self._factor() / 16:   # no room for the shortest event:
                chars = "" if stage == "start" else _without(chars, PITCHES + "^_=zx[")   # a dead end
        if pitch_range is not None and stage not in ("deco", "annot", "fbody", "fname", "grace"):
            chars = self._in_range(stage, chars, pitch_range)
        settled = ends_event and not self.is_open() and stage not in ("acc", "bracket", "cacc", "fname", "fbody")
        can_end = settled and (value > 0 if end_below or target is None else value == target or value in end_at) \
            and (target is None or value <= target) \
            and (need is None or (self.has_note() if need == "note" else self.lettered))
        return chars, can_end

    def _field_run(self) -> str:
        """Letters of the inline fields written since the last other token, the open one aside."""
        m = self.tail
        if m is None:
            return ""
        if m.lastgroup == "field":
            return self.field_run + (m["fname"].upper() if m["fclose"] else "")
        opening = m.lastgroup == "chord" and not m["cbody"] and not m["copen"] and not m["cclose"]  # `[`
        return self.field_run if m.lastgroup == "space" or opening else ""

    def _base(self, stage: str) -> Fraction:
        """What a duration multiplier of 1 is worth for the open event (unit, tuplet, broken rhythm)."""
        base = self.unit * self._factor()
        if stage[0] == "c":
            first = INNER_NOTE.search(self.tail["cbody"])
            base *= multiplier(first["dur"]) if first else 1
        return base

    def _broken_fits(self, stage: str, chars: str, target: Fraction, value: Fraction) -> str:
        """`>` lengthens the event before it: refused when the bar would then have no room left."""
        m = self.tail
        if stage[0] in "nrc" and ("<" in chars or ">" in chars):
            last = self.tail_value()
            for arrow in "<>":
                if value + last * (_broken(arrow)[0] - 1) >= target:
                    chars = _without(chars, arrow)
        if stage == "broken" and self.last is not None and len(m.group(0)) < 3:
            arrows = m.group(0)
            if self.done + self.last * (_broken(arrows + arrows[0])[0] - 1) >= target:
                chars = _without(chars, "<>")
        return chars

    def _duration_text(self, stage: str) -> str:
        m = self.tail
        if stage[0] == "n":
            return m["dur"] or ""
        if stage[0] == "r":
            return m["rdur"] or ""
        if stage[0] == "c":
            return m["cdur"] or ""
        return list(INNER_NOTE.finditer(m["cbody"]))[-1]["dur"] or ""

    def _in_range(self, stage: str, chars: str, pitch_range: tuple[int, int]) -> str:
        lo, hi = pitch_range
        m = self.tail
        acc = None
        if stage == "acc":
            acc = m.group(0)
        elif stage == "cacc":
            acc = m["copen"]
        letters = [c for c in chars if c in PITCHES]
        bad = [c for c in letters if not _reachable(pitch_number(acc, c, ""), c.islower(), lo, hi)]
        if stage in ("n-oct", "i-oct"):
            inner = m if stage == "n-oct" else list(INNER_NOTE.finditer(m["cbody"]))[-1]
            p = pitch_number(inner["acc"], inner["letter"], inner["oct"])
            up = inner["letter"].islower()
            step_ok = (p + 12 <= hi) if up else (p - 12 >= lo)
            if not step_ok:
                bad.append("'" if up else ",")
            if not lo <= p <= hi:   # not there yet: only the octave mark that goes towards the range
                return "'" if up and p < lo else "," if not up and p > hi else ""
        return _without(chars, "".join(bad)) if bad else chars


def unclosed(m: re.Match) -> bool:
    """A token cut before its closing character (`!trill`, `"text`, `{g`, `[K:G`, `[ce`, a lone `^`)."""
    kind = m.lastgroup
    return ((kind == "deco" and not m["dclose"]) or (kind == "pdeco" and not m["pclose"])
            or (kind == "annot" and not m["aclose"]) or (kind == "grace" and not m["gclose"])
            or (kind == "field" and not m["fclose"]) or (kind == "chord" and not m["cclose"])
            or kind == "accopen")


def read_tokens(text: str) -> Iterator[re.Match]:
    """The tokens of a finished text (a bar of a file, a grace group's inside), in order; any
    whitespace separates as a space does. Raises ValueError where the text stops being ABC
    (a character no token starts with, or a token left unclosed)."""
    text = text.translate(_WHITESPACE)
    pos = 0
    while pos < len(text):
        m = TOKENS.match(text, pos)
        if m is None or m.end() == pos or unclosed(m):
            raise ValueError(f"not ABC at {text[pos:pos + 12]!r}")
        yield m
        pos = m.end()


_WHITESPACE = {ord(c): " " for c in "\r\n\f\v"}


def _reachable(p: int, up: bool, lo: int, hi: int) -> bool:
    """Can a note letter at pitch p reach [lo, hi] with octave marks (' up for lowercase, , down)?"""
    if up:
        return p <= hi and (p >= lo or (lo - p + 11) // 12 * 12 + p <= hi)
    return p >= lo and (p <= hi or p - (p - hi + 11) // 12 * 12 >= lo)


def _broken(arrows: str) -> tuple[Fraction, Fraction]:
    short = Fraction(1, 2 ** len(arrows))
    return (2 - short, short) if arrows[0] == ">" else (short, 2 - short)


def _dur_stage(dur: str, tie: str, octave: bool) -> str:
    if tie:
        return "-tied"
    if not dur:
        return "-oct" if octave else "-num"
    if "/" not in dur:
        return "-num"
    return "-den" if dur[-1].isdigit() else "-slash"


def _notes(m: re.Match) -> list[tuple[str | None, str, str, bool]]:
    if m.lastgroup == "note":
        return [(m["acc"], m["letter"], m["oct"], bool(m["tie"]))]
    if m.lastgroup == "chord":
        tied = bool(m["ctie"])
        return [(n["acc"], n["letter"], n["oct"], bool(n["tie"]) or tied) for n in INNER_NOTE.finditer(m["cbody"])]
    return []


def _without(chars: str, bad: str) -> str:
    return "".join(c for c in chars if c not in bad)


_GRAMMAR_CACHE: dict[tuple, str] = {}


def _grammar(stage: str, scanner: Scanner, fields: str, keys: tuple[str, ...] | None = None) -> str:
    """Characters that continue the text grammatically from `stage` (barlines and the end aside)."""
    m = scanner.tail
    extra = ""
    if stage == "acc":
        extra = m.group(0) if m.group(0) in ("^", "_") else ""
    elif stage == "cacc":
        extra = m["copen"] if m["copen"] in ("^", "_") else ""
    elif stage == "tuplet":
        extra = ":" if m.group(0).count(":") < 2 else ""
    elif stage == "paren" and scanner.tuplets:
        # no tuplet inside a tuplet: NotaGen's training text nests them 4 times in 6,200 tuplets
        # (all Beethoven), and a model that starts nesting them writes bars no note can close
        extra = "in-tuplet"
    elif stage == "broken":
        extra = m.group(0)[0] if len(m.group(0)) < 3 else ""
    elif stage in ("n-oct", "i-oct"):
        inner = m if stage == "n-oct" else list(INNER_NOTE.finditer(m["cbody"]))[-1]
        extra = "'" if inner["letter"].islower() else ","
    if stage[0] == "i" and len(INNER_NOTE.findall(m["cbody"])) >= MAX_CHORD_NOTES:
        extra += "many"
    elif stage == "deco":
        extra = m.group(0)[1:]
    elif stage in ("annot", "grace"):
        body = {"annot": "text", "grace": "gbody"}[stage]
        limit = {"annot": MAX_ANNOTATION, "grace": MAX_GRACE}[stage]
        extra = "long" if len(m[body] or "") >= limit else ""
        if stage == "annot" and not m["text"]:
            extra = "first"
    if stage == "fbody":
        clef_only = m["fname"] == "K" and "K" not in fields
        name = "k" if clef_only else m["fname"]
        if name == "K" and keys is not None:
            name = "K=" + ",".join(keys)
        extra = name + ":" + (m["fvalue"] or "")
    event_after = stage[0] in "nrc" and stage[1:] != "-tied"
    key = (stage, extra, fields, event_after)
    cached = _GRAMMAR_CACHE.get(key)
    if cached is None:
        cached = _GRAMMAR_CACHE[key] = _grammar_chars(stage, extra, fields, event_after)
    return cached


def _grammar_chars(stage: str, extra: str, fields: str, event_after: bool) -> str:
    start = _START + (_AFTER_EVENT if event_after else "")
    if stage == "start":
        return start
    if stage == "paren":
        return _START + ("" if extra == "in-tuplet" else "123456789")
    if stage == "tuplet":
        return DIGITS + extra + _START.replace(")", "")
    if stage == "broken":
        return extra + _START_EVENT + '()!".' + SHORT_DECORATIONS
    if stage in ("acc", "cacc"):
        return PITCHES + extra
    if stage == "bracket":
        return PITCHES + "^_=" + fields.replace("k", "K" if "K" not in fields else "")
    if stage == "fname":
        return ":"
    if stage == "fbody":
        name, typed = extra.split(":", 1)
        return _field_value_next(name, typed)
    if stage == "deco":
        return _decoration_next(extra)
    if stage == "annot":
        return _ANNOT_FIRST if extra == "first" else (_ANNOT_CHARS if extra != "long" else "") + '"'
    if stage == "grace":
        return (_GRACE_CHARS if extra != "long" else "") + "}"
    kind, step = stage[0], stage[1:]
    if kind == "i":   # a note inside an open chord: xml2abc writes the chord's length after `]`
        more = "]" if "many" in extra else PITCHES + "^_=]"
        return {"-oct": extra.replace("many", "") + "-", "-tied": ""}.get(step, "") + more
    tie = "-" if kind in "nc" else ""
    dur = {"-oct": extra + DIGITS + "/" + tie, "-num": DIGITS + "/" + tie, "-slash": "/" + DIGITS + tie,
           "-den": DIGITS + tie, "-tied": ""}[step]
    return dur + start


_DURATION_CHARS = DIGITS + "/"
_DURATION_STAGES = ("-oct", "-num", "-slash", "-den")
_MIN_AFTER: dict[str, dict[str, Fraction]] = {}


def _least(dur: str) -> Fraction | None:
    """The smallest multiplier a duration text can still become (None: it cannot become one)."""
    slashes = dur.count("/")
    num = dur.split("/")[0]
    if slashes == 0:   # an odd numerator may still be divided (`3/2`, `7/4`); an even one stands as it is
        nums = [int(n) for n in NUMERATORS if n.startswith(num)]
        return min(Fraction(n, int(DENOMINATORS[-1])) if n % 2 else Fraction(n) for n in nums) if nums else None
    if num and num not in NUMERATORS:
        return None
    n = int(num) if num else 1
    den = dur.rsplit("/", 1)[1]
    if slashes == 1:
        dens = [int(d) for d in DENOMINATORS if d.startswith(den)]
        return Fraction(n, max(dens)) if dens else None
    return Fraction(n, 4) if slashes == 2 and not den else None


def _complete(dur: str) -> bool:
    """A duration text that is one of the allowed ones as it stands (`3/1` is not: `3/16` is)."""
    slashes = dur.count("/")
    num, den = dur.split("/")[0], dur.rsplit("/", 1)[-1]
    if num and num not in NUMERATORS:
        return False
    return slashes == 0 or (slashes == 1 and (not den or den in DENOMINATORS)) or (slashes == 2 and not den)


def _duration_chars(dur: str, base: Fraction, room: Fraction | None, strict: bool) -> str:
    """Of DIGITS and "/", those after which the duration can still be completed to one of
    NUMERATORS / DENOMINATORS that fits `room` (strictly when `strict`)."""
    least = _MIN_AFTER.get(dur)
    if least is None:
        least = _MIN_AFTER[dur] = {c: v for c in _DURATION_CHARS if (v := _least(dur + c)) is not None}
    if room is None:
        return "".join(least)
    return "".join(c for c, v in least.items() if (base * v < room if strict else base * v <= room))


_TONICS = [t + a for t in "ABCDEFG" for a in ("", "#", "b")]
KEYS = tuple(t + mode for t in _TONICS for mode in ("", "m", "min", "maj", "dor", "phr", "lyd", "mix", "loc")) \
    + ("none",)
METERS = ("2/2", "3/2", "4/2", "2/4", "3/4", "4/4", "5/4", "6/4", "7/4", "3/8", "5/8", "6/8", "7/8", "9/8", "12/8",
          "2/8", "4/8", "1/4", "C", "C|", "none")
UNITS = ("1/1", "1/2", "1/4", "1/8", "1/16", "1/32")
INSTRUCTIONS = ("staff -1", "staff +1", "staff -2", "staff +2")
# the beats of NotaGen's tempo fields (1/4, 3/8, 1/2 in 1,200 of 1,234), and a few more
TEMPO_BEATS = ("1/4", "3/8", "1/2", "3/4", "1/8", "3/16", "1/16", "3/2", "1/1")


def _completions(values, typed: str, end: str) -> str:
    """Characters that continue `typed` towards one of `values`, and `end` once it is one."""
    out = {v[len(typed)] for v in values if v.startswith(typed) and len(v) > len(typed)}
    return "".join(sorted(out)) + (end if typed in values else "")


def _field_value_next(name: str, typed: str) -> str:
    """Characters that continue an inline field's value (`]` once it is a whole one): keys and
    clefs for K ("k": clefs only), meters for M, units for L, staff moves for I, tempos for Q."""
    if name == "Q":   # xml2abc's tempo: a beat, "=", beats per minute
        if "=" not in typed:
            return _completions(TEMPO_BEATS, typed, "=")
        beat, bpm = typed.split("=", 1)
        if beat not in TEMPO_BEATS:
            return ""
        return ("" if len(bpm) >= 3 else DIGITS if bpm else DIGITS[1:]) + ("]" if bpm else "")
    values = {"K": KEYS + CLEFS, "k": CLEFS, "M": METERS, "L": UNITS, "I": INSTRUCTIONS}.get(name, ())
    if name.startswith("K="):   # "K=D,Bm": the keys the writer allows here, or a clef
        values = tuple(k for k in name[2:].split(",") if k) + CLEFS
    return _completions(values, typed, "]")


_MAJOR_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7, "F": -1, "Bb": -2, "Eb": -3,
                 "Ab": -4, "Db": -5, "Gb": -6, "Cb": -7, "G#": 8, "D#": 9, "A#": 10, "E#": 11, "B#": 12, "Fb": -8}
_MODE_SHIFT = {"": 0, "maj": 0, "ion": 0, "m": -3, "min": -3, "aeo": -3, "mix": -1, "dor": -2, "phr": -4,
               "lyd": 1, "loc": -5}


def key_signature(token: str) -> int | None:
    """Sharps (flats negative) of an ABC key name ("F#min" -> 3, "none" -> 0); None when it is
    no key name."""
    if token.lower() == "none":
        return 0
    match = re.fullmatch(r"([A-Ga-g][#b]?)([A-Za-z]*)", token)
    if not match:
        return None
    tonic = match.group(1)[0].upper() + match.group(1)[1:]
    mode = match.group(2).lower()[:3]
    if mode not in _MODE_SHIFT or tonic not in _MAJOR_FIFTHS:
        return None
    return _MAJOR_FIFTHS[tonic] + _MODE_SHIFT[mode]


@lru_cache(maxsize=256)
def keys_near(token: str, fifths: int) -> tuple[str, ...]:
    """Key names whose signature is within `fifths` of the key `token`'s (all keys when it is none)."""
    home = key_signature(token)
    if home is None:
        return KEYS
    return tuple(k for k in KEYS if (s := key_signature(k)) is not None and abs(s - home) <= fifths)


def key_change(text: str) -> str | None:
    """The key the first [K:] field of a voice's bar changes to (a clef-only field names none)."""
    for m in INLINE_FIELD.finditer(text):
        if m.group(1) == "K":
            for word in m.group(2).split():
                if word in KEYS:
                    return word
    return None


_POWERS_OF_TWO = ("1", "2", "4", "8", "16", "32", "64")


def header_value_next(name: str, typed: str) -> str:
    """Characters that continue a header line's value (`M:`, `L:`, `K:`), "\n" once it is a
    whole one: the inline fields' keys and units; meters as N/D with D a power of two up to 64
    (NotaGen's headers hold 6/2, 4/1, 36/4 beside the usual ones), C, C| or none."""
    if name == "K":   # a key only: the header's clefs are on the V: lines
        return _completions(KEYS, typed, "\n")
    if name != "M":
        return _field_value_next(name, typed).replace("]", "\n")
    words = _field_value_next("M", typed).replace("]", "\n")   # C, C|, none and the common meters
    numeric = re.fullmatch(r"([1-9]\d?)?(?:/(\d*))?", typed)
    if numeric is None:
        return words
    num, den = numeric.group(1) or "", numeric.group(2)
    out = set(words)
    if den is None:
        out |= set(DIGITS if num and len(num) < 2 else "123456789" if not num else "")
        out |= {"/"} if num else set()
    else:
        out |= {p[len(den)] for p in _POWERS_OF_TWO if p.startswith(den) and len(p) > len(den)}
        out |= {"\n"} if den in _POWERS_OF_TWO else set()
    return "".join(sorted(out))


def _decoration_next(typed: str) -> str:
    """Characters that continue a known decoration name (`!` once it is one)."""
    return _completions(DECORATIONS, typed, "!")


def _timeless(stage: str, chars: str, fields: str) -> str:
    """Of `chars`, those that add no time to a full bar."""
    if stage in ("fname", "fbody", "deco", "annot", "grace"):
        return chars
    if stage == "bracket":
        return "".join(c for c in chars if c in fields.upper())
    keep = ' !"{)-,\'' + ("[" if fields else "")
    if stage[0] == "i":
        keep += PITCHES + "^_=]"
    if stage in ("acc", "cacc"):
        keep += PITCHES if stage == "cacc" else ""
    return "".join(c for c in chars if c in keep)


def measure(text: str, unit: Fraction, bar: Fraction | None = None, compound: bool = False) -> Scanner:
    """A complete voice's bar, read: `.complete_value()`, `.unit`/`.bar` after it, `.events`."""
    return Scanner(unit, bar, compound, keep_events=True).feed(text).finish()


def unreadable(text: str) -> str | None:
    """The first part of a voice's bar that is not ABC music, or None when all of it is."""
    scanner = Scanner(keep_events=False).feed(text).finish()
    if scanner.error is None:
        return None
    return text[scanner.error:scanner.error + 12]
