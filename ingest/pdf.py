"""PDFs: text per page with pypdf, running heads and footers removed, numbered headings found, ruled tables
rewritten as rows that name their columns (pdfplumber's table finder, on pages that draw rules)."""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

from ingest.document import Document, Heading, ScannedPage, first_line_title, located_lines, normalise
from ingest.ocr import Ocr
from ingest.pdf_scans import Read, read_regions, regions, with_figures
from ingest.pdf_tables import with_table_rows
from ingest.tables import ROW_BREAK, leader_tables_as_rows
from rag.core.errors import IngestError

log = logging.getLogger(__name__)


# dot leaders between the cells of a table drawn without rules ("AFM revisions ...... $0 ...... $85"): cell breaks
_LEADERS = re.compile(r"[ \t]\.{2,}(?:[ \t]+|$)", re.M)
_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+){0,3})\.?\s+([A-Z][^.!?:]{1,80})$")


def pdf_headings(page_no: int, text: str) -> list[Heading]:
    """Numbered lines like ``2.1 Storage limits`` are headings; their depth is the number's depth."""
    headings = []
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        m = _NUMBERED_HEADING.match(stripped)
        if m and len(stripped.split()) <= 12 and not stripped.endswith(","):
            headings.append(Heading(page_no, offset + line.index(stripped[0]), m.group(1).count(".") + 1, stripped))
        offset += len(line)
    return headings


_PAGE_NUMBERING = re.compile(r"\d+|\b[IVXLCDM]+\b")


def _running_key(line: str) -> str:
    """A line with its numbers blanked: "Page 3 of 9" and "Page 4 of 9" are the same running line."""
    return " ".join(_PAGE_NUMBERING.sub("#", line).split()).lower()


def _edge_lines(text: str, edge: int) -> list[str]:
    """The first and last ``edge`` lines, less numbered headings ("3 Results" opening each page is no running head)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return [line for line in lines[:edge] + lines[-edge:] if not _NUMBERED_HEADING.match(line.strip())]


def strip_running_lines(pages: tuple[str, ...], edge: int = 2, share: float = 0.4, min_pages: int = 3) -> tuple[str, ...]:
    """Pages without the running heads, footers and page numbers printed on most of them.

    Left in, such a line becomes a chunk of its own wherever a heading follows it, matches every query that
    names the document, and is what small models echo instead of answering. Only the first and last ``edge``
    lines of a page are candidates, and only when their number-blind form recurs there on ``share`` of the
    pages (and at least ``min_pages``), so body text repeated by chance stays.
    """
    if len(pages) < min_pages:
        return pages
    seen = Counter(key for text in pages for key in {_running_key(line) for line in _edge_lines(text, edge)})
    running = {key for key, n in seen.items() if n >= max(min_pages, share * len(pages))}
    return tuple(_without_running(text, running, edge) for text in pages) if running else pages


def _without_running(text: str, running: set[str], edge: int) -> str:
    lines = text.splitlines(keepends=True)
    content = [i for i, line in enumerate(lines) if line.strip()]
    drop: set[int] = set()
    for order in (content, content[::-1]):  # from the top, then from the bottom, stopping at the first body line
        for i in order[:edge]:
            if _running_key(lines[i]) not in running:
                break
            drop.add(i)
    return "".join(line for i, line in enumerate(lines) if i not in drop).strip("\n")


_BROKEN = re.compile(r"\b([A-Za-z]{2,})-[ \t]*\n[ \t]*([a-z]{2,})\b")  # "Massa-\nchusetts"
_HYPHENATED = re.compile(r"\b([A-Za-z]{2,})-([a-z]{2,})\b")


def joined_hyphens(pages: tuple[str, ...]) -> tuple[str, ...]:
    """Words that typesetting broke at a line end made whole again ("Massa-\nchusetts" -> "Massachusetts"), so
    that they can be searched and quoted. A compound the document also writes with its hyphen inside a line
    ("FAA-approved", "self-governing") keeps it, and so does a left part in capitals."""
    text = "\n".join(pages)
    compounds = {m.group(0).lower() for m in _HYPHENATED.finditer(text)}
    words = set(re.findall(r"[a-z]+", text.lower()))

    def join(m: re.Match) -> str:
        left, right = m.group(1), m.group(2)
        whole = f"{left}{right}"
        keep = (f"{left}-{right}".lower() in compounds and whole.lower() not in words) or left.isupper()
        return f"{left}-{right}" if keep else whole

    return tuple(_BROKEN.sub(join, page) for page in pages)


def _without_line_numbers(text: str) -> str:
    """A transcript's margin numbers (1, 2, ... 25 on lines of their own) are not text."""
    lines = text.split("\n")
    numbered = [i for i, line in enumerate(lines) if line.strip().isdigit()]
    run = [i for k, i in enumerate(numbered, 1) if lines[i].strip() == str(k)]
    if len(run) >= 10 and run == list(range(run[0], run[0] + len(run))):
        lines = [line for i, line in enumerate(lines) if i not in set(run)]
    return "\n".join(lines)


def load_pdf(path: Path, source: str, ocr: Ocr | None = None) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported crypto
                raise IngestError(source, f"encrypted PDF that cannot be opened ({exc})") from None
            if not ok:
                raise IngestError(source, "encrypted PDF: a password is required")
        raw_pages = tuple(normalise(page.extract_text() or "") for page in reader.pages)
        raw_pages = with_table_rows(path, reader, raw_pages)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IngestError(source, f"corrupt or truncated PDF ({exc})") from None
    if not raw_pages:
        raise IngestError(source, "PDF has no pages")
    read = _read_images(path, source, raw_pages, ocr)
    raw_pages = tuple(read.pages[i].text if i in read.pages else text for i, text in enumerate(raw_pages))
    pages = joined_hyphens(tuple(leader_tables_as_rows(_LEADERS.sub(ROW_BREAK, _without_line_numbers(text)))
                                 for text in strip_running_lines(raw_pages)))
    # a figure's text follows its page's own, cleaned as that was: the page's footer is no longer its last line
    figures = {i: with_figures(pages[i], figure) for i, figure in read.figures.items()}
    pages = tuple(figures[i].text if i in figures else text for i, text in enumerate(pages))
    headings = tuple(h for n, text in enumerate(pages, 1) for h in pdf_headings(n, text))
    # a running head often is the best title a PDF without metadata has
    title = meta_title.strip() or first_line_title("\n".join(raw_pages), path.stem)
    # a scan's lines are found again in its cleaned text; a figure's already index the page as it now is
    scanned = tuple(sorted([ScannedPage(i + 1, page.confidence, located_lines(page.lines, page.text, pages[i]))
                            for i, page in read.pages.items()]
                           + [ScannedPage(i + 1, page.confidence, page.lines) for i, page in figures.items()],
                           key=lambda p: p.page))
    return Document(source, title, pages, headings, "pdf", scanned)


def _read_images(path: Path, source: str, pages: tuple[str, ...], ocr: Ocr | None) -> Read:
    """What OCR reads of the PDF: its scanned pages and the figures of its other pages."""
    try:
        found = regions(path, pages)
    except Exception as exc:  # noqa: BLE001 - pypdfium2 raises its own PdfiumError, or worse on a broken file
        if not any(p.strip() for p in pages):
            raise IngestError(source, f"no text layer, and the pages cannot be drawn for OCR ({exc})") from None
        return Read({}, {})  # the text layer is what there is
    scanned = sum(not r.figure for r in found)
    if not any(p.strip() for p in pages) and not scanned:
        raise IngestError(source, "no text in the PDF: no text layer and no page images")
    if ocr is None:
        if not any(p.strip() for p in pages):
            raise IngestError(source, "scanned PDF (no text layer) and OCR is off (ocr.enabled = false)")
        if found:
            log.warning("%s: %d scanned page(s) and %d figure(s) left unread: OCR is off (ocr.enabled = false)", source,
                        scanned, len(found) - scanned)
        return Read({}, {})
    return read_regions(path, found, ocr) if found else Read({}, {})
