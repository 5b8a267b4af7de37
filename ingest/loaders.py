"""One loader per format: a file becomes a ``Document`` of pages with heading positions.

Loaders only read; they raise ``IngestError(path, reason)`` for anything a user must fix (encrypted, corrupt,
empty, image-only or undecodable files), so one bad file never stops a folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ingest.document import Document, Heading, first_line_title
from ingest.images import IMAGE_SUFFIXES, load_image
from ingest.ocr import Ocr
from ingest.office import load_docx, load_html
from ingest.pdf import load_pdf
from ingest.text import STREAMABLE, iter_text_parts, load_markdown, load_text, markdown_headings
from rag.core.errors import IngestError

__all__ = ["Document", "Heading", "STREAMABLE", "first_line_title", "iter_text_parts", "load", "load_text", "markdown_headings",
           "read_error", "supported"]

log = logging.getLogger(__name__)


def load(path: Path, source: str | None = None, ocr: Ocr | None = None) -> Document:
    """Load ``path`` with the loader for its suffix; ``ocr`` reads scanned pages and images (None: not read)."""
    source = source or path.name
    suffix = path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        raise IngestError(source, f"unsupported file type {path.suffix or '(none)'}")
    try:
        if path.stat().st_size == 0:
            raise IngestError(source, "empty file (0 bytes)")
        doc = READ_BY_OCR[suffix](path, source, ocr) if suffix in READ_BY_OCR else loader(path, source)
    except IngestError:
        raise
    except OSError as exc:
        raise IngestError(source, read_error(exc)) from None
    if not any(p.strip() for p in doc.pages):
        raise IngestError(source, "no text found in file")
    return doc


def read_error(exc: OSError) -> str:
    """What to tell a user about a file the system would not let us read."""
    if isinstance(exc, FileNotFoundError):
        return "file disappeared while reading"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot read file: {exc.strerror or exc}"


def supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


LOADERS: dict[str, Callable[[Path, str], Document]] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".pdf": load_pdf,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
    **{suffix: load_image for suffix in IMAGE_SUFFIXES},
}
# the loaders that may read pages by OCR
READ_BY_OCR: dict[str, Callable[[Path, str, Ocr | None], Document]] = {".pdf": load_pdf, **{s: load_image for s in IMAGE_SUFFIXES}}
