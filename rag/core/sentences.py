"""The one sentence splitter: evidence selection, reranking, citations and quotes all cut text the same way.

A sentence ends at ``.!?`` or at a line break that ends something (a heading, a list item, a table row); a
break that only wraps a line, as PDF text has on every line, does not split it. A run of three or more short
items separated by semicolons is split into its items.
"""

from __future__ import annotations

import re

_SENT = re.compile(r"(?<=[.!?])\s+")
_ENDS_CLAUSE = re.compile(r"[.!?:;]$")
_STARTS_BLOCK = re.compile(r"\s*([-*+>#|]|\d+[.)]\s)")  # a list item, quote, heading or table row


def _wrapped(before: str, after: str, longest: int) -> bool:
    """Whether a single line break only wraps a sentence, as PDF text does at every line: the line does not end
    a clause and the next one goes on in lower case, or the line runs nearly the block's full width."""
    before = before.rstrip()
    if _is_row(before) or _is_row(after):  # a table row (see ingest.tables) is a line of its own
        return False
    if _ENDS_CLAUSE.search(before) or not re.search(r"[^\W\d_]", before) or not after.strip() or _STARTS_BLOCK.match(after):
        return False
    return after.lstrip()[:1].islower() or (longest >= 60 and len(before) >= 0.75 * longest)


def _is_row(line: str) -> bool:
    """A table row as ingestion writes it ("Buoy: B3 | Deployed: 2 August 2023"), or one of three cells or more; a
    lone " | " in running text (a PDF's rule or a code fragment) is not one."""
    cells = line.strip().split(ROW_CELL)
    return len(cells) >= 3 or (len(cells) == 2 and all(": " in c for c in cells))


def _lines(text: str) -> list[str]:
    """``text`` cut at line breaks that end something (a sentence, a heading, a list item, a table row), not
    at those that only wrap a line; the pieces keep their inner line breaks, so each is a substring."""
    lines = text.split("\n")
    longest = max(len(line.rstrip()) for line in lines)
    out, current = [], [lines[0]]
    for before, line in zip(lines, lines[1:]):
        if _wrapped(before, line, longest):
            current.append(line)
        else:
            out.append("\n".join(current))
            current = [line]
    out.append("\n".join(current))
    return out


ROW_CELL = " | "  # between the cells of a table row written as a line (see ingest.tables)
_ITEM = re.compile(r"(?<=;)\s+")


def _items(sentence: str) -> list[str]:
    """A run of short items separated by semicolons ("Delaware, December 7, 1787; Pennsylvania, December 12,
    1787; ...") as one piece per item: each item is then evidence, a citation and a highlight of its own."""
    parts = _ITEM.split(sentence)
    if len(parts) >= 3 and all(len(p) <= 100 for p in parts):
        return parts
    return [sentence]


def split_sentences(text: str, max_chars: int = 400) -> list[str]:
    out = []
    for line in _lines(text):
        for s in (item for sentence in _SENT.split(line) for item in _items(sentence.strip())):
            s = s.strip()
            # a table row stays whole up to three times as long: cut, its later cells would lose the row's name
            limit = 3 * max_chars if ROW_CELL in s else max_chars
            while len(s) > limit:  # very long "sentences" (tables, code) are cut so each fits the embedder
                cut = s.rfind(ROW_CELL, 0, limit) if limit > max_chars else -1
                cut = cut if cut > 0 else limit
                out.append(s[:cut])
                s = s[cut:].lstrip(" |")
            if len(s) > 3:
                out.append(s)
    return out


def sentence_texts(text: str) -> list[str]:
    """The sentences of ``text`` as the reranker embeds them (ingestion embeds the same strings ahead of time)."""
    return [text[a:b] for a, b in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence in ``text``; the whole text when it has no sentence of its own."""
    spans, cursor = [], 0
    for s in split_sentences(text):
        at = text.find(s, cursor)
        if at >= 0:
            spans.append((at, at + len(s)))
            cursor = at + len(s)
    return spans or [(0, len(text))]
