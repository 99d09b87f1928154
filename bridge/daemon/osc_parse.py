"""OSC packets read by our own bounded parser (python-osc's parser can loop forever on a bundle
element with a negative size; see docs/osc.md, "A python-osc parser hang").

Every step moves forward through the packet by at least one byte of a bounded type tag or four
bytes of data, bundles nest at most LIMITS["osc_bundle_depth"] deep and a packet yields at most
LIMITS["osc_messages_per_packet"] messages, so the work per packet is linear in its size and
capped. Anything outside OSC 1.0 (plus the common 1.1 types) is refused with OscParseError.
"""
from __future__ import annotations

import struct
from typing import Any

from notabridge.limits import LIMITS

_BUNDLE = b"#bundle\x00"
_FIXED = {"i": (">i", 4), "h": (">q", 8), "f": (">f", 4), "d": (">d", 8), "r": (">I", 4), "t": (">Q", 8)}
_CONSTANTS = {"T": True, "F": False, "N": None}


class OscParseError(ValueError):
    """A packet that is not well-formed OSC (or exceeds a limit); it is dropped."""


def parse_packet(data: bytes) -> list[tuple[str, list]]:
    """The (address, arguments) of every message in a packet (a message or a bundle), in order."""
    if len(data) > LIMITS["max_body_bytes"]:   # UDP stops at 64 KiB; a TCP frame at this
        raise OscParseError(f"packet of {len(data)} bytes exceeds {LIMITS['max_body_bytes']}")
    out: list[tuple[str, list]] = []
    _element(bytes(data), 0, len(data), 0, out)
    return out


def _element(data: bytes, start: int, end: int, depth: int, out: list) -> None:
    # every element is read in place, as data[start:end]: nothing is copied per level
    if end <= start or (end - start) % 4:
        raise OscParseError(f"an OSC packet is a non-empty multiple of 4 bytes, not {end - start}")
    if data.startswith(_BUNDLE, start, end):
        _bundle(data, start, end, depth, out)
    elif data[start] == ord("/"):
        if len(out) >= LIMITS["osc_messages_per_packet"]:
            raise OscParseError(f"more than {LIMITS['osc_messages_per_packet']} messages in one packet")
        out.append(_message(data, start, end))
    else:
        raise OscParseError("neither a message (starts with '/') nor a bundle (starts with '#bundle')")


def _bundle(data: bytes, start: int, end: int, depth: int, out: list) -> None:
    if depth >= LIMITS["osc_bundle_depth"]:
        raise OscParseError(f"bundles nested more than {LIMITS['osc_bundle_depth']} deep")
    if end - start < 16:
        raise OscParseError("a bundle needs its 8-byte time tag")
    index = start + 16
    while index < end:
        if index + 4 > end:
            raise OscParseError("a bundle element size is cut off")
        (size,) = struct.unpack_from(">i", data, index)
        index += 4
        # python-osc trusts this size: a negative one walks its index backwards for ever
        if size <= 0 or size % 4 or index + size > end:
            raise OscParseError(f"bundle element size {size} is not a positive multiple of 4 within the packet")
        _element(data, index, index + size, depth + 1, out)
        index += size


def _string(data: bytes, index: int, end: int) -> tuple[str, int]:
    nul = data.find(b"\x00", index, end)
    if nul < 0:
        raise OscParseError("a string has no terminating NUL")
    try:
        text = data[index:nul].decode("utf-8")
    except UnicodeDecodeError:
        raise OscParseError("a string is not UTF-8") from None
    return text, index + ((nul - index + 4) & ~3)   # the NUL and padding to a multiple of 4


def _message(data: bytes, start: int, end: int) -> tuple[str, list]:
    address, index = _string(data, start, end)
    if len(address) > LIMITS["osc_address_chars"]:
        raise OscParseError(f"address longer than {LIMITS['osc_address_chars']} characters")
    if index > end:
        raise OscParseError("the address runs past the end of the message")
    if index == end:
        return address, []   # OSC 1.0 allows a message without a type tag string
    tags, index = _string(data, index, end)
    if not tags.startswith(","):
        raise OscParseError("the type tag string does not start with ','")
    if len(tags) - 1 > LIMITS["osc_args_per_message"]:
        raise OscParseError(f"more than {LIMITS['osc_args_per_message']} arguments")
    args: list = []
    stack = [args]
    for tag in tags[1:]:
        if tag in _FIXED:
            fmt, size = _FIXED[tag]
            if index + size > end:
                raise OscParseError(f"argument '{tag}' runs past the end of the message")
            (value,) = struct.unpack_from(fmt, data, index)
            index += size
        elif tag in "sS":
            value, index = _string(data, index, end)
        elif tag == "c":
            if index + 4 > end:
                raise OscParseError("argument 'c' runs past the end of the message")
            (code,) = struct.unpack_from(">I", data, index)
            index += 4
            if code > 0x10FFFF:
                raise OscParseError("argument 'c' is not a character")
            value = chr(code)
        elif tag == "b":
            if index + 4 > end:
                raise OscParseError("a blob size runs past the end of the message")
            (size,) = struct.unpack_from(">i", data, index)
            index += 4
            if size < 0 or index + size > end:
                raise OscParseError(f"blob size {size} is not within the message")
            value = bytes(data[index:index + size])
            index += (size + 3) & ~3
        elif tag == "m":
            if index + 4 > end:
                raise OscParseError("argument 'm' runs past the end of the message")
            value = tuple(data[index:index + 4])
            index += 4
        elif tag in _CONSTANTS:
            value = _CONSTANTS[tag]
        elif tag == "[":
            if len(stack) > LIMITS["osc_array_depth"]:
                raise OscParseError(f"arrays nested more than {LIMITS['osc_array_depth']} deep")
            inner: list = []
            stack[-1].append(inner)
            stack.append(inner)
            continue
        elif tag == "]":
            if len(stack) < 2:
                raise OscParseError("']' without '[' in the type tags")
            stack.pop()
            continue
        else:
            raise OscParseError(f"unsupported OSC type tag {tag!r}")
        stack[-1].append(value)
    if len(stack) != 1:
        raise OscParseError("'[' without ']' in the type tags")
    if index != end:
        raise OscParseError("the arguments do not fill the message exactly")
    return address, args
