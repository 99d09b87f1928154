"""Run abctoolkit's xml2abc in-process with NotaGen's options (`-d 8 -c 6 -x`).

xml2abc is written as a script: its parser writes into a module-global `abcOut` object and
reports problems on stderr. We set that global, capture the text and the messages, and hold a
lock because of the global state.
"""
from __future__ import annotations

import contextlib
import io
import threading
from types import SimpleNamespace

from notabridge.cancel import checkpoint
from notabridge.errors import Cancelled

from .errors import NotationError

_LOCK = threading.Lock()
# xml2abc's progress notes, not losses
_NOISE = ("written with", "accidental", "decoded from", "skipped empty voice")


def _notagen_options() -> SimpleNamespace:
    # The option names and defaults of xml2abc's OptionParser; NotaGen sets -d 8 -c 6 -x.
    return SimpleNamespace(u=False, m=0, c=6, d=8, n=0, b=0, o="", v=0, x=True, p=[], j=False,
                           t=False, s=False, v1=False, ped=True, stm=False, i=False)


def _checked(add):
    def add_line(line: str) -> None:
        checkpoint()
        add(line)
    return add_line


def musicxml_to_plain_abc(xml: bytes) -> tuple[str, list[str]]:
    """MusicXML bytes -> (xml2abc's ABC text, messages xml2abc printed)."""
    from abctoolkit import xml2abc

    options = _notagen_options()
    out = io.StringIO()
    err = io.StringIO()
    with _LOCK, contextlib.redirect_stderr(err):
        writer = xml2abc.ABCoutput("score.abc", "", 0, options)
        writer.outfile = out
        writer.add = _checked(writer.add)   # xml2abc adds a line per voice (and per chunk of bars)
        xml2abc.abcOut = writer
        try:
            xml2abc.Parser(options).parse(io.BytesIO(xml))
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
    return text, messages
