"""The bar-by-bar policy of one variant: what is forced, what is sampled, when a bar is done.

A body line is one bar of every voice: `[r:i/j][V:1]...|[V:2]...|`. The writer forces the
`[r:i/j]` prefix (i = line index, j = lines that remain, NotaGen's length lever), checks every
finished bar with notabridge.abc.bar_check (each voice fills the bar), fills voices the model left out with
rests, and rolls an invalid bar back to be sampled again, a bounded number of times. In
accompany mode a bar is a plan of voice slots: given voices are forced character by character,
the others sampled between forced `[V:n]` marks. In generate mode the model first writes the
header (with M:/K: forced when the user chose them).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from notabridge.abc.bar_check import VOICE_MARK, BarContext, Segment, check_bar, follow_line, header_context, header_problems, voice_duration
from .decoder import DONE
from notabridge.errors import JobError
from notabridge.abc.patching import BOS_PATCH, EOS_ID, line_patches

EOS = chr(EOS_ID)
MAX_HEADER_LINES = 40
# each retry of an invalid bar samples cooler: temperature x RETRY_COOLING ** tries (a weak model
# writes valid bars far more often at low temperature; the first try keeps the user's setting)
RETRY_COOLING = 0.7
# generate: the header lines start as in every NotaGen training header (xml2abc's order); the
# model writes the rest of each line (a good model writes exactly these; a weak one is kept on track)
HEADER_SCAFFOLD = ("%%score ", "L:", "M:", "K:")
MAX_HEADER_RESTARTS = 2   # generate: a header under which no first bar is valid is written again
MAX_HEADER_LINE_PATCHES = 8


class BarError(JobError):
    """No valid bar after the allowed number of tries."""


@dataclass
class Slot:
    voice: str
    prefix: str            # "[r:i/j][V:1]" for the first voice, "|[V:2]" (previous barline) after
    given: str | None      # the voice's notes when given (accompany), None when sampled
    suffix: str            # barline + newline on the last slot, "" before


def barline_start(content: str) -> int | None:
    """Index of the first `|` outside chords, inline fields and quoted text."""
    depth, quote = 0, False
    for i, c in enumerate(content):
        if c == '"':
            quote = not quote
        elif quote:
            continue
        elif c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        elif c == "|" and depth == 0:
            return i
    return None


class BarWriter:
    def __init__(self, *, prompt: list[str], header: list[str] | None, prefix_body: list[str], bars: int,
                 given: list[list[Segment]] | None = None, suffix_body: list[str] | None = None,
                 forced_header: dict[str, str] | None = None, pickup_ok: bool = False,
                 keep_meter_and_key: bool = False, max_tries: int = 8, max_line_patches: int | None = None,
                 on_bar: Callable[[int, str], None] | None = None):
        self.prompt = prompt
        self.header = list(header or [])
        self.phase = "header" if header is None else "body"
        self.ctx: BarContext | None = header_context(self.header) if header is not None else None
        for line in prefix_body if self.ctx else []:
            follow_line(self.ctx, line)  # inline meter / unit changes in the given bars stay in force
        self.bars = bars
        self.given = given
        self.forced_header = forced_header or {}
        self.pickup_ok = pickup_ok
        self.keep_meter_and_key = keep_meter_and_key
        self.max_tries = max_tries
        self.on_bar = on_bar
        self.n_prefix = len(prefix_body)
        n_suffix = len(suffix_body or [])
        self.total = self.n_prefix + bars + n_suffix
        self.body_lines = [self._prefixed(i, line) for i, line in enumerate(prefix_body)]
        self.suffix_patches = [p for i, line in enumerate(suffix_body or [])
                               for p in line_patches(self._prefixed(self.n_prefix + bars + i, line), True)]
        self.suffix_nats: float | None = None
        self.suffix_chars = 0
        self.max_line_patches = max_line_patches
        self.new_bars: list[str] = []
        self.sampled_nats = 0.0     # the model's surprise at the characters it sampled in the kept bars
        self.sampled_chars = 0
        self.first_try: list[bool] = []
        self.tries = 0
        self.rejects = 0
        self.last_reasons: list[str] = []
        self.header_patches = 0
        self.writes_header = header is None
        self.header_restarts = 0
        self.done = False
        self._reset_line()

    # -- text bookkeeping ---------------------------------------------------------------------
    def _line_prefix(self, index: int) -> str:
        return f"[r:{index}/{self.total - 1 - index}]"

    def _prefixed(self, index: int, line: str) -> str:
        from notabridge.abc.patching import strip_line_prefix

        return self._line_prefix(index) + strip_line_prefix(line)

    def _reset_line(self) -> None:
        self.line_text = ""
        self.line_patches: list[str] = []
        self.line_nats, self.line_sampled = 0.0, 0
        self.slot_index = 0
        self.slot_start = 0
        self.slots = self._plan() if self.phase == "body" and not self.done else None
        self._bar_target = self.expected_length() if self.slots is not None else None

    def _plan(self) -> list[Slot] | None:
        """Accompany: one slot per header voice, given voices with their notes."""
        if self.given is None:
            return None
        bar = len(self.new_bars)
        given = {s.voice: s for s in self.given[bar]}
        barline = next((s.barline for s in self.given[bar] if s.barline), "|")
        voices = self.ctx.voices
        slots = []
        for k, voice in enumerate(voices):
            lead = self._line_prefix(self.n_prefix + bar) if k == 0 else barline
            seg = given.get(voice)
            slots.append(Slot(voice, f"{lead}[V:{voice}]", seg.content if seg else None,
                              barline + "\n" if k == len(voices) - 1 else ""))
        return slots

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
        from notabridge.abc.patching import strip_line_prefix

        given = [strip_line_prefix(line) for line in self.body_lines[:self.n_prefix]]
        return self.header_text() + "".join(given + self.new_bars)

    # -- decoder interface --------------------------------------------------------------------
    def context(self, limit: int) -> list[str]:
        """Patches of everything written so far; past `limit`, the oldest body lines are left out."""
        fixed = [BOS_PATCH] + [p for line in self.prompt + self.header for p in line_patches(line, False)]
        current = list(self.line_patches)
        body = [line_patches(line, True) for line in self.body_lines]
        room = limit - len(fixed) - len(current)
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
        if self.slots is None:
            return None
        slot = self.slots[self.slot_index]
        if slot.given is None:
            return None
        full = slot.prefix + slot.given + slot.suffix
        rest = full[len(self.line_text) - self.slot_start:]
        return rest[:16] if rest else None

    def constraint(self, patch_text: str) -> tuple[str | None, str]:
        text = self.line_text + patch_text
        if self.phase == "header":
            if text.startswith("["):
                return self._force(self._line_prefix(self.n_prefix), text)
            lead = HEADER_SCAFFOLD[len(self.header)] if len(self.header) < len(HEADER_SCAFFOLD) else ""
            if len(text) < len(lead):
                return lead[len(text)], ""
            for head, full in self.forced_header.items():
                if text.startswith(head) and len(text) < len(full):
                    return full[len(text)], ""
            if not text:  # keep the header's order: meter and key before voices, voices before bars
                has = {field for field in ("M:", "K:", "V:") if any(line.startswith(field) for line in self.header)}
                banned = "" if {"M:", "K:"} <= has else "V"
                return None, banned + ("" if has == {"M:", "K:", "V:"} else "[")
            return None, ""
        if self.slots is None:
            prefix = self._line_prefix(self.n_prefix + len(self.new_bars))
            if len(text) < len(prefix):
                return prefix[len(text)], ""
            mark = None
            for mark in VOICE_MARK.finditer(text):
                pass
            if mark is None or (self.pickup_ok and self.n_prefix == 0 and not self.new_bars):
                return None, ""
            return self._fill_bar(mark.group(1), text[mark.end():], "|")
        slot = self.slots[self.slot_index]
        pos = len(text) - self.slot_start
        if pos < len(slot.prefix):
            return slot.prefix[pos], ""
        if slot.given is not None:
            full = slot.prefix + slot.given + slot.suffix
            return (full[pos] if pos < len(full) else EOS), ""
        content = text[self.slot_start + len(slot.prefix):]
        if not slot.suffix:          # the barline starts the next voice's segment
            forced, banned = self._fill_bar(slot.voice, content, EOS)
            return forced, banned + "|\n"
        start = barline_start(content)
        if start is None:            # the last voice ends with the bar's barline and a newline
            forced, banned = self._fill_bar(slot.voice, content, slot.suffix[0])
            return forced, banned + "\n" + EOS
        typed = content[start:]
        return (slot.suffix[len(typed)] if len(typed) < len(slot.suffix) else EOS), ""

    def _fill_bar(self, voice: str, content: str, end: str) -> tuple[str | None, str]:
        """Steer one voice to fill its bar exactly: `end` (what closes the voice: its barline or
        eos) is banned while the notes so far are shorter than the bar, and forced once they
        fill it. Partial notes (an open chord, tuplet, decoration) are left alone."""
        if self.ctx is None or voice not in self.ctx.voices or barline_start(content) is not None:
            return None, ""
        if not content.strip() or content.rstrip()[-1] in '([{!"<>&+.~':
            return None, ""
        duration, after = voice_duration(content, self.ctx.state(voice))
        target = self._bar_target if self._bar_target is not None else after.bar
        if duration is None or target is None:
            return None, ""
        if duration == target:
            return end, ""
        return (None, end) if duration < target else (None, "")  # too long already: let it end and fail fast

    @staticmethod
    def _force(prefix: str, text: str) -> tuple[str | None, str]:
        return (prefix[len(text)], "") if len(text) < len(prefix) else (None, "")

    def sampled(self, nats: float, count: int) -> None:
        """The decoder's measure of the characters just sampled for this line."""
        self.line_nats += nats
        self.line_sampled += count

    def on_patch(self, patch_text: str, ended_by_eos: bool) -> int | None:
        self.line_patches.append(patch_text + (EOS if ended_by_eos else ""))
        self.line_text += patch_text
        if self.phase == "header":
            if not self.line_text.endswith("\n"):
                return self._reject(True, ["header line too long"]) \
                    if len(self.line_patches) > MAX_HEADER_LINE_PATCHES else None
            if not self.line_text.startswith("["):
                self.header.append(self.line_text)
                self.header_patches += len(self.line_patches)
                self.line_text, self.line_patches = "", []
                self.line_nats, self.line_sampled = 0.0, 0   # the header is not part of the bars' measure
                if len(self.header) > MAX_HEADER_LINES:
                    return self._reject(True, ["header too long"])
                return None
            problems = header_problems(self.header)
            if problems:
                return self._reject(True, problems)
            self.phase, self.ctx = "body", header_context(self.header)
        elif self.slots is not None:
            self._advance_slot(ended_by_eos)
        if self.line_text.endswith("\n"):
            return self._complete_line()
        limit = self.max_line_patches or (16 + 4 * len(self.ctx.voices))
        if len(self.line_patches) > limit:
            return self._reject(False, [f"bar longer than {limit} patches"])
        return None

    def _advance_slot(self, ended_by_eos: bool) -> None:
        slot = self.slots[self.slot_index]
        written = len(self.line_text) - self.slot_start
        if slot.given is not None:
            finished = written >= len(slot.prefix + slot.given + slot.suffix)
        else:
            finished = ended_by_eos and not slot.suffix
        if finished and self.slot_index + 1 < len(self.slots):
            self.slot_index += 1
            self.slot_start = len(self.line_text)

    def _complete_line(self) -> int | None:
        first_body_bar = self.n_prefix == 0 and not self.new_bars
        check = check_bar(self.line_text, self.ctx, expected=self.expected_length(),
                          pickup_ok=self.pickup_ok and first_body_bar, keep_meter_and_key=self.keep_meter_and_key)
        if not check.valid:
            return self._reject(False, check.reasons)
        self.body_lines.append(self.line_text)
        self.new_bars.append(check.line)
        self.sampled_nats += self.line_nats
        self.sampled_chars += self.line_sampled
        self.first_try.append(self.tries == 0)
        self.tries = 0
        if len(self.new_bars) == self.bars:
            self.done = True
        self._reset_line()
        if self.on_bar:
            self.on_bar(len(self.new_bars), self.abc())
        return DONE if self.done else None

    def _reject(self, whole_header: bool, reasons: list[str]) -> int:
        """Roll back the bar (or the whole header) being written; give up after max_tries."""
        self.tries += 1
        self.rejects += 1
        self.last_reasons = reasons
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
        if self.tries > self.max_tries:
            what = "header" if whole_header else f"bar {len(self.new_bars) + 1}"
            raise BarError(f"the model wrote no valid {what} in {self.max_tries + 1} tries (last problem: "
                           f"{'; '.join(reasons)}): try another temperature, prompt or model")
        self._reset_line()
        return back

    @property
    def temperature_scale(self) -> float:
        return RETRY_COOLING ** self.tries

    @property
    def bits_per_char(self) -> float | None:
        """Bits per sampled character of the kept bars: how surprising the model found its own
        choices (higher with a higher temperature or a freer top-k / top-p)."""
        import math

        return self.sampled_nats / self.sampled_chars / math.log(2) if self.sampled_chars else None

    @property
    def valid_first_try(self) -> float:
        return sum(self.first_try) / len(self.first_try) if self.first_try else 0.0
