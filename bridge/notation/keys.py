"""Keys with their mode: MusicXML (<fifths> + <mode>) <-> ABC `K:` text as xml2abc writes it.

xml2abc writes the tonic of the mode on the signature and the first three letters of the
MusicXML mode word ("F#min", "Ddor", "Aaeo"); major, ionian and none get no suffix. abc2xml and
our fast reader read `m`, `min`, `minor`, `Dor`, ... (first three letters, any case).
"""
from __future__ import annotations

# MusicXML mode words an excerpt carries (major is the default and is not written)
MODES = ("minor", "dorian", "phrygian", "lydian", "mixolydian", "aeolian", "ionian", "locrian")
# steps along the line of fifths from the signature's major tonic to the mode's tonic
_TONIC_SHIFT = {"maj": 0, "ion": 0, "non": 0, "lyd": -1, "mix": 1, "dor": 2, "min": 3, "aeo": 3, "phr": 4, "loc": 5}
_ABC_MODES = {"": "major", "m": "minor", "min": "minor", "maj": "major", "ion": "ionian", "aeo": "aeolian",
              "mix": "mixolydian", "dor": "dorian", "phr": "phrygian", "lyd": "lydian", "loc": "locrian"}
_FIFTHS_NAMES = "Fb Cb Gb Db Ab Eb Bb F C G D A E B F# C# G# D# A# E# B#".split()  # fifths -8 .. 12


def abc_key(fifths: int, mode: str | None = None) -> str:
    """(fifths, MusicXML mode) -> ABC key: (3, "minor") -> "F#min", (0, "dorian") -> "Ddor", (-2, None) -> "Bb"."""
    short = (mode or "major").lower()[:3]
    if short not in _TONIC_SHIFT:
        short = "maj"
    tonic = _FIFTHS_NAMES[fifths + _TONIC_SHIFT[short] + 8]
    return tonic + ("" if _TONIC_SHIFT[short] == 0 else short)


def abc_mode(mode_text: str) -> str | None:
    """The mode letters of an ABC key ("m", "min", "Dor", "mixolydian") -> the MusicXML word, None for major."""
    word = _ABC_MODES.get(mode_text.lower()[:3] if len(mode_text) > 1 else mode_text.lower())
    return None if word in (None, "major") else word


def excerpt_mode(mode_text: str | None) -> str | None:
    """A MusicXML <mode> text -> what an excerpt stores (None for major, none or unknown words)."""
    word = (mode_text or "").strip().lower()
    return word if word in MODES else None
