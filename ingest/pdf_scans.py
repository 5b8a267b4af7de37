"""The parts of a PDF only OCR can read: pages without a text layer (scans), and figures on pages that have one
(a form, a table or a page of a manual pasted in as an image, as the Federal Register prints them).

Each part is drawn with pypdfium2 at ``ocr.dpi`` and read by ``ingest.ocr``; line boxes come back as fractions
of the whole page, so a figure's lines are highlighted where they are on the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.ocr import MAX_PIXELS, Ocr, OcrPage
from rag.core.types import LineBox

# a page with less text than this but an image on it is a scan (a stamp or a page number aside)
SCANNED_CHARS = 20
# an image covering this share of a page that has text is a figure whose text is read too; smaller ones are logos,
# rules and icons
FIGURE_SHARE = 0.05
FIGURE_MIN_PX = 200  # nor is an image this few pixels across, whatever its size on the page
# a figure read with less mean confidence than this is a photograph or a drawing: what OCR makes of it is noise
FIGURE_CONFIDENCE = 0.6

Box = tuple[float, float, float, float]  # left, top, right, bottom as fractions of the page, from its top left


@dataclass(frozen=True)
class Region:
    page: int  # 0-based
    box: Box
    figure: bool  # a figure on a page with text, rather than the whole of a scanned page


@dataclass(frozen=True)
class Read:
    """What OCR read of a PDF, by 0-based page: whole scanned pages, and the figures of pages with text (their
    text joined, to follow the page's own; see ``with_figures``)."""

    pages: dict[int, OcrPage]
    figures: dict[int, OcrPage]


def regions(path: Path, pages: tuple[str, ...]) -> list[Region]:
    """The scanned pages and the figures of ``path`` (whose text layer per page is ``pages``)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(str(path))
    found = []
    try:
        for i, text in enumerate(pages):
            page = pdf[i]
            width, height = (max(1.0, side) for side in page.get_size())
            images = list(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3))
            if not images:
                continue
            if len(text.strip()) < SCANNED_CHARS:
                found.append(Region(i, (0.0, 0.0, 1.0, 1.0), False))
                continue
            for image in images:
                left, bottom, right, top = image.get_bounds()
                box = (max(0.0, left / width), max(0.0, 1 - top / height), min(1.0, right / width), min(1.0, 1 - bottom / height))
                share = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
                if share >= FIGURE_SHARE and min(image.get_px_size()) >= FIGURE_MIN_PX:
                    found.append(Region(i, box, True))
    finally:
        pdf.close()
    return found


def read_regions(path: Path, found: list[Region], ocr: Ocr) -> Read:
    """Each region drawn at ``ocr.dpi`` (less for a page so large it would pass ``MAX_PIXELS``) and read."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))

    def images() -> Iterator:  # one page drawn at a time, so memory holds one page image
        drawn, image = -1, None
        for region in found:
            if region.page != drawn:
                page = pdf[region.page]
                width, height = page.get_size()  # points
                scale = min(ocr.dpi / 72, (MAX_PIXELS / max(1.0, width * height)) ** 0.5)
                drawn, image = region.page, page.render(scale=scale).to_pil()
            x0, y0, x1, y1 = region.box
            yield image.crop((int(x0 * image.width), int(y0 * image.height), int(x1 * image.width), int(y1 * image.height)))

    try:
        read = ocr.read_all(images(), len(found))
    finally:
        pdf.close()
    pages = {r.page: page for r, page in zip(found, read) if not r.figure}
    figures: dict[int, list[OcrPage]] = {}
    for region, page in zip(found, read):
        if region.figure and page.text.strip() and page.confidence >= FIGURE_CONFIDENCE:
            figures.setdefault(region.page, []).append(_on_page(page, region.box))
    return Read(pages, {i: _joined(parts) for i, parts in figures.items()})


def _on_page(read: OcrPage, box: Box) -> OcrPage:
    """A figure's reading with its line boxes as fractions of the page rather than of the figure."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return OcrPage(read.text, tuple(LineBox(b.start, b.end, x0 + b.x0 * w, y0 + b.y0 * h, x0 + b.x1 * w, y0 + b.y1 * h)
                                    for b in read.lines), read.confidence)


def _joined(parts: list[OcrPage]) -> OcrPage:
    """The figures of one page as one text, a blank line between them."""
    text, lines = "", []
    for part in parts:
        at = len(text) + (2 if text else 0)
        text = f"{text}\n\n{part.text}" if text else part.text
        lines += [LineBox(b.start + at, b.end + at, b.x0, b.y0, b.x1, b.y1) for b in part.lines]
    confidence = sum(p.confidence * len(p.text) for p in parts) / max(1, sum(len(p.text) for p in parts))
    return OcrPage(text, tuple(lines), round(confidence, 3))


def with_figures(text: str, figures: OcrPage) -> OcrPage:
    """A page's own text followed by its figures' text, with the figures' lines where they now are."""
    at = len(text) + 2
    lines = tuple(LineBox(b.start + at, b.end + at, b.x0, b.y0, b.x1, b.y1) for b in figures.lines)
    return OcrPage(f"{text}\n\n{figures.text}", lines, figures.confidence)
