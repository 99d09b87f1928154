"""Note values: fractions of a whole note <-> MusicXML types, dots and tuplet ratios."""
from __future__ import annotations

import functools
from fractions import Fraction

from .errors import NotationError

TYPE_NAMES = {Fraction(4): "long", Fraction(2): "breve", Fraction(1): "whole", Fraction(1, 2): "half",
              Fraction(1, 4): "quarter", Fraction(1, 8): "eighth", Fraction(1, 16): "16th",
              Fraction(1, 32): "32nd", Fraction(1, 64): "64th", Fraction(1, 128): "128th",
              Fraction(1, 256): "256th"}
TYPE_VALUES = {name: value for value, name in TYPE_NAMES.items()}


def fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


@functools.lru_cache(maxsize=4096)
def parse_fraction(text: str) -> Fraction:
    return Fraction(text)


def _odd_part(n: int) -> int:
    while n % 2 == 0:
        n //= 2
    return n


@functools.lru_cache(maxsize=4096)
def is_plain(value: Fraction) -> bool:
    """True when the value needs no tuplet (denominator a power of two)."""
    return _odd_part(value.denominator) == 1


@functools.lru_cache(maxsize=4096)
def notated_value(value: Fraction) -> tuple[str, int] | None:
    """(type, dots) for a value writable as one undotted or dotted (up to 2 dots) note."""
    for dots in range(3):
        base = value / (2 - Fraction(1, 2 ** dots))
        if base in TYPE_NAMES:
            return TYPE_NAMES[base], dots
    return None


@functools.lru_cache(maxsize=4096)
def default_tuplet(value: Fraction) -> tuple[int, int] | None:
    """(actual, normal) for a value that needs a tuplet: 3:2, 5:4, 7:4, 9:8, ... (None if plain)."""
    odd = _odd_part(value.denominator)
    if odd == 1:
        return None
    normal = 1
    while normal * 2 < odd:
        normal *= 2
    return odd, normal


def split_plain(value: Fraction) -> list[Fraction]:
    """A plain (power-of-two) length as a sum of notatable values, longest first."""
    parts = []
    rest = value
    while rest > 0:
        for candidate in sorted(TYPE_NAMES, reverse=True):
            for dots in (2, 1, 0):
                piece = candidate * (2 - Fraction(1, 2 ** dots))
                if piece <= rest and notated_value(piece):
                    break
            else:
                continue
            parts.append(piece)
            rest -= piece
            break
        else:
            raise NotationError(f"cannot notate a length of {value} whole notes")
    return parts
