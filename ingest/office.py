"""HTML and DOCX: block elements become lines, headings are kept, table rows name their columns."""

from __future__ import annotations

from pathlib import Path

from ingest.document import Document, Heading
from ingest.tables import row_lines
from ingest.text import decode_text
from rag.core.errors import IngestError

_NAVIGATION = {"toc", "navheader", "navfooter", "breadcrumb", "breadcrumbs", "navbar", "sidebar", "skip-link"}
_ASIDES = {"note", "warning", "tip", "caution", "important", "admonition"}
_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "tr", "dt", "dd", "figcaption", "caption")


def load_html(path: Path, source: str) -> Document:
    from bs4 import BeautifulSoup

    raw = decode_text(path.read_bytes(), source)
    if "<" not in raw[:4096]:
        raise IngestError(source, "not an HTML file (no markup found)")
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "footer"]):
        tag.decompose()
    # a page's own table of contents and its prev/next bars are navigation, not text: kept, they open the chunk
    # that follows them and pull it towards every question about the page
    for tag in soup.find_all(lambda t: _classes(t) & _NAVIGATION or t.get("role") == "navigation"):
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
        # the "Note" title of an admonition box is no section: the text after the box is not part of it
        if el.name in ("h1", "h2", "h3", "h4", "h5", "h6") and not any(_classes(p) & _ASIDES for p in el.parents):
            headings.append(Heading(1, offset, int(el.name[1]), text))
        lines.append(text)
        offset += len(text) + 2
    page = "\n\n".join(lines)
    title = (soup.title.get_text(strip=True) if soup.title else "") or next((h.text for h in headings if h.level == 1), path.stem)
    return Document(source, title, (page,), tuple(headings), "html")


def _classes(tag) -> set[str]:  # noqa: ANN001 - a bs4 Tag
    return set(tag.get("class") or ()) if hasattr(tag, "get") else set()


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


MAX_INFLATED = 256 * 2**20  # bytes a DOCX may unpack to: far beyond any real document's XML
MAX_RATIO = 200  # unpacked / packed size for a member over a megabyte: XML compresses ~10:1, a bomb thousands:1


def _check_archive(path: Path, source: str) -> None:
    """Refuse a DOCX (a zip) whose members would unpack to an unbounded size, before anything unpacks them."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise IngestError(source, f"not a valid DOCX file ({exc.__class__.__name__})") from None
    total = sum(m.file_size for m in members)
    if total > MAX_INFLATED:
        raise IngestError(source, f"unpacks to {total / 2**20:.0f} MiB (limit {MAX_INFLATED // 2**20} MiB): refused as a possible zip bomb")
    for m in members:
        if m.file_size > 2**20 and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise IngestError(source, f"{m.filename} unpacks {m.file_size // max(m.compress_size, 1)} times its packed size: "
                                      "refused as a possible zip bomb")


def load_docx(path: Path, source: str) -> Document:
    import zipfile

    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError:
        raise IngestError(source, "DOCX support needs the package python-docx") from None
    _check_archive(path, source)
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
