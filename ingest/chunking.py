"""Split a ``Document`` into ``Chunk``s with exact page offsets and heading paths.

Pages are first cut at headings so a chunk never straddles two sections, then each section is split with
langchain's ``RecursiveCharacterTextSplitter``. The splitter returns strings; we locate each one in the page
text so ``page_text[char_start:char_end] == chunk.text`` holds exactly (a citation highlights that span).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.loaders import Document, Heading
from rag.core.types import Chunk


@dataclass(frozen=True)
class Span:
    page: int
    start: int
    end: int
    section: str


def doc_id_for(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def section_spans(doc: Document) -> list[Span]:
    """Cut each page at its headings; each span carries the heading path in force at its start."""
    spans: list[Span] = []
    path: list[Heading] = []
    by_page: dict[int, list[Heading]] = {}
    for h in doc.headings:
        by_page.setdefault(h.page, []).append(h)
    for page_no, text in enumerate(doc.pages, 1):
        cuts = [0] + [h.char_start for h in by_page.get(page_no, []) if h.char_start > 0] + [len(text)]
        heads = {h.char_start: h for h in by_page.get(page_no, [])}
        carry = None  # start of a heading with no body of its own
        for start, end in zip(cuts, cuts[1:]):
            if start in heads:
                h = heads[start]
                path = [p for p in path if p.level < h.level] + [h]
            body = text[start:end].strip()
            if not body:
                continue
            # a heading with no body of its own (its underline aside) joins the next section's first chunk
            if start in heads and not body.partition("\n")[2].strip(" \t\n-=*~_#") and end < len(text):
                carry = start if carry is None else carry
                continue
            spans.append(Span(page_no, start if carry is None else carry, end, " > ".join(p.text for p in path)))
            carry = None
        if carry is not None:
            spans.append(Span(page_no, carry, len(text), " > ".join(p.text for p in path)))
    return spans


def chunk_document(doc: Document, size: int = 900, overlap: int = 120) -> list[Chunk]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size,
        chunk_overlap=overlap,
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
        strip_whitespace=True,
    )
    doc_id = doc_id_for(doc.source)
    scanned = {p.page: p for p in doc.scanned}
    chunks: list[Chunk] = []
    for span in section_spans(doc):
        read = scanned.get(span.page)
        page_text = doc.pages[span.page - 1]
        for start, end in locate(page_text, span.start, span.end, splitter.split_text(page_text[span.start : span.end])):
            text = page_text[start:end]
            lines = tuple(b for b in read.lines if b.start < end and b.end > start) if read else ()
            chunks.append(
                Chunk(
                    id=f"{doc_id}:{len(chunks)}",
                    doc_id=doc_id,
                    text=text,
                    source=doc.source,
                    title=doc.title,
                    section=span.section,
                    page_start=span.page,
                    page_end=span.page,
                    char_start=start,
                    char_end=end,
                    content_sha=sha(text),
                    # a page's own text before its figures' is no OCR
                    ocr_confidence=read.confidence if read and lines else None,
                    lines=lines,
                )
            )
    return chunks


def locate(text: str, lo: int, hi: int, pieces: list[str]) -> list[tuple[int, int]]:
    """Find each piece in ``text[lo:hi]`` in order; pieces may overlap their predecessor."""
    spans = []
    cursor = lo
    for piece in pieces:
        at = text.find(piece, cursor, hi)  # overlapping pieces still start after their predecessor
        if at < 0:
            raise ValueError(f"chunk not found in page text: {piece[:60]!r}")
        spans.append((at, at + len(piece)))
        cursor = at + 1
    return spans
