"""PDF pieces for every report (ReportLab platypus): the page furniture (the protective marking
on every page, page numbers, when and for whom it was generated), a title page, tables split
into page-sized pieces (a table of thousands of rows is laid out piece by piece, never as one),
and bar charts (reportlab.graphics).

A story may be a generator: `write` takes its flowables a window at a time as the pages are laid
out, and `table` makes each piece when it is reached, so a report of thousands of pages holds
only the flowables near the page being laid out, never the whole story.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

MARKING = "OFFICIAL-SENSITIVE"
PAGE = landscape(A4)
MARGIN = 15 * mm
WIDTH = PAGE[0] - 2 * MARGIN
ROWS_PER_PIECE = 40
WINDOW = 100  # flowables of a story made ahead of the one being laid out (`write`)
CELL_FONT, CELL_SIZE, CELL_PADDING = "Helvetica", 7.5, 3

_styles = getSampleStyleSheet()
TITLE = ParagraphStyle("ReportTitle", parent=_styles["Title"], fontSize=24, leading=30)
H1 = ParagraphStyle("ReportH1", parent=_styles["Heading1"], fontSize=16, leading=20)
H2 = ParagraphStyle("ReportH2", parent=_styles["Heading2"], fontSize=12, leading=15)
BODY = ParagraphStyle("ReportBody", parent=_styles["BodyText"], fontSize=9, leading=12)
SMALL = ParagraphStyle("ReportSmall", parent=BODY, fontSize=7.5, leading=9.5)
COLOURS = [colors.HexColor(c) for c in ("#1d70b8", "#00703c", "#f47738", "#d4351c", "#4c2c92")]


@dataclass(frozen=True)
class Meta:
    title: str
    subtitle: str  # the period, or the family
    agency: str
    requested_by: str
    generated_at: datetime
    lines: tuple[str, ...] = ()  # more about what the report covers, on the title page


class Text(str):
    """A table cell of record text (`text`)."""


def text(value) -> Text:
    """A table cell of record text that wraps when it does not fit its column: `table` draws it
    as it is when it fits on one line, else as a Paragraph (escaped: record text is never
    markup). Laying out a Paragraph costs many times a line of text, and most cells fit."""
    return Text("" if value is None else str(value))


def _cell(value, width: float | None):
    if not isinstance(value, Text):
        return value
    if (
        width is not None
        and value.isprintable()  # no line breaks, tabs or control characters
        and stringWidth(value, CELL_FONT, CELL_SIZE) <= width - 2 * CELL_PADDING
    ):
        return str(value)
    return Paragraph(escape(value), SMALL)


def para(value: str, style=BODY) -> Paragraph:
    return Paragraph(escape(value), style)


def heading(value: str, level: int = 1) -> Paragraph:
    return Paragraph(escape(value), H1 if level == 1 else H2)


def table(header: list[str], rows: Iterable, widths: list[float] | None = None) -> Iterator:
    """Header and rows as tables of at most ROWS_PER_PIECE rows, each repeating the header; each
    piece is made when it is asked for (`rows` may be a generator)."""
    rows = iter(rows)
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
            ("FONT", (0, 1), (-1, -1), CELL_FONT, CELL_SIZE),
            ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#b1b4b6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
    )
    cell_widths = widths or itertools.repeat(None)
    empty = True
    while piece := list(itertools.islice(rows, ROWS_PER_PIECE)):
        empty = False
        body = [header] + [
            [_cell(v, w) for v, w in zip(row, cell_widths, strict=False)] for row in piece
        ]
        yield Table(body, colWidths=widths, repeatRows=1, style=style, hAlign="LEFT")
    if empty:
        yield para("None.")


def bar_chart(
    title: str, categories: list[str], series: list[tuple[str, list[int]]], height=70 * mm
) -> KeepTogether:
    """A bar chart of one or more series over the categories, with a legend."""
    drawing = Drawing(WIDTH, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 40, 30
    chart.width, chart.height = WIDTH - 220, height - 45
    chart.data = [values or [0] for _, values in series]
    chart.categoryAxis.categoryNames = [c[:18] for c in categories] or [""]
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 30 if len(categories) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(categories) > 6 else "n"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    top = max((max(values) for _, values in series if values), default=0)
    chart.valueAxis.valueMax = max(top, 1) * 1.1
    for i in range(len(series)):
        chart.bars[i].fillColor = COLOURS[i % len(COLOURS)]
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = WIDTH - 160, height - 20
    legend.fontSize = 7
    legend.colorNamePairs = [
        (COLOURS[i % len(COLOURS)], name) for i, (name, _) in enumerate(series)
    ]
    drawing.add(legend)
    return KeepTogether([heading(title, 2), drawing])


def _furniture(meta: Meta):
    generated = f"Generated {meta.generated_at:%d %B %Y %H:%M %Z} for {meta.requested_by}"

    def draw(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 9)
        canvas.setFillColor(colors.HexColor("#d4351c"))
        canvas.drawCentredString(PAGE[0] / 2, PAGE[1] - 9 * mm, MARKING)
        canvas.drawCentredString(PAGE[0] / 2, 6 * mm, MARKING)
        canvas.setFillColor(colors.black)
        canvas.setFont("Helvetica", 7)
        canvas.drawString(MARGIN, 10 * mm, f"{meta.title}: {meta.subtitle}"[:140])
        canvas.drawString(MARGIN, 6 * mm, generated)
        canvas.drawRightString(PAGE[0] - MARGIN, 6 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def title_page(meta: Meta) -> list:
    story = [
        Spacer(1, 30 * mm),
        para(MARKING, ParagraphStyle("Marking", parent=H2, textColor=colors.HexColor("#d4351c"))),
        Paragraph(escape(meta.title), TITLE),
        para(meta.subtitle, H1),
        para(meta.agency, H2),
        Spacer(1, 8 * mm),
        *[para(line) for line in meta.lines],
        Spacer(1, 8 * mm),
        para(f"Generated on {meta.generated_at:%d %B %Y at %H:%M %Z}"),
        para(f"Requested by {meta.requested_by}"),
        PageBreak(),
    ]
    return story


class _Document(SimpleDocTemplate):
    """Takes its story from an iterator, WINDOW flowables ahead of the one being laid out:
    `filterFlowables`, ReportLab's hook before each flowable is handled, tops the list up. The
    flowables laid out are dropped from the list, so they are freed as the pages are written."""

    _story: Iterator | None = None
    _flowables: list | None = None

    def build_from(self, story: Iterable, **kwargs) -> None:
        self._story = iter(story)
        self._flowables = []
        self._top_up(self._flowables)
        self.build(self._flowables, **kwargs)

    def filterFlowables(self, flowables) -> None:
        if flowables is self._flowables:  # not the page's own (`_hanging`) list
            self._top_up(flowables)

    def _top_up(self, flowables: list) -> None:
        wanted = WINDOW - len(flowables)
        if self._story is None or wanted <= 0:
            return
        more = list(itertools.islice(self._story, wanted))
        flowables.extend(more)
        if len(more) < wanted:
            self._story = None  # the story has ended


def write(out, meta: Meta, story: Iterable) -> None:
    """The PDF of `story` (a list or a generator of flowables) after a title page, into the
    binary file `out`."""
    doc = _Document(
        out,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=14 * mm,
        bottomMargin=16 * mm,
        title=meta.title,
        author="Team Around",
        subject=meta.subtitle,
    )
    furniture = _furniture(meta)
    doc.build_from(
        itertools.chain(title_page(meta), story), onFirstPage=furniture, onLaterPages=furniture
    )
