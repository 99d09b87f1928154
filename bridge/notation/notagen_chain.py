"""NotaGen's training-data chain, step by step (shared/NOTAGEN.md), with abctoolkit's own functions.

What a real checkpoint was trained on, so the reference for every character the model reads:
1. MusicXML -> ABC with xml2abc `-d 8 -c 6 -x` (xml2abc_run: NotaGen's tolerance);
2. blank lines dropped, unidecode, fields X: T: C: W: w: Z: %%MIDI and bar-number comments
   removed, escaped quotes removed from body lines, quoted text holding a barline removed;
3. voices with unequal bar counts refused (NotaGen leaves such a piece out);
4. text annotations: `""` removed, `"^..."`/`"_..."` squeezed and kept up to 40 characters;
5. the whole text transposed to its own key (`transpose_an_abc_text` at offset 0), which
   rewrites accidentals the way NotaGen's training text has them;
6. one line per bar, a voice's bar written only when it holds a note (rest reduction).
Steps 7 (prompt lines) and 8 (`[r:i/j]` prefixes) are left to the callers (abc_export, patching).
"""
from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import NotationError

INFO_FIELDS_REMOVED = ["X:", "T:", "C:", "W:", "w:", "Z:", "%%MIDI"]
_ANNOTATION = re.compile(r'"[^"]*"')
_REPEATED_SYMBOL = re.compile(r"([^a-zA-Z0-9])\1+")


@dataclass
class ChainText:
    """The chain's result: header lines and one entry per bar (each line ends in a newline).

    A bar where every voice rests is "" (NotaGen writes an empty line there, which its
    training loader then drops).
    """
    header: list[str]
    bars: list[str]
    key: str                      # the global K: (with its mode), e.g. "F#min", "Ddor", "C"
    silent: dict[int, str] = field(default_factory=dict)  # all-rest bar -> its V:1 line
    warnings: list[str] = field(default_factory=list)

    def training_text(self) -> str:
        """The text as NotaGen's training read it (without prompt lines and `[r:]` prefixes)."""
        return "".join(self.header + [bar for bar in self.bars if bar])

    def bar_lines(self) -> list[str]:
        """One line per bar, an all-rest bar written as V:1's rest (so that lines stay bars)."""
        return [bar or self.silent[i] for i, bar in enumerate(self.bars)]


def file_lines(abc_text: str) -> list[str]:
    """xml2abc's output as NotaGen's scripts read it back from a file (`readlines`, universal newlines)."""
    text = abc_text.replace("\r\n", "\n").replace("\r", "\n")
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def clean(lines: list[str]) -> list[str]:
    """Step 2: blank lines, unidecode, information fields, bar-number comments, quotes."""
    from abctoolkit.utils import Barlines, Quote_re, remove_bar_no_annotations, remove_information_field
    from unidecode import unidecode

    lines = [line for line in lines if line.strip() != ""]
    # = abctoolkit.convert.unidecode_abc_lines, whose module runs a shell command when imported
    lines = [unidecode(line) for line in lines]
    lines = remove_information_field(abc_lines=lines, info_fields=INFO_FIELDS_REMOVED)
    try:
        lines = remove_bar_no_annotations(lines)
    except Exception as exc:  # abctoolkit raises a bare Exception when there is no voice V:1
        raise NotationError("xml2abc produced no voice (the score has no notes?)") from exc
    for i, line in enumerate(lines):
        if not (re.search(r"^[A-Za-z]:", line) or line.startswith("%")):
            lines[i] = line.replace(r"\"", "")
    for i, line in enumerate(lines):
        for quoted in re.findall(Quote_re, line):  # a barline inside quotes would split a bar
            if any(barline in quoted for barline in Barlines):
                line = line.replace(quoted, "")
        lines[i] = line
    return lines


def bar_counts(lines: list[str]) -> dict[str, int]:
    """Voice -> number of bars, as abctoolkit splits them."""
    from abctoolkit.utils import extract_barline_and_bartext_dict

    try:
        _, _, _, bars, _ = extract_barline_and_bartext_dict(list(lines))
    except Exception as exc:
        raise NotationError(f"cannot split the ABC into voices and bars: {exc}") from exc
    return {symbol: len(texts) for symbol, texts in bars.items()}


def check_bars(lines: list[str], warnings: list[str]) -> None:
    """Step 3: `check_alignment_unrotated`; unequal bar counts are refused."""
    from abctoolkit.check import check_alignment_unrotated

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints every odd bar duration
            _, equal, _ = check_alignment_unrotated(list(lines))
    except Exception as exc:  # NotaGen's script drops a piece whose check fails this way
        counts = bar_counts(lines)
        equal = len(set(counts.values())) <= 1
        warnings.append(f"NotaGen's bar check fails on this score ({type(exc).__name__}); "
                        "its training data holds no piece like it")
    if not equal:
        counts = bar_counts(lines)
        detail = ", ".join(f"{s}: {n}" for s, n in counts.items())
        raise NotationError(f"the voices have unequal bar counts ({detail}); NotaGen cannot interleave them")


def tidy_annotations(lines: list[str]) -> list[str]:
    """Step 4: drop empty annotations, squeeze repeated symbols, drop annotations over 40 chars."""
    out = []
    for line in lines:
        for match in _ANNOTATION.findall(line):
            if match == '""':
                line = line.replace(match, "")
            if match[1] in ("^", "_"):
                squeezed = _REPEATED_SYMBOL.sub(r"\1", match)
                line = line.replace(match, squeezed if len(squeezed) <= 40 else "")
        out.append(line)
    return out


def global_key(lines: list[str]) -> str:
    """The global K: value as abctoolkit reads it (`none` counts as C)."""
    from abctoolkit.utils import extract_global_and_local_metadata, extract_metadata_and_parts

    metadata, _ = extract_metadata_and_parts(list(lines))
    global_meta, _ = extract_global_and_local_metadata(metadata)
    key = (global_meta.get("K") or ["C"])[0]
    return "C" if key == "none" else key


def major_key(key_mode: str) -> str:
    """`Key2Mode`'s major key of a key with mode: F#min -> A, Ddor -> C (enharmonic spellings too)."""
    from abctoolkit.transpose import lookup_key_according_to_keymode

    try:
        return lookup_key_according_to_keymode(key_mode)
    except (KeyError, IndexError) as exc:
        raise NotationError(f"unknown key {key_mode!r} in the ABC") from exc


def transpose_in_place(lines: list[str], warnings: list[str]) -> list[str]:
    """Step 5: `transpose_an_abc_text` to the piece's own key (offset 0)."""
    from abctoolkit.transpose import transpose_an_abc_text

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            text = transpose_an_abc_text(list(lines), major_key(global_key(lines)))
    except NotationError:
        raise
    except Exception as exc:  # NotaGen's script drops such a piece; we keep the text as it is
        warnings.append(f"NotaGen's key normalisation fails on this score ({exc}); accidentals are kept as printed")
        return list(lines)
    return [line + "\n" for line in text.split("\n") if line]


def is_rest_only(bar_text: str) -> bool:
    """NotaGen's test: a voice's bar is left out when it has no letter other than z, x, Z, X."""
    return not any(ch.isalpha() and ch not in "zZxX" for ch in bar_text)


def split_voices(lines: list[str]):
    """`extract_barline_and_bartext_dict`: (header, prefix, left barlines, bar texts, right barlines)."""
    from abctoolkit.utils import extract_barline_and_bartext_dict

    try:
        header, prefix, left, bars, right = extract_barline_and_bartext_dict(list(lines))
    except Exception as exc:
        raise NotationError(f"cannot split the ABC into voices and bars: {exc}") from exc
    if "V:1" not in bars:
        raise NotationError("the ABC has no voice V:1")
    counts = {symbol: len(texts) for symbol, texts in bars.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{s}: {n}" for s, n in counts.items())
        raise NotationError(f"the voices have unequal bar counts ({detail}); NotaGen cannot interleave them")
    return header, prefix, left, bars, right


def interleave_bars(lines: list[str], reduce_rests: bool = True) -> tuple[list[str], list[str], dict[int, str]]:
    """Step 6: (header lines, one line per bar with `[V:n]` + bar + right barline of each voice,
    V:1's line of each bar where every voice rests).

    The first bar also carries each voice's prefix and left barline. With `reduce_rests`, a
    voice's rest-only bar is left out, and a bar where every voice rests is "".
    """
    header, prefix, left, bars, right = split_voices(lines)

    def voice_bar(symbol: str, i: int) -> str:
        start = prefix[symbol] + left[symbol][0] if i == 0 else ""
        return f"[{symbol}]{start}{bars[symbol][i]}{right[symbol][i]}"

    out, silent = [], {}
    for i in range(len(bars["V:1"])):
        line = "".join(voice_bar(s, i) for s in prefix if not (reduce_rests and is_rest_only(bars[s][i])))
        out.append(line + "\n" if line else "")
        if not line:
            silent[i] = voice_bar("V:1", i) + "\n"
    return [line if line.endswith("\n") else line + "\n" for line in header], out, silent


def prepared_lines(abc_text: str, warnings: list[str]) -> list[str]:
    """Steps 2 to 5 on xml2abc's text: the plain (one voice after another) ABC NotaGen interleaves."""
    lines = clean(file_lines(abc_text))
    check_bars(lines, warnings)
    lines = tidy_annotations(lines)
    return transpose_in_place(lines, warnings)


def notagen_chain(source: Any, reduce_rests: bool = True) -> ChainText:
    """A .musicxml/.xml/.mxl path, MusicXML text/bytes or a music21 score -> NotaGen's text."""
    from .sources import musicxml_bytes
    from .xml2abc_run import musicxml_to_plain_abc

    text, messages = musicxml_to_plain_abc(musicxml_bytes(source))
    warnings = list(messages)
    lines = prepared_lines(text, warnings)
    header, bars, silent = interleave_bars(lines, reduce_rests=reduce_rests)
    return ChainText(header=header, bars=bars, key=global_key(lines), silent=silent, warnings=warnings)
