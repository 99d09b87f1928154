"""Notation rendered by verovio, shown with Qt's SVG renderer; new bars drawn in colour.

Qt's renderer implements SVG Tiny 1.2, which has no nested <svg>, no CSS and no nested
<tspan>; `qt_friendly_svg` rewrites verovio's output into that subset.
"""
from __future__ import annotations

import re
from typing import Iterable

from PyQt6.QtCore import QByteArray, Qt
from PyQt6.QtSvgWidgets import QSvgWidget
from PyQt6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

NEW_BAR_COLOUR = "#c0392b"
RANGE_COLOUR = "#1f6fb2"   # the measure range chosen for the next job
_VEROVIO_OPTIONS = {"scale": 35, "pageWidth": 2100, "pageHeight": 60000, "adjustPageHeight": True,
                    "breaks": "auto", "adjustPageWidth": True, "header": "none", "footer": "none", "pageMarginTop": 40,
                    "pageMarginBottom": 40, "pageMarginLeft": 40, "pageMarginRight": 40}


def render_musicxml(musicxml: bytes | str, marked: Iterable[int] = (), colour: str = NEW_BAR_COLOUR,
                    staves: Iterable[int] | None = None) -> list[str]:
    """MusicXML -> one Qt-friendly SVG per page; measures at the given positions (0 = the first
    measure in the file) are coloured, only their staves at positions `staves` when given."""
    import verovio

    toolkit = verovio.toolkit()
    toolkit.setOptions(_VEROVIO_OPTIONS)
    text = musicxml.decode("utf-8") if isinstance(musicxml, bytes) else musicxml
    if not toolkit.loadData(text):
        raise ValueError("verovio could not read the MusicXML")
    marked = set(marked)
    staff_set = set(staves) if staves is not None else None
    pages, position = [], 0
    for page in range(1, toolkit.getPageCount() + 1):
        svg, position = mark_measures(qt_friendly_svg(toolkit.renderToSVG(page)), marked, position, colour, staff_set)
        pages.append(svg)
    return pages


def render_excerpt(excerpt: dict, marked_indices: Iterable[int] = (), colour: str = NEW_BAR_COLOUR,
                   staves: Iterable[int] | None = None) -> list[str]:
    """An excerpt JSON -> SVG pages; measures whose `index` is in marked_indices are coloured
    (only the staves with these excerpt staff indices, when given)."""
    from notabridge.notation import excerpt_to_musicxml

    wanted = set(marked_indices)
    positions = [i for i, m in enumerate(excerpt["measures"]) if m["index"] in wanted]
    staff_positions = None
    if staves is not None:
        order = sorted(s["index"] for s in excerpt["staves"])
        staff_positions = [order.index(s) for s in staves if s in order]
    return render_musicxml(excerpt_to_musicxml(excerpt), positions, colour, staff_positions)


def qt_friendly_svg(svg: str) -> str:
    svg = re.sub(r"<style.*?</style>", "", svg, flags=re.S)
    # verovio's CSS hides these markers; without CSS, drop them
    svg = re.sub(r'<g [^>]*class="[^"]*\bplaceholder\b[^"]*"[^>]*/>', "", svg)
    svg = re.sub(r'<g [^>]*class="[^"]*\bplaceholder\b[^"]*"[^>/]*>\s*<ellipse[^>]*/>\s*</g>', "", svg)
    inner = re.search(r'<svg class="definition-scale"[^>]*viewBox="([^"]+)"[^>]*>', svg)
    if inner:
        svg = svg[:inner.start()] + '<g fill="black" stroke="black">' + svg[inner.end():]
        last = svg.rfind("</svg>")
        inner_end = svg.rfind("</svg>", 0, last)
        if inner_end >= 0:
            svg = svg[:inner_end] + "</g>" + svg[inner_end + len("</svg>"):]
        svg = svg.replace("<svg ", f'<svg viewBox="{inner.group(1)}" ', 1)
    svg = re.sub(r"<text[^>]*/>", "", svg)   # empty text elements (Qt warns about their size)
    return re.sub(r"<text([^>]*)>(.*?)</text>", _flatten_text, svg, flags=re.S)


def _flatten_text(match: re.Match) -> str:
    attrs, body = match.group(1), match.group(2)
    size = re.search(r'font-size="([\d.]+)(?:px)?"', body)
    content = re.sub(r"<[^>]+>", "", body).strip()
    attrs = re.sub(r'font-size="[^"]*"', "", attrs)
    if size:
        attrs += f' font-size="{size.group(1)}"'
    return f"<text{attrs}>{content}</text>"


def mark_measures(svg: str, marked: set[int], first_position: int, colour: str = NEW_BAR_COLOUR,
                  staves: set[int] | None = None) -> tuple[str, int]:
    """Colour the measures at `marked` positions (whole measures, or only the staves at the
    positions in `staves`); returns the SVG and the position after this page's last measure."""
    position = first_position - 1
    staff = 0
    paint = f' fill="{colour}" stroke="{colour}" data-marked="{colour}">'

    def visit(match: re.Match) -> str:
        nonlocal position, staff
        tag = match.group(0)
        if match.group(1) == "measure":
            position, staff = position + 1, 0
            return tag[:-1] + paint if position in marked and staves is None else tag
        staff += 1
        return tag[:-1] + paint if position in marked and staves is not None and staff - 1 in staves else tag

    return re.sub(r'<g id="[^"]*" class="(measure|staff)">', visit, svg), position + 1


class ScoreView(QScrollArea):
    """Scrollable pages of notation, or a line of text when there is nothing to show."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumHeight(120)
        self.pages: list[str] = []
        self.show_text(placeholder)

    def show_text(self, text: str) -> None:
        self.pages = []
        label = QLabel(text)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        self.setWidget(label)

    def show_pages(self, pages: list[str]) -> None:
        self.pages = list(pages)
        holder = QWidget()
        holder.setStyleSheet("background: white")
        layout = QVBoxLayout(holder)
        for svg in pages:
            widget = QSvgWidget()
            widget.load(QByteArray(svg.encode("utf-8")))
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.setWidget(holder)
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Pages shrink to the view's width (never grow past their natural size), aspect kept."""
        room = max(100, self.viewport().width() - 24)
        for widget in self.svg_widgets():
            size = widget.renderer().defaultSize()
            if size.width() <= 0:
                continue
            scale = min(1.0, room / size.width())
            widget.setFixedSize(int(size.width() * scale), int(size.height() * scale))

    def svg_widgets(self) -> list[QSvgWidget]:
        holder = self.widget()
        return holder.findChildren(QSvgWidget) if holder is not None else []
