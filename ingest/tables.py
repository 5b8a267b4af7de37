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



ROW_BREAK = " | "
_MAX_WRAPPED = 3  # lines a cell of a leader table may wrap over before the text is taken to have moved on


def _header_names(line: str) -> list[str]:
    """A header line cut into column names, each starting at a capitalised word ("Action Labor cost Parts cost
    Cost on U.S. operators": an abbreviation such as "U.S." starts none)."""
    names: list[list[str]] = []
    for word in line.split():
        if not names or (word[:1].isupper() and "." not in word):
            names.append([word])
        else:
            names[-1].append(word)
    return [" ".join(w) for w in names]


def leader_tables_as_rows(text: str) -> str:
    """Text whose tables were drawn with dot leaders between cells (already turned into " | " breaks) with each
    row on one line that names its columns, from the header line above the first row. A cell that wraps onto
    the next lines is joined to its row ("MDS installation and verification, INOP / marker removal. / 1 work-hour
    ... | $0 | $85 | $6,205."). Where no header line cuts into as many names as a row has cells, lines stay."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        table = _leader_table(out, lines, i) if ROW_BREAK in lines[i] and ": " not in lines[i].split(ROW_BREAK)[0] else None
        if table is None:
            out.append(lines[i])
            i += 1
            continue
        back, names, rows, i = table
        del out[len(out) - back + 1:]  # the lines between the header and the first row are its first cell
        out += row_lines(names, rows)
    return "\n".join(out)


def _leader_table(before: list[str], lines: list[str], i: int) -> tuple[int, list[str], list[list[str]], int] | None:
    """(lines back to the header, column names, rows, next line) of a leader table whose first row is on line i."""
    for back in range(1, _MAX_WRAPPED + 2):
        if back > len(before) or ROW_BREAK in before[-back] or not before[-back].strip():
            return None
        names = _header_names(before[-back].strip())
        if 3 <= len(names) <= 12 and all(len(n.split()) <= 5 for n in names):
            first = [line.strip() for line in before[len(before) - back + 1:]]
            rows, end = _leader_rows(lines, i, len(names), first)
            if rows:
                return back, names, rows, end
    return None


def _leader_rows(lines: list[str], i: int, n: int, first: list[str]) -> tuple[list[list[str]], int]:
    """Rows of ``n`` cells from line ``i`` on (``first``: wrapped lines of the first row's first cell); returns
    them and the line after the table."""
    rows: list[list[str]] = []
    cells: list[str] = []
    waiting = list(first)  # lines without breaks: the rest of a cell, or the next row's first cell
    start = i
    while i < len(lines):
        line = lines[i].strip()
        if ROW_BREAK not in line:
            if not line or len(waiting) >= _MAX_WRAPPED:
                break
            waiting.append(line)
            i += 1
            continue
        pieces = [p.strip() for p in line.split(ROW_BREAK)]
        if cells and len(cells) + len(pieces) <= n:  # the row goes on: waiting lines end its last cell
            cells[-1] = " ".join([cells[-1], *waiting])
            cells += pieces
        elif not cells and waiting and len(pieces) == n - 1:  # the first cell wrapped over the lines before
            cells = [" ".join(waiting), *pieces]
        elif not cells and not waiting and len(pieces) <= n:
            cells = pieces
        else:
            break
        waiting = []
        i += 1
        if len(cells) == n:
            rows.append(cells)
            cells, start = [], i
    return rows, start if cells else i - len(waiting)
