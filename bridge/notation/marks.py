"""Excerpt v2's note marks, barlines and staff groups <-> MusicXML <-> ABC (as xml2abc writes them).

Marks are MusicXML's notation names (the last part of xml2abc's note_ornamentation_map keys);
each has the MusicXML element it lives in and the ABC decoration xml2abc writes for it.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

# mark -> (MusicXML container under <notations>, or "" for a direct child; ABC decoration)
MARKS: dict[str, tuple[str, str]] = {
    "fermata": ("", "!fermata!"), "arpeggiate": ("", "!arpeggio!"),
    "staccato": ("articulations", "."), "accent": ("articulations", "!>!"),
    "strong-accent": ("articulations", "!^!"), "tenuto": ("articulations", "!tenuto!"),
    "staccatissimo": ("articulations", "!wedge!"), "breath-mark": ("articulations", "!breath!"),
    "trill-mark": ("ornaments", "T"), "mordent": ("ornaments", "M"), "inverted-mordent": ("ornaments", "P"),
    "turn": ("ornaments", "!turn!"), "inverted-turn": ("ornaments", "!invertedturn!"),
    "up-bow": ("technical", "u"), "down-bow": ("technical", "v"), "open-string": ("technical", "!open!"),
    "stopped": ("technical", "!plus!"), "snap-pizzicato": ("technical", "!snap!"),
    "thumb-position": ("technical", "!thumb!"),
}
# ABC decorations -> mark (xml2abc's spellings first, then common synonyms abc2xml also reads)
ABC_MARKS = {abc: mark for mark, (_, abc) in MARKS.items()}
ABC_MARKS.update({"H": "fermata", "!trill!": "trill-mark", "!accent!": "accent", "!emphasis!": "accent",
                  "!staccato!": "staccato", "!upbow!": "up-bow", "!downbow!": "down-bow", "!mordent!": "mordent",
                  "!pralltriller!": "inverted-mordent", "!uppermordent!": "inverted-mordent",
                  "!lowermordent!": "mordent", "!marcato!": "strong-accent"})

# measure barline fields: right barline kind <-> MusicXML bar-style / repeat
BARLINES = {"double": "light-light", "final": "light-heavy"}
ABC_BARLINES = {"||": "double", "|]": "final", ":|": "repeat-end", "::": "repeat-end", ":||": "repeat-end",
                ":|]": "repeat-end"}
GROUP_SYMBOLS = ("bracket", "brace", "line", "square", "none")


def note_marks(note: ET.Element) -> list[str]:
    """The marks a MusicXML note carries, in MARKS order."""
    notations = note.findall("notations")
    found = []
    for mark, (container, _) in MARKS.items():
        path = f"{container}/{mark}" if container else mark
        if any(n.find(path) is not None for n in notations):
            found.append(mark)
    return found


def marks_xml(marks: list[str]) -> str:
    """MusicXML <notations> content for marks."""
    direct = "".join(f"<{m}/>" for m in marks if MARKS.get(m, ("?",))[0] == "")
    grouped = ""
    for container in ("articulations", "ornaments", "technical"):
        inner = "".join(f"<{m}/>" for m in marks if MARKS.get(m, ("",))[0] == container)
        if inner:
            grouped += f"<{container}>{inner}</{container}>"
    return direct + grouped


def measure_barlines(measure: ET.Element) -> dict:
    """Excerpt v2 barline fields of a MusicXML measure (barline, repeat_start, volta, volta_end)."""
    out: dict = {}
    for barline in measure.findall("barline"):
        location = barline.get("location", "right")
        repeat = barline.find("repeat")
        ending = barline.find("ending")
        if location == "left":
            if repeat is not None and repeat.get("direction") == "forward":
                out["repeat_start"] = True
            if ending is not None and ending.get("type") == "start":
                out["volta"] = (ending.get("number") or "1").strip()
        elif location == "right":
            style = barline.findtext("bar-style")
            if repeat is not None and repeat.get("direction") == "backward":
                out["barline"] = "repeat-end"
            elif style in ("light-light", "light-heavy"):
                out["barline"] = {"light-light": "double", "light-heavy": "final"}[style]
            if ending is not None and ending.get("type") in ("stop", "discontinue"):
                out["volta_end"] = ending.get("type")
    return out


def barlines_xml(measure: dict, number_of_volta: str | None = None) -> tuple[str, str]:
    """(left, right) MusicXML <barline> elements for an excerpt measure's barline fields."""
    left = right = ""
    if measure.get("repeat_start") or measure.get("volta"):
        inner = (f'<ending number="{measure["volta"]}" type="start"/>' if measure.get("volta") else "") + \
            ('<repeat direction="forward"/>' if measure.get("repeat_start") else "")
        style = "<bar-style>heavy-light</bar-style>" if measure.get("repeat_start") else ""
        left = f'<barline location="left">{style}{inner}</barline>'
    kind, end = measure.get("barline"), measure.get("volta_end")
    if kind or end:
        style = {"double": "light-light", "final": "light-heavy", "repeat-end": "light-heavy"}.get(kind, "")
        inner = (f"<bar-style>{style}</bar-style>" if style else "") + \
            (f'<ending number="{number_of_volta or "1"}" type="{end}"/>' if end else "") + \
            ('<repeat direction="backward"/>' if kind == "repeat-end" else "")
        right = f'<barline location="right">{inner}</barline>'
    return left, right


# An annotation whose text unidecode empties ("^" in NotaGen's text) is written with this
# invisible character, which xml2abc keeps and unidecode removes again.
EMPTY_TEXT = "\u2060"

# measure directions (v2): xml2abc's dynamics, hairpins and text, each attached to a voice at a time
DYNAMICS = ("p", "pp", "ppp", "pppp", "f", "ff", "fff", "ffff", "mp", "mf", "sfz")
ABC_WEDGES = {"!<(!": "crescendo", "!>(!": "diminuendo", "!<)!": "stop", "!>)!": "stop",
              "!crescendo(!": "crescendo", "!diminuendo(!": "diminuendo", "!crescendo)!": "stop",
              "!diminuendo)!": "stop"}


def direction_items(direction: ET.Element) -> list[dict]:
    """What xml2abc writes for a <direction>, in its order: dynamics, hairpins, then the text."""
    items: list[dict] = []
    text, placement = "", None
    for dirtype in direction.findall("direction-type"):
        wedge = dirtype.find("wedge")
        if wedge is not None and wedge.get("type") in ("crescendo", "diminuendo", "stop"):
            items.append({"wedge": wedge.get("type"), "_number": wedge.get("number", "1")})
        words = dirtype.findall("words") or dirtype.findall("rehearsal")
        for element in words:
            placement = "below" if direction.get("placement") == "below" else "above"
            try:
                if float(element.get("default-y", "0")) < 0:
                    placement = "below"
            except ValueError:
                pass
            text += element.text or ""
        for name in DYNAMICS:
            if dirtype.find(f"dynamics/{name}") is not None:
                items.append({"dynamics": name})
    if text.strip():
        items.append({"words": text.strip(), "placement": placement or "above"})
    return items


def direction_xml(item: dict, staff: int | None) -> str:
    """One excerpt direction as a MusicXML <direction> (or <harmony>) xml2abc reads back the same way."""
    if "chord" in item:
        return harmony_xml(item["chord"], staff)
    staff_xml = f"<staff>{staff}</staff>" if staff is not None else ""
    if "dynamics" in item:
        inner, attributes = f"<dynamics><{item['dynamics']}/></dynamics>", ""
    elif "wedge" in item:
        inner, attributes = f'<wedge type="{item["wedge"]}" number="1"/>', ""
    else:
        from xml.sax.saxutils import escape

        # an annotation NotaGen's text has with nothing left in it ("^" after unidecode) stays one
        inner = f"<words>{escape(item['words']) or EMPTY_TEXT}</words>"
        attributes = ' placement="below"' if item.get("placement") == "below" else ""
    return f"<direction{attributes}><direction-type>{inner}</direction-type>{staff_xml}</direction>"


# chord symbols: MusicXML <harmony> -> the text xml2abc writes for it
_KIND_SHORT = {"major": "", "minor": "m", "augmented": "+", "diminished": "dim", "dominant": "7", "half-diminished": "m7b5"}
_KIND_TRIAD = {"major": "maj", "dominant": "", "minor": "m", "diminished": "dim", "augmented": "+", "suspended": "sus"}
_KIND_ADDED = {"second": "2", "fourth": "4", "seventh": "7", "sixth": "6", "ninth": "9", "11th": "11", "13th": "13"}
_ALTER_SIGN = {"1": "#", "0": "", "-1": "b"}


def harmony_text(harmony: ET.Element) -> str:
    """A chord symbol as xml2abc spells it: root, kind ("m7", "maj7", "sus4" at the end), added
    degrees, "/bass"."""
    root = harmony.findtext("root/root-step", "") + _ALTER_SIGN.get(harmony.findtext("root/root-alter"), "")
    kind, sus = harmony.findtext("kind", ""), ""
    if kind in _KIND_SHORT:
        kind = _KIND_SHORT[kind]
    elif "-" in kind:
        triad, added = kind.split("-", 1)
        kind = _KIND_TRIAD.get(triad, "") + _KIND_ADDED.get(added, "")
        if kind.startswith("sus"):
            kind, sus = "", kind
    elif kind == "none":
        kind = harmony.find("kind").get("text", "")
    for degree in harmony.findall("degree"):
        kind += _ALTER_SIGN.get(degree.findtext("degree-alter"), "") + degree.findtext("degree-value", "")
    kind = kind.replace("79", "9").replace("713", "13").replace("maj6", "6")
    bass = harmony.findtext("bass/bass-step", "") + _ALTER_SIGN.get(harmony.findtext("bass/bass-alter"), "")
    return root + kind + sus + ("/" + bass if bass else "")


def harmony_xml(text: str, staff: int | None) -> str:
    """A chord symbol text as a MusicXML <harmony> xml2abc writes back as the same text: the
    root, then the rest as the kind's text."""
    from xml.sax.saxutils import quoteattr

    staff_xml = f"<staff>{staff}</staff>" if staff is not None else ""
    step, alter, rest = text[:1], 0, text[1:]
    if step in "ABCDEFG" and step:
        if rest[:1] in ("#", "b"):
            alter, rest = (1 if rest[0] == "#" else -1), rest[1:]
        root = f"<root><root-step>{step}</root-step>" + (f"<root-alter>{alter}</root-alter>" if alter else "") + "</root>"
    else:
        root, rest = "", text
    return f"<harmony>{root}<kind text={quoteattr(rest)}>none</kind>{staff_xml}</harmony>"
