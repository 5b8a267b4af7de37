"""Plain text and Markdown: decoded by BOM, then UTF-8, then Latin-1; binary files refused; large files read
in parts."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from ingest.document import Document, Heading, first_line_title, normalise
from ingest.tables import FENCE, markdown_tables_as_rows
from rag.core.errors import IngestError

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
            buffer = normalise(buffer)
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
    text = normalise(decode_text(path.read_bytes(), source))
    return Document(source, first_line_title(text, path.stem), (text,), tuple(text_headings(text)), "text")


_RULE = re.compile(r"[ \t]*([-=*~_#])\1{2,}[ \t]*")  # a line of one repeated character: "-----", "====="


def _capitals(line: str) -> bool:
    """A short line in capitals, of two words or more ("MEETING OF MONDAY 14 OCTOBER 2024")."""
    letters = [c for c in line if c.isalpha()]
    return len(line) <= 80 and len(line.split()) >= 2 and len(letters) >= 6 and all(c.isupper() for c in letters)


def text_headings(text: str) -> list[Heading]:
    """Headings of plain text as people type them: a line framed or underlined by a rule, the first line after
    a rule ("WO-1176   2024-07-08   H. Drummond" opening a log entry), or a line in capitals on its own. A
    section then carries its heading, so a meeting's date or an entry's number stays with what it says."""
    headings: list[Heading] = []
    lines = text.split("\n")
    offset = 0
    for n, line in enumerate(lines):
        before = lines[n - 1] if n else ""
        after = lines[n + 1] if n + 1 < len(lines) else ""
        stripped = line.strip()
        if stripped and len(stripped) <= 100 and not _RULE.fullmatch(line) and (
                # after a rule that separates (not one underlining the line above it)
                _RULE.fullmatch(before) and (n < 2 or not lines[n - 2].strip())
                or _RULE.fullmatch(after) and after.strip()[0] in "=-"
                or (not before.strip() and _capitals(stripped))):
            headings.append(Heading(1, offset, 1, " ".join(stripped.split())))
        offset += len(line) + 1
    return headings


# ---- markdown -----------------------------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")


def markdown_headings(text: str) -> list[Heading]:
    headings: list[Heading] = []
    in_fence = False
    offset = 0
    for line in text.splitlines(keepends=True):
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _MD_HEADING.match(line.rstrip("\n"))):
            headings.append(Heading(1, offset, len(m.group(1)), m.group(2).strip()))
        offset += len(line)
    return headings


def load_markdown(path: Path, source: str) -> Document:
    text = markdown_tables_as_rows(normalise(decode_text(path.read_bytes(), source)))
    headings = markdown_headings(text)
    h1 = next((h.text for h in headings if h.level == 1), None)
    return Document(source, h1 or path.stem, (text,), tuple(headings), "markdown")
