"""Tables as rows that describe themselves: every data row becomes one line carrying its column headers,
"Buoy: B3 | Deployed: 2 August 2023", so a row read alone (as evidence, as a citation, as a highlight) still
says what each value is and whose it is. Small models otherwise take a value from the neighbouring row."""

from __future__ import annotations

import re

_MD_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")  # a Markdown code fence


# first headers of two-column tables whose rows are "name | value" pairs: "Status: Closed", not "Field: Status"
_KEY_HEADERS = {"", "field", "item", "name", "key", "parameter", "property", "setting", "attribute", "term", "label"}
_VALUE_HEADERS = {"", "value", "values", "detail", "details", "description", "meaning", "definition", "content"}


def row_lines(header: list[str], rows: list[list[str]]) -> list[str]:
    """One line per row: "Header: value" for every non-empty cell, joined with " | "."""
    names = [" ".join(h.split()) for h in header]
    pairs = len(names) == 2 and names[0].lower() in _KEY_HEADERS and names[1].lower() in _VALUE_HEADERS
    out = []
    for row in rows:
        cells = [" ".join(c.split()) for c in row]
        if not any(cells) or cells == names:
            continue
        if pairs and len(cells) == 2:
            out.append(f"{cells[0]}: {cells[1]}" if cells[0] else cells[1])
            continue
        parts = []
        for n, value in enumerate(cells):
            if not value:
                continue
            name = names[n] if n < len(names) else ""
            parts.append(f"{name}: {value}" if name and name != value else value)
        out.append(" | ".join(parts))
    return out


def split_cells(line: str) -> list[str]:
    """The cells of a Markdown table line (``\\|`` is a literal pipe)."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [c.replace("\\|", "|").strip() for c in re.split(r"(?<!\\)\|", body)]


def markdown_tables_as_rows(text: str) -> str:
    """Markdown text with each pipe table (a header line, a ``|---|`` line, rows) replaced by self-describing rows.
    Code blocks are left as they are."""
    lines = text.split("\n")
    out: list[str] = []
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):
            fenced = not fenced
        if (not fenced and "|" in line and i + 1 < len(lines) and _MD_SEPARATOR.match(lines[i + 1])
                and "-" in lines[i + 1]):
            header = split_cells(line)
            j = i + 2
            rows = []
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                rows.append(split_cells(lines[j]))
                j += 1
            out += row_lines(header, rows)
            i = j
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _cells(row: list[str | None]) -> list[str]:
    return [" ".join((c or "").split()) for c in row]


def _unpacked(rows: list[list[str | None]]) -> list[list[str]]:
    """Rows as printed: a cell holding several lines where every filled cell of its row holds as many (a block of
    rows drawn without rules between them) becomes that many rows."""
    out = []
    for row in rows:
        parts = [(c or "").split("\n") for c in row]
        heights = {len(p) for p, c in zip(parts, row) if c}
        if len(heights) == 1 and (n := heights.pop()) > 1:
            out += [[p[k] if len(p) == n else "" for p in parts] for k in range(n)]
        else:
            out.append(_cells(row))
    return out


def _norm(line: str) -> str:
    return re.sub(r"\s+", "", line)


def pdf_tables_as_rows(page_text: str, tables: list[tuple[list[str], list[list[str | None]]]]) -> str:
    """A PDF page's text with the lines of each ruled table (its column names and body rows, as the layout gave
    them) replaced by self-describing rows; the header's line goes where it is found. A table whose rows cannot
    all be found as lines of the text is left as it is."""
    lines = page_text.split("\n")
    keys = [_norm(line) for line in lines]
    for names, body in tables:
        rows = [r for r in _unpacked(body) if sum(1 for c in r if c) >= 2]  # notes under a table span one cell
        if not rows or len(names) < 2 or not all(names):
            continue
        where: list[int] = []
        for row in rows:
            key = _norm("".join(row))
            at = next((i for i, k in enumerate(keys) if k == key and i not in where), None)
            if at is None:
                break
            where.append(at)
        described = row_lines(names, rows)
        if len(where) != len(rows) or len(described) != len(rows):
            continue
        for at, text in zip(where, described):
            lines[at] = text
        header = _norm("".join(names))
        lines = [line for line in lines if _norm(line) != header]  # every row now names its columns
        keys = [_norm(line) for line in lines]
    return "\n".join(lines)
