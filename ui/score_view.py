"""Notation rendered by verovio, shown with Qt's SVG renderer; new bars drawn in colour.

Qt's renderer implements SVG Tiny 1.2, which has no nested <svg>, no CSS and no nested
<tspan>; `qt_friendly_svg` rewrites verovio's output into that subset.
"""
from __future__ import annotations

import re
from typing import Iterable

from PyQt6.QtCore import QByteArray, Qt, QTimer, pyqtSignal
from PyQt6.QtSvgWidgets import QSvgWidget
from PyQt6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

NEW_BAR_COLOUR = "#c0392b"
RANGE_COLOUR = "#1f6fb2"   # the measure range chosen for the next job
BASE_SCALE = 40            # verovio's scale (percent) at zoom 1: a staff space of about 7 px
ZOOM_STEPS = (0.6, 0.75, 0.9, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
_VEROVIO_OPTIONS = {"scale": 35, "pageWidth": 2100, "pageHeight": 60000, "adjustPageHeight": True,
                    "breaks": "auto", "adjustPageWidth": True, "header": "none", "footer": "none", "pageMarginTop": 40,
                    "pageMarginBottom": 40, "pageMarginLeft": 40, "pageMarginRight": 40,
                    "mnumInterval": 1}   # every measure shows its printed number


def render_musicxml(musicxml: bytes | str, marked: Iterable[int] = (), colour: str = NEW_BAR_COLOUR,
                    staves: Iterable[int] | None = None, scale: int = 35, width_px: int | None = None) -> list[str]:
    """MusicXML -> one Qt-friendly SVG per page; measures at the given positions (0 = the first
    measure in the file) are coloured, only their staves at positions `staves` when given.
    `width_px`: systems are broken to fit this width at `scale` (else a fixed wide page)."""
    import verovio

    toolkit = verovio.toolkit()
    options = dict(_VEROVIO_OPTIONS, scale=scale)
    if width_px:
        # verovio units are px * 100 / scale; its page margins come on top of the page width
        margins = options["pageMarginLeft"] + options["pageMarginRight"]
        options["pageWidth"] = max(600, int(width_px * 100 / scale) - margins - 50)
    toolkit.setOptions(options)
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
                   staves: Iterable[int] | None = None, scale: int = 35, width_px: int | None = None) -> list[str]:
    """An excerpt JSON -> SVG pages; measures whose `index` is in marked_indices are coloured
    (only the staves with these excerpt staff indices, when given)."""
    from notabridge.notation import excerpt_to_musicxml

    wanted = set(marked_indices)
    positions = [i for i, m in enumerate(excerpt["measures"]) if m["index"] in wanted]
    staff_positions = None
    if staves is not None:
        order = sorted(s["index"] for s in excerpt["staves"])
        staff_positions = [order.index(s) for s in staves if s in order]
    return render_musicxml(excerpt_to_musicxml(excerpt), positions, colour, staff_positions, scale, width_px)


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
    """Scrollable pages of notation, or a line of text when there is nothing to show.

    Given an excerpt (`show_excerpt`), the notation is laid out again for the view's width and
    zoom, so staves stay at a readable size however narrow the view: systems wrap instead of
    shrinking."""
    zoom_changed = pyqtSignal(float)

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumHeight(120)
        self.pages: list[str] = []
        self.zoom = 1.0
        self._source: tuple | None = None     # (excerpt, marked, colour, staves) to lay out again
        self._laid_out_for: tuple[int, float] | None = None
        self._relayout = QTimer(self)
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(150)
        self._relayout.timeout.connect(self._render_source)
        self.show_text(placeholder)

    def show_text(self, text: str) -> None:
        self._source = None
        self.pages = []
        label = QLabel(text)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        self.setWidget(label)

    def show_excerpt(self, excerpt: dict, marked_indices: Iterable[int] = (), colour: str = NEW_BAR_COLOUR,
                     staves: Iterable[int] | None = None) -> None:
        """Draw an excerpt (measures whose index is marked in colour) laid out for this view."""
        self._source = (excerpt, list(marked_indices), colour, None if staves is None else list(staves))
        self._render_source()

    def set_zoom(self, zoom: float) -> None:
        zoom = min(max(zoom, ZOOM_STEPS[0]), ZOOM_STEPS[-1])
        if zoom != self.zoom:
            self.zoom = zoom
            self._render_source()
            self.zoom_changed.emit(zoom)

    def zoom_in(self) -> None:
        self.set_zoom(next((z for z in ZOOM_STEPS if z > self.zoom + 1e-6), ZOOM_STEPS[-1]))

    def zoom_out(self) -> None:
        self.set_zoom(next((z for z in reversed(ZOOM_STEPS) if z < self.zoom - 1e-6), ZOOM_STEPS[0]))

    def _room(self) -> int:
        return max(100, self.viewport().width() - 24)

    def _render_source(self) -> None:
        if self._source is None:
            return
        excerpt, marked, colour, staves = self._source
        width = self._room()
        try:
            pages = render_excerpt(excerpt, marked, colour, staves=staves, scale=round(BASE_SCALE * self.zoom),
                                   width_px=width)
        except Exception as exc:  # verovio or the MusicXML writer: say why instead of crashing
            source = self._source
            self.show_text(f"cannot draw this score: {exc}")
            self._source = source
            return
        self._laid_out_for = (width, self.zoom)
        self.show_pages(pages, keep_source=True)

    def show_pages(self, pages: list[str], keep_source: bool = False) -> None:
        if not keep_source:
            self._source = None
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
        if self._source is not None and self._laid_out_for is not None \
                and abs(self._laid_out_for[0] - self._room()) > 16:
            self._relayout.start()   # lay the systems out again once the resizing settles

    def _fit(self) -> None:
        """Pages shrink to the view's width (never grow past their natural size), aspect kept."""
        room = self._room()
        for widget in self.svg_widgets():
            size = widget.renderer().defaultSize()
            if size.width() <= 0:
                continue
            scale = min(1.0, room / size.width())
            widget.setFixedSize(int(size.width() * scale), int(size.height() * scale))

    def staff_space_px(self) -> float:
        """The distance between two staff lines as drawn now, in pixels (how readable it is)."""
        widgets = self.svg_widgets()
        if not widgets or not self.pages:
            return 0.0
        match = re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+)', self.pages[0])
        if not match:
            return 0.0
        units_per_px = float(match.group(1)) / max(1, widgets[0].width())
        return 180.0 / units_per_px   # verovio draws a staff space as 180 units

    def svg_widgets(self) -> list[QSvgWidget]:
        holder = self.widget()
        return holder.findChildren(QSvgWidget) if holder is not None else []
