"""Certificates of attendance as PDF (fpdf2).

A Unicode TrueType font is embedded when one is found (`CERTIFICATE_FONT`, DejaVu Sans
on Debian by default), so names in any Latin, Greek or Cyrillic script print as given;
without it the PDF core font is used and characters it lacks become '?', rather than a
certificate refused. DejaVu has no Chinese, Japanese or Korean glyphs: list a font that
has them in `CERTIFICATE_FALLBACK_FONTS` (e.g. Debian's fonts-ipafont or fonts-noto-cjk)
and fpdf2 takes each missing character from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from fpdf import FPDF

from services.events.models import Training, TrainingRegistration

_FAMILY = "certificate"


def _dates(training: Training) -> str:
    days = sorted({date.fromisoformat(s["date"]) for s in training.sessions})
    if len(days) == 1:
        return days[0].strftime("%d %B %Y")
    return f"{days[0].strftime('%d %B %Y')} to {days[-1].strftime('%d %B %Y')}"


def _hours(training: Training) -> float:
    total = 0
    for s in training.sessions:
        sh, sm = (int(x) for x in s["start"].split(":")[:2])
        eh, em = (int(x) for x in s["end"].split(":")[:2])
        total += (eh * 60 + em) - (sh * 60 + sm)
    return round(total / 60, 1)


def certificate_pdf(
    training: Training,
    registration: TrainingRegistration,
    organiser: str,
    font: str | None,
    fallbacks: Sequence[str] = (),
) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(f"Certificate of attendance - {training.title}")
    pdf.set_author("Clusterbridge")
    if font and Path(font).is_file():
        pdf.add_font(_FAMILY, "", font)
        family, core = _FAMILY, False
        extra = [f"{_FAMILY}-{n}" for n, path in enumerate(fallbacks) if Path(path).is_file()]
        for name, path in zip(extra, (p for p in fallbacks if Path(p).is_file()), strict=True):
            pdf.add_font(name, "", path)
        if extra:
            pdf.set_fallback_fonts(extra)
    else:
        family, core = "helvetica", True

    def text(value: str) -> str:
        return value.encode("latin-1", "replace").decode("latin-1") if core else value

    pdf.add_page()
    pdf.set_draw_color(40, 70, 120)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_y(40)
    pdf.set_font(family, size=30)
    pdf.cell(0, 16, text("Certificate of attendance"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font(family, size=14)
    pdf.cell(0, 10, text("This certifies that"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=26)
    pdf.cell(0, 16, text(registration.name), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=14)
    pdf.cell(0, 10, text("attended the training"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=20)
    pdf.multi_cell(0, 12, text(training.title), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=12)
    where = "online" if training.online else (training.venue or "")
    pdf.cell(
        0,
        10,
        text(f"{_dates(training)} - {_hours(training)} hours - {where}"),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(10)
    pdf.cell(0, 8, text(f"Organised by {organiser}"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=8)
    pdf.set_y(-28)
    pdf.cell(
        0,
        6,
        text(f"Certificate {registration.id} - training {training.id}"),
        align="C",
    )
    return bytes(pdf.output())
