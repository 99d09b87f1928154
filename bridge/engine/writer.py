"""The bar-by-bar policy of one variant: what is forced, what is masked, when a bar is done.

A body line is one bar of every voice: `[r:i/j][V:1]...|[V:2]...|`. The writer makes the model
write it in NotaGen's training patches (shared/NOTAGEN.md, "Patching"): a voice's segment ends
with eos (or fills 16 characters and goes on), the next patch opens with the barline and
`[V:k]` of the next voice, and only the last voice writes its barline and the line end itself.
Inside a voice every character goes through the ABC grammar (notabridge.abc.syntax): while the voice
is short of its bar the end is masked, once it is full only characters that add no time may
follow, and no token is ever cut. Which voices a line holds is a plan (`Slot`s): given voices
(accompany, infill with kept staves) are forced character by character, required voices (those
that sound in the user's bars) must be written with notes, optional ones may be left out as
training leaves out resting voices. A finished line is checked again (notabridge.abc.bar_check); an invalid
one is sampled again, a bounded number of times, after which the variant stops with the bars it
has. In generate mode the model first writes the header, in xml2abc's field order.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Callable

import numpy as np

from notabridge.abc.syntax import (BARLINE_FORMS, CLEFS, FIELD_LETTERS, INLINE_FIELD, SHORT_DECORATIONS, Scanner,
                                   header_value_next, key_change, keys_near)
from notabridge.abc.bar_check import (BarContext, Segment, check_bar, follow_line, header_context, header_problems, parse_line,
                   voice_duration)
from .decoder import DONE
from notabridge.errors import JobError
from notabridge.abc.patching import BOS_PATCH, EOS_ID, PATCH_SIZE, line_patches, strip_line_prefix

EOS = chr(EOS_ID)
MAX_HEADER_LINES = 40
# each retry of an invalid bar samples cooler: temperature x RETRY_COOLING ** tries (a weak model
# writes valid bars far more often at low temperature; the first try keeps the user's setting)
RETRY_COOLING = 0.7
# generate: the header's fields in xml2abc's order (every NotaGen training header follows it):
# (line start, may be left out, may repeat)
HEADER_FIELDS = (("%%score ", True, False), ("L:", False, False), ("Q:", True, False), ("M:", False, False),
                 ("K:", False, False), ("V:", False, True))
MAX_HEADER_RESTARTS = 2   # generate: a header under which no first bar is valid is written again
MAX_HEADER_LINE_PATCHES = 8
GIVEN, REQUIRED, OPTIONAL = "given", "required", "optional"
ALONE = "alone"   # the first voice, given with rests only: written only when no other voice is
# barlines a generated voice may end with (`[|` would read as a chord: left to the reader)
_WRITTEN_BARLINES = tuple(b for b in BARLINE_FORMS if not b.startswith("["))


class BarError(JobError):
    """No valid bar after the allowed number of tries."""


# what a weak model is not steered into when none of its plausible characters is allowed
_NOT_FALLBACK = '!"{+' + SHORT_DECORATIONS


@lru_cache(maxsize=4096)
def ban_mask(allowed: str, fallback: str | None = None) -> np.ndarray:
    """128 ban levels (read-only): 0 allowed, 1 allowed only when the model finds it plausible
    (not where its plausible characters are all banned: `fallback` lists the others), 2 banned."""
    ban = np.full(128, 2, dtype=np.uint8)
    for c in allowed:
        ban[ord(c)] = 1 if fallback is not None and c not in fallback else 0
    ban.flags.writeable = False
    return ban


@dataclass
class Slot:
    voice: str
    role: str                      # GIVEN (content forced), REQUIRED (written with notes), OPTIONAL
    given: str | None = None       # the voice's notes when given
    barline: str | None = None     # the given barline


class Line:
    """One body line being written: the bar prefix, then voice after voice by the plan."""

    def __init__(self, writer: "BarWriter", prefix: str, plan: list[Slot], target: Fraction | None,
                 barline: str | None, pickup: bool, short_lengths: frozenset):
        self.w = writer
        self.prefix = prefix
        self.plan = plan
        self.target = target         # the bar's length when known (given voices), else each voice's meter
        self.barline = barline       # the line's barline once one voice wrote (or was given) it
        self.pickup = pickup         # the first voice may end anywhere short of its meter
        self.short_lengths = short_lengths   # or at these lengths; the other voices follow it
        self.text = ""
        self.phase = "prefix"
        self.slot = -1               # index in plan of the voice being written
        self.typed = ""              # of the mark or barline being written
        self.scanner: Scanner | None = None
        self.length: Fraction | None = None   # the first finished voice's length: the others match it
        self.key: str | None = None           # the key a voice of this line changed to: the others keep it
        self.first_bar = writer.n_prefix == 0 and not writer.new_bars
        self.patch_pos = 0           # characters in the current patch
        self.after_eos = False       # the barline being written opens a patch after an eos
        self.at_patch_start = False  # the barline being written opens a patch (after a full one)

    # -- what the plan still holds ------------------------------------------------------------
    def _later(self) -> tuple[bool, bool]:
        """(a later voice must come, a later voice may come)."""
        if self.slot >= 0 and self.plan[self.slot].role == ALONE:
            return False, False
        rest = [s for s in self.plan[self.slot + 1:] if s.role != ALONE]
        return any(s.role not in (OPTIONAL, ALONE) for s in rest), bool(rest)

    def _candidates(self) -> list[int]:
        out = []
        for j in range(self.slot + 1, len(self.plan)):
            role = self.plan[j].role
            if role == ALONE and any(s.role not in (OPTIONAL, ALONE) for s in self.plan[j + 1:]):
                continue
            out.append(j)
            if role not in (OPTIONAL, ALONE):
                break
        return out

    def _slot_target(self) -> tuple[Fraction | None, bool, frozenset]:
        if self.length is not None:
            return self.length, False, frozenset()
        if self.target is not None:
            return self.target, False, frozenset()
        return self.scanner.bar, self.pickup, self.short_lengths

    # -- reading what was written -------------------------------------------------------------
    def feed(self, text: str) -> None:
        for c in text:
            self._feed_char(c)

    def _feed_char(self, c: str) -> None:
        self.text += c
        self.patch_pos += 1
        if self.phase == "prefix":
            if len(self.text) == len(self.prefix):
                self.phase, self.typed = "mark", ""
        elif self.phase == "mark":
            self.typed += c
            if c == "]":
                voice = self.typed[3:-1]
                self.slot = next(j for j in range(self.slot + 1, len(self.plan)) if self.plan[j].voice == voice)
                state = self.w.ctx.state(voice)
                self.scanner = Scanner(state.unit, state.bar, state.compound)
                self.phase = "content"
        elif self.phase == "content":
            if c in "|:" and self.scanner.stage() not in ("tuplet", "fname", "fbody", "deco", "annot"):
                self._voice_done()
                self.phase, self.typed = "barline", c
                self.after_eos, self.at_patch_start = False, self.patch_pos == 1
            else:
                self.scanner.feed(c)
        elif self.phase == "barline":
            if c == "[":
                self.barline = self.barline or self.typed
                self.phase, self.typed = "mark", "["
            elif c == "\n":
                self.barline = self.barline or self.typed
                self.phase = "done"
            else:
                self.typed += c

    def _voice_done(self) -> None:
        if self.length is None and self.scanner is not None:
            self.length = self.scanner.value()
        if self.key is None and self.scanner is not None:
            self.key = key_change(self.scanner.text)

    def end_patch(self, ended_by_eos: bool) -> None:
        self.patch_pos = 0
        if ended_by_eos and self.phase == "content":
            self._voice_done()
            self.phase, self.typed, self.after_eos = "barline", "", True
        elif ended_by_eos and self.phase == "mark":   # cannot happen with the masks; keep the state sane
            self.phase = "barline"

    # -- what may come next -------------------------------------------------------------------
    def next(self) -> tuple[str | None, str, str | None]:
        """(forced character, or None and the characters allowed, eos included, and those a
        weak model falls back to when none it finds plausible is allowed; None: any allowed)."""
        if self.phase == "prefix":
            return self.prefix[len(self.text)], "", None
        if self.phase == "mark":
            return self._mark()
        if self.phase == "content":
            return self._content()
        if self.phase == "barline":
            return self._barline()
        return "\n", "", None

    @staticmethod
    def _one(allowed: str, fallback: str | None = None) -> tuple[str | None, str, str | None]:
        allowed = "".join(dict.fromkeys(allowed))
        if len(allowed) == 1:
            return allowed, "", None
        return None, allowed, fallback

    def _mark(self) -> tuple[str | None, str]:
        typed = self.typed
        if len(typed) < 3:
            return "[V:"[len(typed)], "", None
        voices = [self.plan[j].voice for j in self._candidates()]
        part = typed[3:]
        allowed = {v[len(part)] for v in voices if v.startswith(part) and len(v) > len(part)}
        if part in voices:
            allowed.add("]")
        return self._one("".join(sorted(allowed)) or "]")

    def _content(self) -> tuple[str | None, str]:
        slot = self.plan[self.slot]
        must, may = self._later()
        ends = ""
        if slot.given is not None:   # GIVEN or ALONE
            written = len(self.scanner.text)
            if written < len(slot.given):
                return slot.given[written], "", None
            can_end, chars = True, ""
        else:
            target, below, end_at = self._slot_target()
            # a voice the plan requires is written with notes; one the model chose holds a letter
            # as in training, where a voice that only rests is left out, except the first voice
            # of a bar where every voice rests (it stands alone, with rests only)
            alone = self.length is None and slot.voice == self.w.ctx.voices[0] and not must
            need = "note" if slot.role == REQUIRED else None if alone else "letter"
            chars, can_end = self.scanner.choices(
                target, need=need, pitch_range=self.w.ranges.get(slot.voice), fields=self.w.fields, end_below=below,
                end_at=end_at, keys=self._keys())
            if alone and can_end and not self.scanner.lettered:
                may = False   # rests only: the bar ends with this voice
        if can_end:
            barline = (self.barline or slot.barline or "")[:1]
            if may and self.patch_pos > 0:
                ends += EOS                     # the next voice's patch opens with the barline
            if not must or (may and self.patch_pos == 0):
                ends += barline or "|:"         # the last voice writes its barline and the line end
        allowed = chars + ends
        if not allowed:                         # a dead end (never by design): let the bar end and be checked
            return "\n", "", None
        # a full voice ends rather than wander into decorations; a short one goes on with notes
        fallback = ends or "".join(c for c in chars if c not in _NOT_FALLBACK) or None
        return self._one(allowed, fallback)

    def _keys(self) -> tuple[str, ...] | None:
        """Keys a [K:] field may name here. NotaGen's training text never changes one bar line's
        voices to different keys (0 in 110,000 bars), and a first bar's voice keys stay within
        two fifths of the header's (xml2abc drops the mode, older music has partial signatures:
        516 of 516); a model left free wrote first bars with voices in B, G and D under K:Bb."""
        if self.key is not None:
            return (self.key,)
        if self.first_bar:
            words = self.w.ctx.key.split()
            return keys_near(words[0] if words else "C", 2)
        return None

    def _barline(self) -> tuple[str | None, str]:
        typed = self.typed
        must, may = self._later()
        forms = (self.barline,) if self.barline else \
            ((self.plan[self.slot].barline,) if self.plan[self.slot].barline else _WRITTEN_BARLINES)
        if self.after_eos and not typed and not self.barline:
            nxt = self._candidates()
            given = [self.plan[j].barline for j in nxt if self.plan[j].barline]
            forms = (given[0],) if given else forms
        allowed = "".join(f[len(typed)] for f in forms if f.startswith(typed) and len(f) > len(typed))
        if typed in forms:
            opens_patch = self.after_eos or self.at_patch_start
            if may and opens_patch:
                allowed += "["
            if not must and not self.after_eos:
                allowed += "\n"
        return self._one(allowed or "\n")

    def clone(self) -> "Line":
        other = copy.copy(self)
        other.scanner = None if self.scanner is None else self.scanner.clone()
        return other


class BarWriter:
    def __init__(self, *, prompt: list[str], header: list[str] | None, prefix_body: list[str], bars: int,
                 given: list[list[Segment]] | None = None, suffix_body: list[str] | None = None,
                 forced_header: dict[str, str] | None = None, pickup_ok: bool = False,
                 keep_meter_and_key: bool = False, max_tries: int = 8, max_line_patches: int | None = None,
                 write_voices: list[str] | None = None, ranges: dict[str, tuple[int, int]] | None = None,
                 header_voices: bool = False, on_bar: Callable[[int, str], None] | None = None,
                 part_names: list[str] | None = None):
        """`write_voices`: voices that must be written in every new bar (the others may be left
        out, as training leaves out resting voices); `ranges`: voice -> (lowest, highest) MIDI
        pitch a voice is written in. `header_voices` (generate): every voice the header the model
        wrote declares is written in every bar."""
        self.prompt = prompt
        self.header = list(header or [])
        self.phase = "header" if header is None else "body"
        self.ctx: BarContext | None = header_context(self.header) if header is not None else None
        for line in prefix_body if self.ctx else []:
            follow_line(self.ctx, line)  # inline meter / unit changes in the given bars stay in force
        self.bars = bars
        self.given = given
        self.write_voices = write_voices
        self.header_voices = header_voices
        # generate: a voice's nm="..." is one of the names the model was trained on (a small model
        # spells names letter by letter at NotaGen's temperature: "Qornon 2", "Celor")
        self.part_names = tuple(part_names) if part_names else None
        self.ranges = dict(ranges or {})
        self.forced_header = forced_header or {}
        self.pickup_ok = pickup_ok
        self.keep_meter_and_key = keep_meter_and_key
        self.fields = _fields_in(prefix_body, given) if keep_meter_and_key else FIELD_LETTERS
        # a bar may be shorter than its meter (all voices agreeing) by the length of a short bar
        # of the user's or its complement (pickups, bars before repeats, chorale phrase ends);
        # in a new piece by the model's own pickup's
        self.short_lengths = _short_lengths(self.ctx, prefix_body) if self.ctx else set()
        self.max_tries = max_tries
        self.on_bar = on_bar
        self.n_prefix = len(prefix_body)
        n_suffix = len(suffix_body or [])
        self.total = self.n_prefix + bars + n_suffix
        self.body_lines = [self._prefixed(i, line) for i, line in enumerate(prefix_body)]
        self.suffix_patches = [p for i, line in enumerate(suffix_body or [])
                               for p in line_patches(self._prefixed(self.n_prefix + bars + i, line), True)]
        self.suffix_nats: float | None = None
        self.max_line_patches = max_line_patches
        self.new_bars: list[str] = []
        self.first_try: list[bool] = []
        self.tries = 0
        self.rejects = 0
        self.sampled_nats = 0.0     # the model's surprise at the characters it sampled in the kept bars
        self.sampled_chars = 0
        self.header_patches = 0
        self.writes_header = header is None
        self.header_restarts = 0
        self.done = False
        self.header_bad: list[str] = []
        self.stopped: str | None = None     # why the variant stopped before all its bars
        self._reset_line()

    # -- text bookkeeping ---------------------------------------------------------------------
    def _line_prefix(self, index: int) -> str:
        return f"[r:{index}/{self.total - 1 - index}]"

    def _prefixed(self, index: int, line: str) -> str:
        return self._line_prefix(index) + strip_line_prefix(line)

    def _reset_line(self) -> None:
        self.line_text = ""
        self.line_patches: list[str] = []
        self.line_nats, self.line_sampled = 0.0, 0
        self._fed = 0
        self.line = self._new_line() if self.phase == "body" and not self.done else None

    def _new_line(self) -> Line:
        bar = len(self.new_bars)
        voices = self.ctx.voices
        barline, target = None, None
        if self.given is not None:
            given = {s.voice: s for s in self.given[bar]}
            target = self.expected_length()
            barline = next((s.barline for s in self.given[bar] if s.barline), "|")
            given_voices = {s.voice for segs in self.given for s in segs}
            required = set(self.write_voices or [])
            plan = []
            for v in voices:
                seg = given.get(v)
                if v not in given_voices:
                    plan.append(Slot(v, REQUIRED if v in required else OPTIONAL))
                elif seg is not None and _lettered(seg.content):
                    plan.append(Slot(v, GIVEN, seg.content, seg.barline or barline))
                elif seg is not None and v == voices[0]:   # where every voice rests, the first stays
                    plan.append(Slot(v, ALONE, seg.content, seg.barline or barline))
                # a given voice that rests in this bar is left out, as training leaves it out
        else:
            required = set(self.write_voices or [])
            plan = [Slot(v, REQUIRED if v in required else OPTIONAL) for v in voices]
        # a new piece may start with a pickup and end with a short final bar
        pickup = self.pickup_ok and ((self.n_prefix == 0 and not self.new_bars) or bar == self.bars - 1)
        return Line(self, self._line_prefix(self.n_prefix + bar), plan, target, barline, pickup,
                    frozenset(self.short_lengths))

    def expected_length(self) -> Fraction | None:
        """Accompany: the given voices' length (a pickup in the score stays a pickup)."""
        if self.given is None:
            return None
        for seg in self.given[len(self.new_bars)]:
            dur, _ = voice_duration(seg.content, self.ctx.state(seg.voice))
            if dur:
                return dur
        return None

    def header_text(self) -> str:
        return "".join(self.prompt + self.header)

    def abc(self) -> str:
        """The piece so far without `[r:]` prefixes: prompt, header, given bars, new bars."""
        given = [strip_line_prefix(line) for line in self.body_lines[:self.n_prefix]]
        return self.header_text() + "".join(given + self.new_bars)

    # -- decoder interface --------------------------------------------------------------------
    def context(self, limit: int, at_most: int | None = None) -> list[str]:
        """Patches of everything written so far; past `limit`, the oldest body lines are left out
        (the header and the bar being written stay, up to `at_most` patches)."""
        fixed = [BOS_PATCH] + [p for line in self.prompt + self.header for p in line_patches(line, False)]
        current = list(self.line_patches)
        body = [line_patches(line, True) for line in self.body_lines]
        room = limit - len(fixed) - len(current)
        if room < 0 and len(fixed) + len(current) <= (at_most or limit):
            room = 0
        if room < 0:
            raise JobError(f"the header and the bar being written take {len(fixed) + len(current)} patches, more "
                           f"than the model's context allows: use a score with fewer voices or a longer-context model")
        kept: list[str] = []
        for patches in reversed(body):
            if len(kept) + len(patches) > room:
                break
            kept[:0] = patches
        return fixed + kept + current

    def forced_patch(self) -> str | None:
        """A whole patch the writer knows already (a given voice's segment), or None."""
        if self.line is None:
            return None
        probe, run = self.line.clone(), ""
        while len(run) < PATCH_SIZE:
            forced, _, _ = probe.next()
            if forced is None:
                return None
            if forced == EOS:
                return run or None
            run += forced
            probe.feed(forced)
            if forced == "\n":
                break
        return run

    def constraint(self, patch_text: str):
        """(forced character or None, banned characters: a string or 128 ban levels, ban_mask).
        Reads the patch incrementally: `patch_text` must extend the text of the previous call
        in this patch (plain decoding); `probe` answers for any text without side effects."""
        if self.phase == "header":
            text = self.line_text + patch_text
            if not text.startswith("["):
                return self._header_constraint(text)
            self._start_body()   # the model opened the first bar: the body plan drives it from here
        self.line.feed(patch_text[self._fed:])
        self._fed = len(patch_text)
        return _line_constraint(self.line)

    def probe(self, patch_text: str) -> "Probe":
        """The constraints after `patch_text` and along any characters after it, on a copy of
        this writer's state (speculative decoding tries drafts that may be thrown away)."""
        return Probe(self, patch_text)

    def forced_run(self, patch_text: str) -> str:
        """The characters forced from here on in this patch (up to an eos, a line end or the
        patch's 16th character): the decoder feeds them to the model in one call."""
        if self.phase != "body":
            return ""
        self.line.feed(patch_text[self._fed:])
        self._fed = len(patch_text)
        probe, run = self.line.clone(), ""
        while len(patch_text) + len(run) < PATCH_SIZE:
            forced, _, _ = probe.next()
            if forced is None or forced == EOS:
                break
            run += forced
            probe.feed(forced)
            if forced == "\n":
                break
        return run

    def _start_body(self) -> None:
        self.phase, self.ctx = "body", header_context(self.header)
        if self.header_voices:
            self.write_voices = list(self.ctx.voices)
        self.header_bad = header_problems(self.header)
        self._reset_line()

    def _header_constraint(self, text: str):
        starts = self._header_starts()
        voices = sum(line.startswith("V:") for line in self.header)
        declared = _score_voices(self.header)
        if declared is not None:   # as many V: lines as %%score names voices, before the body
            starts = [s for s in starts if s != "V:" or voices < declared]
        if text.startswith("V:"):   # voices are numbered 1, 2, 3 ... as xml2abc numbers them
            number = str(voices + 1)
            if len(text) < 2 + len(number):
                return number[len(text) - 2], ""
            if len(text) == 2 + len(number):
                return None, ban_mask(" \n")
            if self.part_names is not None:
                name = open_part_name(text)
                if name is not None:
                    return name_constraint(name, self.part_names)
        for start in starts:
            if text.startswith(start):
                for head, full in self.forced_header.items():
                    if text.startswith(head) and len(text) < len(full):
                        return full[len(text)], ""
                if start in ("M:", "L:", "K:", "Q:"):   # a meter, unit, key and tempo the body can be written in
                    return self._one_or_mask(header_value_next(start[0], text[2:]))
                return None, ""
        allowed = {s[len(text)] for s in starts if s.startswith(text) and len(s) > len(text)}
        if not text and voices and (declared is None or voices >= declared):
            allowed.add("[")
        return self._one_or_mask("".join(sorted(allowed)))

    @staticmethod
    def _one_or_mask(allowed: str):
        if len(allowed) == 1:
            return allowed, ""
        return None, ban_mask(allowed)

    def _header_starts(self) -> list[str]:
        """The line starts the header may go on with, in xml2abc's order."""
        seen = -1
        for line in self.header:
            for i, (start, _, _) in enumerate(HEADER_FIELDS):
                if line.startswith(start):
                    seen = max(seen, i)
        starts = []
        for i, (start, optional, repeats) in enumerate(HEADER_FIELDS):
            if i < seen or (i == seen and not repeats):
                continue
            starts.append(start)
            if not optional and i != seen:
                break
        return starts

    def on_patch(self, patch_text: str, ended_by_eos: bool) -> int | None:
        if self.phase == "header" and not self.line_text and patch_text.startswith("["):
            self._start_body()   # the first bar, decoded on probes (speculation) without constraint()
        self.line_patches.append(patch_text + (EOS if ended_by_eos else ""))
        self.line_text += patch_text
        if self.phase == "header":
            if not self.line_text.endswith("\n"):
                return self._reject(True, ["header line too long"]) \
                    if len(self.line_patches) > MAX_HEADER_LINE_PATCHES else None
            self.header.append(self.line_text)
            self.header_patches += len(self.line_patches)
            self.line_text, self.line_patches = "", []
            self.line_nats, self.line_sampled = 0.0, 0   # the header is not part of the bars' measure
            if len(self.header) > MAX_HEADER_LINES:
                return self._reject(True, ["header too long"])
            return None
        if self.header_bad:
            return self._reject(True, self.header_bad)
        self.line.feed(patch_text[self._fed:])
        self.line.end_patch(ended_by_eos)
        self._fed = 0
        if self.line_text.endswith("\n"):
            return self._complete_line()
        limit = self.max_line_patches or (16 + 4 * len(self.ctx.voices))
        if len(self.line_patches) > limit:
            return self._reject(False, [f"bar longer than {limit} patches"])
        return None

    def _complete_line(self) -> int | None:
        first_body_bar = self.n_prefix == 0 and not self.new_bars
        last_bar = len(self.new_bars) == self.bars - 1
        check = check_bar(self.line_text, self.ctx, expected=self.expected_length(),
                          pickup_ok=bool(self.short_lengths) or (self.pickup_ok and (first_body_bar or last_bar)),
                          keep_meter_and_key=self.keep_meter_and_key and not {"K", "M"} & set(self.fields))
        if not check.valid:
            return self._reject(False, check.reasons)
        self.body_lines.append(self.line_text)
        self.new_bars.append(check.line)
        if first_body_bar and self.pickup_ok:   # the model's pickup: its length and complement may recur
            self.short_lengths |= _short_lengths(self.ctx, [check.line])
        self.first_try.append(self.tries == 0)
        self.sampled_nats += self.line_nats
        self.sampled_chars += self.line_sampled
        self.tries = 0
        if len(self.new_bars) == self.bars:
            self.done = True
        self._reset_line()
        if self.on_bar:
            self.on_bar(len(self.new_bars), self.abc())
        return DONE if self.done else None

    def _reject(self, whole_header: bool, reasons: list[str]) -> int:
        """Roll back the bar (or the whole header) being written; after max_tries the variant
        stops with the bars it has (it fails only when it has none)."""
        self.tries += 1
        self.rejects += 1
        back = len(self.line_patches)
        if (self.tries > self.max_tries and self.writes_header and not whole_header and not self.new_bars
                and self.header_restarts < MAX_HEADER_RESTARTS):
            # no first bar fits the header the model wrote: write the header again
            self.header_restarts += 1
            self.tries = 0
            whole_header = True
        if whole_header:
            back += self.header_patches
            self.header, self.header_patches, self.phase, self.ctx = [], 0, "header", None
            self.header_bad = []
        if self.tries > self.max_tries:
            what = "header" if whole_header else f"bar {len(self.new_bars) + 1}"
            why = (f"the model wrote no valid {what} in {self.max_tries + 1} tries (last problem: "
                   f"{'; '.join(reasons)})")
            if not self.new_bars:
                raise BarError(f"{why}: try another temperature, prompt or model")
            self.stopped = why
            self.done = True
            self._reset_line()
            return DONE
        self._reset_line()
        return back

    @property
    def temperature_scale(self) -> float:
        return RETRY_COOLING ** self.tries

    @property
    def valid_first_try(self) -> float:
        return sum(self.first_try) / len(self.first_try) if self.first_try else 0.0

    def sampled(self, nats: float, count: int) -> None:
        """The decoder's measure of the characters just sampled for this line."""
        self.line_nats += nats
        self.line_sampled += count

    @property
    def bits_per_char(self) -> float | None:
        """Bits per sampled character of the kept bars: how surprising the model found its own
        choices (low: it wrote what it expected; high: hot sampling or a prompt it fights)."""
        return self.sampled_nats / self.sampled_chars / math.log(2) if self.sampled_chars else None


def _line_constraint(line: Line):
    forced, allowed, fallback = line.next()
    if forced is not None:
        return forced, ""
    return None, ban_mask(allowed, fallback)


class Probe:
    """BarWriter.constraint after a text that is not written yet, without touching the writer:
    a copy of its line state (or of the writer itself where the text opens the first bar after
    a model-written header) fed one character at a time. Cost: one Line clone per probe."""

    def __init__(self, writer: BarWriter, patch_text: str):
        self.w = writer
        self.text = ""
        self.line: Line | None = None
        if writer.phase == "body":
            if len(patch_text) < writer._fed:
                raise ValueError("a probe starts at or after the text the writer has read")
            self.line = writer.line.clone()
            self.line.feed(patch_text[writer._fed:])
            self.text = patch_text
        else:
            for c in patch_text:
                self.advance(c)

    def advance(self, c: str) -> None:
        self.text += c
        if self.line is not None:
            self.line.feed(c)
        elif (self.w.line_text + self.text).startswith("["):   # the first bar opens: its plan, on a copy
            body = copy.copy(self.w)
            body._start_body()
            self.line = body.line
            self.line.feed(self.text)

    def constraint(self):
        """What BarWriter.constraint(patch_text + the advanced characters) would answer."""
        if self.line is None:
            return self.w._header_constraint(self.w.line_text + self.text)
        return _line_constraint(self.line)


def _score_voices(header: list[str]) -> int | None:
    """How many voices the `%%score` line names (None without one)."""
    line = next((h for h in header if h.startswith("%%score")), None)
    return len(re.findall(r"\d+", line)) or None if line else None


def open_part_name(line: str) -> str | None:
    """The name written so far when `line` (a V: line being written) ends inside `nm="..."`."""
    start = line.rfind(' nm="')
    if start < 0:
        return None
    name = line[start + 5:]
    return None if '"' in name else name


def name_constraint(prefix: str, names: tuple[str, ...]):
    """(forced, ban mask) that lets the name go on only as one of `names` (or end, with its closing
    quote, where `prefix` is one); a prefix that is no name's (it cannot happen through these
    masks) is let through unconstrained."""
    allowed = {n[len(prefix)] for n in names if n.startswith(prefix) and len(n) > len(prefix)}
    if prefix in names:
        allowed.add('"')
    if not allowed:
        return None, ""
    if len(allowed) == 1:
        return allowed.pop(), ""
    return None, ban_mask("".join(sorted(allowed)))


def _lettered(content: str) -> bool:
    """NotaGen's rest reduction keeps a voice's bar holding any letter but z and x."""
    return any(c.isalpha() and c not in "zZxX" for c in content)


def _has_notes(content: str, state) -> bool:
    scanner = Scanner(state.unit, state.bar).feed(content).finish()
    return scanner.notes > 0


def _fields_in(lines: list[str], given: list[list[Segment]] | None) -> str:
    """Inline fields the new bars may hold: clef changes, tempo, instructions and unit always;
    a key or meter change only when the user's bars hold one ("k": [K:] with a clef only)."""
    text = "".join(lines) + "".join(s.content for segs in given or [] for s in segs)
    keys = [m.group(2).split() for m in INLINE_FIELD.finditer(text) if m.group(1) == "K"]
    key_change = any(v and v[0] not in CLEFS and not v[0].startswith("clef=") for v in keys)
    return "ILQ" + ("K" if key_change else "k") + ("M" if "[M:" in text else "")


def _short_lengths(ctx: BarContext, lines: list[str]) -> set[Fraction]:
    """Lengths of the bars that last less than the meter (every voice agreeing: a pickup, a bar
    before a repeat) and their complements to the meter."""
    out: set[Fraction] = set()
    meter = ctx.default.bar
    for line in lines:
        lengths = {voice_duration(s.content, ctx.state(s.voice))[0] for s in parse_line(line)[1]}
        if len(lengths) == 1 and None not in lengths and meter is not None and 0 < next(iter(lengths)) < meter:
            length = next(iter(lengths))
            out |= {length, meter - length}
    return out


def sounding_voices(header: list[str], body: list[str]) -> list[str]:
    """Voices with a note in the user's bars: each new bar must write them (as training's lines
    hold every voice that does not rest)."""
    ctx = header_context(header)
    out: set[str] = set()
    for line in body:
        for seg in parse_line(line)[1]:
            if seg.voice not in out and _has_notes(seg.content, ctx.state(seg.voice)):
                out.add(seg.voice)
    return [v for v in ctx.voices if v in out]
