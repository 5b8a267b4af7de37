"""What every loader makes: a ``Document`` of page texts with heading positions."""

from __future__ import annotations

from dataclasses import dataclass


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


def normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
