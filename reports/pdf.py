"""PDF pieces for every report (ReportLab platypus): the page furniture (the protective marking
on every page, page numbers, when and for whom it was generated), a title page, tables split
into page-sized pieces (a table of thousands of rows is laid out piece by piece, never as one),
and bar charts (reportlab.graphics)."""

from __future__ import annotations

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


def text(value) -> Paragraph:
    """A table cell or line of text that wraps (escaped: record text is never markup)."""
    return Paragraph(escape("" if value is None else str(value)), SMALL)


def para(value: str, style=BODY) -> Paragraph:
    return Paragraph(escape(value), style)


def heading(value: str, level: int = 1) -> Paragraph:
    return Paragraph(escape(value), H1 if level == 1 else H2)


def table(header: list[str], rows, widths: list[float] | None = None) -> list:
    """Header and rows as tables of at most ROWS_PER_PIECE rows, each repeating the header."""
    rows = list(rows)
    if not rows:
        return [para("None.")]
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
            ("FONT", (0, 1), (-1, -1), "Helvetica", 7.5),
            ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#b1b4b6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
    )
    pieces = []
    for at in range(0, len(rows), ROWS_PER_PIECE):
        body = [header, *rows[at : at + ROWS_PER_PIECE]]
        pieces.append(Table(body, colWidths=widths, repeatRows=1, style=style, hAlign="LEFT"))
    return pieces


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


def write(out, meta: Meta, story: list) -> None:
    """The PDF of `story` after a title page, into the binary file `out`."""
    doc = SimpleDocTemplate(
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
    doc.build(title_page(meta) + story, onFirstPage=furniture, onLaterPages=furniture)
