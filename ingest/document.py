"""What every loader makes: a ``Document`` of page texts with heading positions."""

from __future__ import annotations

from dataclasses import dataclass

from rag.core.types import LineBox


@dataclass(frozen=True)
class Heading:
    page: int  # 1-based
    char_start: int  # offset of the heading line in that page's text
    level: int
    text: str


@dataclass(frozen=True)
class ScannedPage:
    """A page whose text was read from its image."""

    page: int  # 1-based
    confidence: float  # the recogniser's mean, 0-1
    lines: tuple[LineBox, ...]  # spans index into the document's text of that page


@dataclass(frozen=True)
class Document:
    source: str  # path as shown to users (relative to the ingested root)
    title: str
    pages: tuple[str, ...]  # page texts; one page for formats without pages
    headings: tuple[Heading, ...] = ()
    format: str = "text"
    scanned: tuple[ScannedPage, ...] = ()


def located_lines(lines: tuple[LineBox, ...], read: str, text: str) -> tuple[LineBox, ...]:
    """Line boxes whose spans index ``read`` (the text as recognised) moved onto ``text`` (the same text after
    cleaning: running heads dropped, broken words joined). Each line is found by its opening characters, in
    order; a line no longer there is dropped."""
    moved, cursor = [], 0
    for line in lines:
        head = read[line.start : line.end][:24]
        at = text.find(head, cursor)
        if at < 0:
            continue
        end = min(at + line.end - line.start, len(text))
        moved.append(LineBox(at, end, line.x0, line.y0, line.x1, line.y1))
        cursor = at + 1
    return tuple(moved)


def first_line_title(text: str, fallback: str) -> str:
    """A document's first non-blank line as its title, unless that line is too long to be one."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if first and len(first) <= 100 else fallback


def normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
