"""NotaGen interleaved ABC -> standard ABC with one block per voice (`convert ... out.abc --plain`).

What common ABC tools read (music21, abcjs, abcm2ps): `X:1` and `T:` first, each voice's
`V:` line (clef, name) at the head of its block, every bar of the voice in its block (rests put
back where NotaGen's rest reduction dropped a voice's bar), a few bars per line. Invisible rests
`x` are written `z`: music21 reads a lengthened `x` as a note C. The notes are NotaGen's text.
"""
from __future__ import annotations

import re

from .interleave import split_header_body, unreduce

_VOICE_SEGMENT = re.compile(r"\[V:(\d+)\](.*?)(?=\[V:\d+\]|$)")
_PROTECTED = re.compile(r'"[^"]*"|![^!]*!|\[[A-Za-z]:[^\]]*\]|\+[^+]*\+')  # text, decorations, inline fields
_INVISIBLE_REST = re.compile(r"(?<![A-Za-z])x(?=[\d/\s|\]:)(\[]|$)")
BARS_PER_LINE = 4


def _visible_rests(text: str) -> str:
    out, position = [], 0
    for match in _PROTECTED.finditer(text):
        out.append(_INVISIBLE_REST.sub("z", text[position:match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(_INVISIBLE_REST.sub("z", text[position:]))
    return "".join(out)


def plain_abc(interleaved: str, title: str = "") -> str:
    """Interleaved ABC (with or without rest reduction, `[r:]` prefixes and prompt lines) -> plain ABC."""
    header, _ = split_header_body(interleaved)
    full = unreduce(interleaved)
    _, body = split_header_body(full)
    declared: dict[str, str] = {}
    fields = []
    for line in header:
        if line.startswith("V:"):
            declared[line.split()[0][2:]] = line
        elif not line.startswith("%") or line.startswith("%%"):  # NotaGen's prompt lines are comments
            fields.append(line)
    voices: dict[str, list[str]] = {number: [] for number in declared}
    for line in body:
        for number, text in _VOICE_SEGMENT.findall(line.rstrip("\n")):
            voices.setdefault(number, []).append(text)
    out = ["X:1\n", f"T:{title}\n" if title else "T:\n"] + fields
    for number in sorted(voices, key=int):
        out.append(declared.get(number, f"V:{number}\n"))
        bars = voices[number]
        for start in range(0, len(bars), BARS_PER_LINE):
            out.append(_visible_rests("".join(bars[start:start + BARS_PER_LINE])) + "\n")
    return "".join(out)
