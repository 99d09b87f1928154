"""Run xml2abc in-process with NotaGen's options (`-d 8 -c 6 -x`) and NotaGen's tolerance.

xml2abc is written as a script: its parser writes into a module-global `abcOut` object and
reports problems on stderr. We set that global, capture the text and the messages, and hold a
lock because of the global state.

NotaGen's data scripts ship their own copy of xml2abc; abctoolkit's copy gives the same text but
stops where NotaGen's goes on. `_tolerant_parser()` makes abctoolkit's parser behave like
NotaGen's copy (read there for facts, nothing copied):
- wedge / octave-shift / pedal directions of type continue, resume, discontinue or change are
  ignored (abctoolkit raises "wrong direction type"); a pedal one still picks the pedal voice;
- a metronome without <per-minute> keeps the tempo of the <sound> element;
- the accidentals natural-flat and natural-sharp count as flat and sharp.
Beyond NotaGen's copy (whose conversion would fail, so the piece never reached training), other
unknown direction types and accidentals are skipped with one warning each instead of a crash.
"""
from __future__ import annotations

import contextlib
import io
import re
import threading
from types import SimpleNamespace

from notabridge.cancel import checkpoint
from notabridge.errors import Cancelled

from .errors import NotationError

_LOCK = threading.Lock()
# xml2abc's progress notes, not losses
_NOISE = ("written with", "accidental", "decoded from", "skipped empty voice")
# what xml2abc's start/stop directions understand (its map of opening types, and stop)
_KNOWN_DIRECTION_TYPES = {"down", "up", "crescendo", "diminuendo", "start", "stop"}
_NOTAGEN_IGNORED_TYPES = {"continue", "resume", "discontinue", "change"}
_ACCIDENTALS = {"double-flat", "flat-flat", "flat", "natural", "sharp", "sharp-sharp", "double-sharp"}
_NOTAGEN_ACCIDENTALS = {"natural-flat": "flat", "natural-sharp": "sharp"}
_PARSER = None


def _notagen_options() -> SimpleNamespace:
    # The option names and defaults of xml2abc's OptionParser; NotaGen sets -d 8 -c 6 -x.
    return SimpleNamespace(u=False, m=0, c=6, d=8, n=0, b=0, o="", v=0, x=True, p=[], j=False,
                           t=False, s=False, v1=False, ped=True, stm=False, i=False)


def _tolerant_parser():
    """abctoolkit's xml2abc Parser, subclassed to take what NotaGen's copy takes (see above)."""
    global _PARSER
    if _PARSER is not None:
        return _PARSER
    from abctoolkit import xml2abc

    class TolerantParser(xml2abc.Parser):
        def __init__(self, options):
            super().__init__(options)
            self.skipped: list[str] = []

        def _skip(self, message: str) -> None:
            if message not in self.skipped:
                self.skipped.append(message)

        def doDirection(self, e, i, es):  # noqa: N802 (xml2abc's name)
            detached = []  # (parent, child, position) to put back afterwards
            added = []
            for dirtyp in e.findall("direction-type"):
                for tag in ("wedge", "octave-shift", "pedal"):
                    t = dirtyp.find(tag)
                    if t is None or t.get("type", "") in _KNOWN_DIRECTION_TYPES:
                        continue
                    kind = t.get("type", "")
                    if kind not in _NOTAGEN_IGNORED_TYPES:
                        self._skip(f"skipped <{tag} type=\"{kind}\"> directions (no ABC equivalent)")
                    if tag == "pedal" and self.ped and not self.pedVce:
                        self.pedVce = self.findVoice(i, es)[1]  # as NotaGen's copy: the first pedal picks the voice
                    detached.append((dirtyp, t, list(dirtyp).index(t)))
                    dirtyp.remove(t)
                metronome = dirtyp.find("metronome")
                if metronome is not None and metronome.find("per-minute") is None:
                    added.append((metronome, xml2abc.E.SubElement(metronome, "per-minute")))
            try:
                return super().doDirection(e, i, es)
            finally:
                for parent, child in added:
                    parent.remove(child)
                for parent, child, position in reversed(detached):
                    parent.insert(position, child)

        def doNote(self, n):  # noqa: N802
            # xml2abc reads lyric numbers as integers ("verse3" too); the lyrics end up in w:
            # lines, which NotaGen's text removes, so a number such as "chorus" just gets the next one
            renamed = []
            for lyric in n.findall("lyric"):
                number = lyric.get("number", "1")
                if not re.sub(r"^.*verse", "", number).strip().isdigit():
                    renamed.append((lyric, number))
                    lyric.set("number", "0")
            try:
                return super().doNote(n)
            finally:
                for lyric, number in renamed:
                    lyric.set("number", number)

        def ntAbc(self, ptc, oct, note, v, ntrec, isTab):  # noqa: N802, A002 (xml2abc's names)
            accidental = note.find("accidental")
            text = accidental.text if accidental is not None else None
            if accidental is None or text in _ACCIDENTALS:
                return super().ntAbc(ptc, oct, note, v, ntrec, isTab)
            position = list(note).index(accidental)
            if text in _NOTAGEN_ACCIDENTALS:
                accidental.text = _NOTAGEN_ACCIDENTALS[text]
            else:
                self._skip(f"accidental {text or '(empty)'!r} has no ABC sign: the note's pitch decides its accidental")
                note.remove(accidental)
            try:
                return super().ntAbc(ptc, oct, note, v, ntrec, isTab)
            finally:
                if accidental.text != text:
                    accidental.text = text
                if accidental not in list(note):
                    note.insert(position, accidental)

    _PARSER = TolerantParser
    return _PARSER


def _checked(add):
    def add_line(line: str) -> None:
        checkpoint()
        add(line)
    return add_line


def musicxml_to_plain_abc(xml: bytes) -> tuple[str, list[str]]:
    """MusicXML bytes -> (xml2abc's ABC text, messages xml2abc printed and elements skipped)."""
    from abctoolkit import xml2abc

    options = _notagen_options()
    out = io.StringIO()
    err = io.StringIO()
    parser = _tolerant_parser()(options)
    with _LOCK, contextlib.redirect_stderr(err):
        writer = xml2abc.ABCoutput("score.abc", "", 0, options)
        writer.outfile = out
        writer.add = _checked(writer.add)   # xml2abc adds a line per voice (and per chunk of bars)
        xml2abc.abcOut = writer
        try:
            parser.parse(io.BytesIO(xml))
        except (NotationError, Cancelled):
            raise
        except Exception as exc:  # xml2abc raises bare errors on malformed input
            raise NotationError(f"cannot read this MusicXML: {type(exc).__name__}: {exc}") from exc
        finally:
            xml2abc.abcOut = None
    messages = [line.lstrip("- ").strip() for line in err.getvalue().splitlines()
                if line.strip() and not any(noise in line for noise in _NOISE)]
    text = out.getvalue()
    if not text.strip():
        raise NotationError("the score has no notes (xml2abc wrote nothing)")
    return text, parser.skipped + messages
