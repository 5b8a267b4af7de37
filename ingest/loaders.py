"""One loader per format: a file becomes a ``Document`` of pages with heading positions.

Loaders only read; they raise ``IngestError(path, reason)`` for anything a user must fix (encrypted, corrupt,
empty, image-only or undecodable files), so one bad file never stops a folder.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.tables import markdown_tables_as_rows, row_lines
from rag.core.errors import IngestError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heading:
    page: int  # 1-based
    char_start: int  # offset of the heading line in that page's text
    level: int
    text: str


@dataclass(frozen=True)
class Document:
    source: str  # path as shown to users (relative to the ingested root)
    title: str
    pages: tuple[str, ...]  # page texts; one page for formats without pages
    headings: tuple[Heading, ...] = ()
    format: str = "text"


def first_line_title(text: str, fallback: str) -> str:
    """A document's first non-blank line as its title, unless that line is too long to be one."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if first and len(first) <= 100 else fallback


def load(path: Path, source: str | None = None) -> Document:
    """Load ``path`` with the loader for its suffix."""
    source = source or path.name
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise IngestError(source, f"unsupported file type {path.suffix or '(none)'}")
    try:
        if path.stat().st_size == 0:
            raise IngestError(source, "empty file (0 bytes)")
        doc = loader(path, source)
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


# ---- text ---------------------------------------------------------------------------------------------------


_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _bom_encoding(data: bytes) -> str | None:
    return next((encoding for bom, encoding in _BOMS if data.startswith(bom)), None)


def _refuse_binary(sample: bytes, source: str) -> None:
    if b"\x00" in sample or _control_ratio(sample) > 0.1:
        raise IngestError(source, "file looks binary, not text")


def decode_text(data: bytes, source: str) -> str:
    """Decode bytes by BOM, then UTF-8, then Latin-1; refuse data that looks binary."""
    if encoding := _bom_encoding(data):
        return data.decode(encoding, errors="replace")
    _refuse_binary(data[:8192], source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _control_ratio(sample: bytes) -> float:
    if not sample:
        return 0.0
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(sample)


def text_encoding(sample: bytes, source: str) -> str:
    """The encoding ``decode_text`` would pick, judged from a file's first bytes (for streamed reading)."""
    if encoding := _bom_encoding(sample):
        return encoding
    _refuse_binary(sample, source)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            return "latin-1"
    return "utf-8"


STREAMABLE = (".txt", ".text", ".md", ".markdown")


def iter_text_parts(path: Path, source: str, part_chars: int = 1_000_000) -> Iterator[tuple[int, Document]]:
    """Read a large text or Markdown file in parts of about ``part_chars`` characters, cut at paragraph
    breaks, in bounded memory. Yields ``(offset, part)``: the part's first character's offset in the whole
    (normalised) text, so chunk offsets can be made file-wide. Markdown headings are found per part."""
    with path.open("rb") as f:
        sample = f.read(8192)
        if not sample:
            raise IngestError(source, "empty file (0 bytes)")
        encoding = text_encoding(sample, source)
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        f.seek(0)
        offset, buffer, title = 0, "", ""
        while True:
            block = f.read(part_chars)
            buffer += decoder.decode(block, final=not block)
            if block and buffer.endswith("\r"):  # a \r\n pair may straddle two blocks
                continue
            buffer = _normalise(buffer)
            if block and len(buffer) < part_chars:
                continue
            cut = len(buffer) if not block else _paragraph_cut(buffer)
            text, buffer = buffer[:cut], buffer[cut:]
            if text.strip():
                title = title or first_line_title(text, path.stem)
                markdown = path.suffix.lower() in (".md", ".markdown")
                headings = tuple(markdown_headings(text)) if markdown else ()
                yield offset, Document(source, title, (text,), headings, "markdown" if markdown else "text")
            offset += cut
            if not block:
                return


def _paragraph_cut(text: str) -> int:
    """Where to end a part: after the last blank line, else the last line break, else the last space."""
    for sep in ("\n\n", "\n", " "):
        at = text.rfind(sep, len(text) // 2)
        if at > 0:
            return at + len(sep)
    return len(text)


def load_text(path: Path, source: str) -> Document:
    text = _normalise(decode_text(path.read_bytes(), source))
    return Document(source, first_line_title(text, path.stem), (text,), (), "text")


# ---- markdown -----------------------------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_headings(text: str) -> list[Heading]:
    headings: list[Heading] = []
    in_fence = False
    offset = 0
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _MD_HEADING.match(line.rstrip("\n"))):
            headings.append(Heading(1, offset, len(m.group(1)), m.group(2).strip()))
        offset += len(line)
    return headings


def load_markdown(path: Path, source: str) -> Document:
    text = markdown_tables_as_rows(_normalise(decode_text(path.read_bytes(), source)))
    headings = markdown_headings(text)
    h1 = next((h.text for h in headings if h.level == 1), None)
    return Document(source, h1 or path.stem, (text,), tuple(headings), "markdown")


# ---- pdf ----------------------------------------------------------------------------------------------------

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


def load_pdf(path: Path, source: str) -> Document:
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
        raw_pages = tuple(_normalise(page.extract_text() or "") for page in reader.pages)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IngestError(source, f"corrupt or truncated PDF ({exc})") from None
    if not raw_pages:
        raise IngestError(source, "PDF has no pages")
    if not any(p.strip() for p in raw_pages):
        raise IngestError(source, "no text layer; OCR is not supported")
    pages = strip_running_lines(raw_pages)
    headings = tuple(h for n, text in enumerate(pages, 1) for h in pdf_headings(n, text))
    # a running head often is the best title a PDF without metadata has
    title = meta_title.strip() or first_line_title("\n".join(raw_pages), path.stem)
    return Document(source, title, pages, headings, "pdf")


# ---- html ---------------------------------------------------------------------------------------------------

_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "tr", "dt", "dd", "figcaption", "caption")


def load_html(path: Path, source: str) -> Document:
    from bs4 import BeautifulSoup

    raw = decode_text(path.read_bytes(), source)
    if "<" not in raw[:4096]:
        raise IngestError(source, "not an HTML file (no markup found)")
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "footer"]):
        tag.decompose()
    lines: list[str] = []
    headings: list[Heading] = []
    offset = 0
    body = soup.body or soup
    for el in body.find_all(_BLOCKS):
        if el.find_parent(_BLOCKS):  # nested block (a <p> inside <li>): its text came with the parent
            continue
        if el.name == "tr":
            text = _html_row(el)
        else:
            text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        if el.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            headings.append(Heading(1, offset, int(el.name[1]), text))
        lines.append(text)
        offset += len(text) + 2
    page = "\n\n".join(lines)
    title = (soup.title.get_text(strip=True) if soup.title else "") or next((h.text for h in headings if h.level == 1), path.stem)
    return Document(source, title, (page,), tuple(headings), "html")


def _html_row(tr) -> str:  # noqa: ANN001 - a bs4 Tag
    """A table row as a self-describing line (its table's header row names the cells); "" for the header row."""
    cells = [c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
    table = tr.find_parent("table")
    first = table.find("tr") if table is not None else None
    if first is None or first is tr:
        return ""
    header = [c.get_text(" ", strip=True) for c in first.find_all(["td", "th"])]
    return "".join(row_lines(header, [cells]))


# ---- docx ---------------------------------------------------------------------------------------------------


def load_docx(path: Path, source: str) -> Document:
    import zipfile

    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError:
        raise IngestError(source, "DOCX support needs the package python-docx") from None
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(source, f"not a valid DOCX file ({exc.__class__.__name__})") from None
    lines: list[str] = []
    headings: list[Heading] = []
    offset = 0

    def add(text: str, level: int = 0) -> None:
        nonlocal offset
        text = " ".join(text.split())
        if not text:
            return
        if level:
            headings.append(Heading(1, offset, level, text))
        lines.append(text)
        offset += len(text) + 2

    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = docx.text.paragraph.Paragraph(child, document)
            style = (para.style.name or "") if para.style is not None else ""
            last = style.split()[-1] if style else ""
            level = int(last) if style.startswith("Heading") and last.isdigit() else (1 if style == "Title" else 0)
            add(para.text, level)
        elif tag == "tbl":
            table = docx.table.Table(child, document)
            rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
            for line in row_lines(rows[0], rows[1:]) if rows else []:
                add(line)
    title = (document.core_properties.title or "").strip() or next((h.text for h in headings), path.stem)
    return Document(source, title, ("\n\n".join(lines),), tuple(headings), "docx")


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


LOADERS: dict[str, Callable[[Path, str], Document]] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".pdf": load_pdf,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
}
