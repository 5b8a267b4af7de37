"""Ruled tables in PDFs, read from the page layout (pdfplumber's table finder, MIT): each table's column names
and rows, so that the page text can carry self-describing rows (``ingest.tables.pdf_tables_as_rows``).

Statistical tables often head their columns in two levels inside merged cells ("Pre-Pawn" above "Handgun |
Long Gun | Other"), or list several labels in one merged cell. The names are rebuilt from the words' positions:
the last line of a merged header cell names the columns under it, word by word as they fall in them; the lines
above it (or a last line that falls in one column) name the whole group, and prefix the names ("Pre-Pawn
Handgun").
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ingest.tables import pdf_tables_as_rows

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


def with_table_rows(path: Path, reader: Any, pages: tuple[str, ...]) -> tuple[str, ...]:
    """Pages whose ruled tables are rewritten as self-describing rows. The finder parses a page's layout, ten times
    pypdf's cost, so only pages that draw enough lines (``reader``: the pypdf reader) are given to it."""
    ruled = [n for n, page in enumerate(reader.pages) if pages[n].strip() and _draws_rules(page)]
    if not ruled:
        return pages
    try:
        import pdfplumber
    except ImportError:
        return pages
    out = list(pages)
    try:
        with pdfplumber.open(str(path)) as pdf:
            for n in ruled:
                page = pdf.pages[n]
                found = page.find_tables()
                if found:
                    words = page.extract_words()
                    out[n] = pdf_tables_as_rows(pages[n], [named_rows(t, words) for t in found])
    except Exception as exc:  # noqa: BLE001 - the plain text is still there: tables are a refinement
        log.warning("%s: tables not read (%s)", path.name, exc)
        return pages
    return tuple(out)


def _draws_rules(page: Any) -> bool:
    """Whether a page's content draws at least a few lines or rectangles (table rules), read without layout."""
    try:
        data = page.get_contents().get_data() if page.get_contents() is not None else b""
    except Exception:  # noqa: BLE001 - unreadable content: let the finder decide
        return True
    return len(re.findall(rb"[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+re\b|\bl\s+S\b|[\d.]+\s+[\d.]+\s+l\b", data)) >= 4


def named_rows(table: Any, words: list[dict]) -> tuple[list[str], list[list[str | None]]]:
    """A found table's column names and its body rows as the finder extracted them. Rows above the first row
    drawn with every column apart are the title and the header; with none, the first row is the header."""
    rows = table.rows
    text = table.extract()
    grid = next((r.cells for r in rows if all(c is not None for c in r.cells)), None)
    if grid is None:
        return [], []
    columns = [(c[0], c[2]) for c in grid]
    names = [""] * len(columns)
    first = 0
    for row in rows:
        if all(c is not None for c in row.cells):
            break
        first += 1
        starts = [i for i, c in enumerate(row.cells) if c is not None]
        if len(starts) < 2:  # one cell across the table: a title
            continue
        for at, end in zip(starts, [*starts[1:], len(columns)]):
            for k, label in enumerate(_labels(row.cells[at], words, columns[at:end])):
                names[at + k] = f"{names[at + k]} {label}".strip()
    # the first fully drawn row names the columns, or the rest of them: columns a group's name spans share it
    if not any(names) or not all(names) or len(set(names)) < len(names):
        below = [" ".join((c or "").split()) for c in text[first]] if first < len(text) else []
        names = [f"{n} {b}".strip() for n, b in zip(names, below)]
        first += 1
    return names, text[first:]


def _labels(cell: Box, words: list[dict], columns: list[tuple[float, float]]) -> list[str]:
    """The names a header cell gives the columns it spans."""
    inside = [w for w in words if cell[0] <= (w["x0"] + w["x1"]) / 2 <= cell[2] and cell[1] <= (w["top"] + w["bottom"]) / 2 <= cell[3]]
    lines: list[list[dict]] = []
    for w in sorted(inside, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(lines[-1][0]["top"] - w["top"]) < 2:
            lines[-1].append(w)
        else:
            lines.append([w])
    group, labels = "", [""] * len(columns)
    for n, line in enumerate(lines):
        per_column = [[w["text"] for w in line if lo <= (w["x0"] + w["x1"]) / 2 <= hi] for lo, hi in columns]
        # a group's name sits above the names of its columns, and may be wider than one column
        if len(columns) > 1 and (n < len(lines) - 1 or sum(1 for p in per_column if p) == 1):
            group = f"{group} {' '.join(w['text'] for w in line)}".strip()
        else:
            labels = [f"{label} {' '.join(p)}".strip() for label, p in zip(labels, per_column)]
    return [" ".join(f"{group} {label}".split()).strip("*").replace(" *", " ") for label in labels]
