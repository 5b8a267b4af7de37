"""Records to HTML and tables for the app. Pure functions: no state, no retrieval."""

from __future__ import annotations

import html
import re
from typing import Any

from rag.core.types import Answer, Chunk, Citation, Hit, IngestReport
from ui.page_image import page_url

CSS = """
.source-card {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 6px 0;}
.source-card .where {font-weight: 600;}
.source-card .score {color: var(--body-text-color-subdued); font-size: 0.85em;}
.source-card mark {background: #fde68a; color: #111;}
.source-card .text {font-size: 0.9em; max-height: 260px; overflow-y: auto;}
.source-card .text .prose {white-space: pre-wrap;}
.source-card .text .heading {font-weight: 700; margin: 4px 0 2px;}
.source-card .text table {border-collapse: collapse; margin: 4px 0; font-size: 0.95em;}
.source-card .text th, .source-card .text td {border: 1px solid var(--border-color-primary); padding: 2px 6px; text-align: left;}
.source-card .text tr.cited td {background: #fde68a; color: #111;}
.source-card details {font-size: 0.85em; margin-top: 4px;}
"""

_MARKER = re.compile(r"\[(\d{1,2})\]")


def render_sources(hits: tuple[Hit, ...] | list[Hit], answer: Answer | None = None, files: dict[str, str] | None = None) -> str:
    """Source cards; once an answer is done, cited passages are marked and their quoted spans highlighted.
    ``files`` maps a source to the URL the app serves it at, so a PDF opens at the cited page."""
    if not hits:
        return "<p>No passages found.</p>"
    spans: dict[str, list[tuple[int, int]]] = {}
    if answer is not None:
        for c in answer.citations:
            spans.setdefault(c.chunk_id, []).append((c.char_start, c.char_end))
    cards = []
    for n, hit in enumerate(hits, 1):
        c = hit.chunk
        label = "cited" if c.id in spans else "retrieved"
        body = card_body(c.text, [(a - c.char_start, b - c.char_start) for a, b in spans.get(c.id, [])])
        extra = "".join(
            f"<div><b>{name}:</b> {html.escape(value)}</div>"
            for name, value in (("Context", c.context), ("Keyphrases", ", ".join(c.keyphrases)),
                                ("Acronyms", ", ".join(a.replace("=", " = ") for a in c.acronyms)), ("Topics", ", ".join(c.topics)))
            if value
        )
        section = f" &middot; {html.escape(c.section)}" if c.section else ""
        url = (files or {}).get(c.source)
        if url:
            href, drawn = _page_link(url, c.source, c.page_start, c, spans.get(c.id, []))
            shown = f"page {c.page_start} image" if drawn else f"open page {c.page_start}"
            section += f' &middot; <a href="{html.escape(href)}" target="_blank">{shown}</a>'
        if c.ocr_confidence is not None:
            section += f" &middot; read by OCR (confidence {c.ocr_confidence:.0%})"
        cards.append(
            f'<div class="source-card {label}" data-chunk="{html.escape(c.id)}" id="source-{n}">'
            f'<div class="where">[{n}] {html.escape(c.source)} &middot; page {c.page_start}</div>'
            f'<div class="score">{label} &middot; score {hit.score:.4f}{section}</div>'
            f'<div class="text">{body}</div>'
            + (f"<details><summary>Situated context and metadata</summary>{extra}</details>" if extra else "")
            + "</div>"
        )
    return "\n".join(cards)


def _marked_lines(chunk: Chunk, spans: list[tuple[int, int]]) -> list[tuple[float, float, float, float]]:
    """The boxes of the chunk's lines that hold a cited span, or all of its lines when nothing is cited."""
    spans = spans or [(chunk.char_start, chunk.char_end)]
    return [(b.x0, b.y0, b.x1, b.y1) for b in chunk.lines if any(b.start < hi and b.end > lo for lo, hi in spans)]


_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*#*\s*$")
_STRONG = re.compile(r"\*\*([^*<>\n]+?)\*\*")
_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _row(line: str) -> list[tuple[str, str]] | None:
    """A table row as ingestion writes it ("Buoy: B3 | Deployed: 2 August 2023") as (column, value) pairs."""
    parts = line.split(" | ")
    if len(parts) < 2:
        return None
    pairs = [tuple(p.split(": ", 1)) if ": " in p else ("", p) for p in parts]
    return [(n.strip(), v.strip()) for n, v in pairs] if sum(bool(n) for n, _ in pairs) >= 2 else None


def _cells(line: str) -> list[str]:
    body = line.strip().strip("|")
    return [c.strip() for c in re.split(r"(?<!\\)\|", body)]


def card_body(text: str, spans: list[tuple[int, int]]) -> str:
    """A passage as the card shows it: Markdown headings as headings, tables (Markdown pipe tables and the
    "Column: value | ..." rows ingestion writes) as tables, the rest as text. A cited span is highlighted where it
    falls: the sentence in text, the whole row in a table."""
    lines, at = [], 0
    for line in text.split("\n"):
        lines.append((at, line))
        at += len(line) + 1

    def cited(n: int) -> bool:
        start, line = lines[n]
        return any(a < start + len(line) and b > start for a, b in spans)

    def table_at(n: int) -> bool:  # a Markdown table starts here: a line of cells over a |---| rule
        return "|" in lines[n][1] and n + 1 < len(lines) and bool(_RULE.match(lines[n + 1][1])) and "-" in lines[n + 1][1]

    out, i = [], 0
    while i < len(lines):
        start, line = lines[i]
        heading, pairs = _HEADING.match(line), _row(line)
        if heading:
            at = start + heading.start(2)
            out.append(f'<div class="heading">{highlight(heading.group(2), _shift(spans, at))}</div>')
            i += 1
        elif table_at(i):
            j = i + 2
            while j < len(lines) and "|" in lines[j][1] and lines[j][1].strip():
                j += 1
            out.append(_table(_cells(line), [(cited(n), _cells(lines[n][1])) for n in range(i + 2, j)]))
            i = j
        elif pairs:
            names, rows = [n for n, _ in pairs], []
            while i < len(lines) and (pairs := _row(lines[i][1])) and [n for n, _ in pairs] == names:
                rows.append((cited(i), [v for _, v in pairs]))
                i += 1
            out.append(_table(names, rows))
        else:
            j = i + 1
            while j < len(lines) and not (_HEADING.match(lines[j][1]) or _row(lines[j][1]) or table_at(j)):
                j += 1
            end = lines[j - 1][0] + len(lines[j - 1][1])
            start += len(text[start:end]) - len(text[start:end].lstrip("\n"))  # blank lines around a block show as space
            end = start + len(text[start:end].rstrip("\n"))
            if end > start:
                out.append(f'<div class="prose">{_bold(highlight(text[start:end], _shift(spans, start)))}</div>')
            i = j
    return "".join(out)


def _bold(shown: str) -> str:
    """Markdown's **strong** in escaped text, where it does not cross a highlight's edge."""
    return _STRONG.sub(r"<b>\1</b>", shown)


def _shift(spans: list[tuple[int, int]], by: int) -> list[tuple[int, int]]:
    return [(a - by, b - by) for a, b in spans]


def _table(header: list[str], rows: list[tuple[bool, list[str]]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(("<tr class='cited'>" if hit else "<tr>") + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
                   for hit, cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def highlight(text: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for a, b in sorted((max(0, a), min(len(text), b)) for a, b in spans):
        if a < at or a >= b:
            continue
        out += [html.escape(text[at:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
        at = b
    out.append(html.escape(text[at:]))
    return "".join(out)


def _citation_link(c: Citation, url: str, answer: Answer) -> str:
    chunk = next((h.chunk for h in answer.passages if h.chunk.id == c.chunk_id), None)
    return _page_link(url, c.source, c.page, chunk, [(c.char_start, c.char_end)])[0]


def _page_link(url: str, source: str, page: int, chunk: Chunk | None, spans: list[tuple[int, int]]) -> tuple[str, bool]:
    """Where a passage's page opens, and whether the app draws it: a page read by OCR (or an image) is drawn with
    the passage's lines marked (the cited ones, given their ``spans``); any other PDF page opens in the browser's
    viewer, which honours #page=N."""
    if chunk is not None and chunk.lines:
        return page_url(url, page, _marked_lines(chunk, spans)), True
    if source.lower().endswith(".pdf"):
        return f"{url}#page={page}", False
    return page_url(url, page), True


def as_written(text: str) -> str:
    """Text for the chat as it was written: "<b>" in a question, or copied by the model from a document, shows as
    "<b>", never as markup the page would render (Gradio's sanitiser would still let some through)."""
    return html.escape(text, quote=False)


def link_citations(answer: Answer, files: dict[str, str] | None = None) -> str:
    """The answer as the chat shows it, with its own sources: each ``[n]`` marker links to the cited page of a PDF
    (``files``: source -> URL) and a collapsible block under the answer quotes every cited passage. The panel
    beside the chat shows only the latest answer's passages, so an earlier answer must carry its own."""
    links = {c.n: _citation_link(c, files[c.source], answer) for c in answer.citations if (files or {}).get(c.source)}
    text = _MARKER.sub(lambda m: f"[[{m.group(1)}]]({links[int(m.group(1))]})" if int(m.group(1)) in links else m.group(0),
                       as_written(answer.text))
    if not answer.citations:
        return text
    lines = []
    for c in answer.citations:
        where = f"{as_written(c.source)} p.{c.page}"
        if c.n in links:
            where = f"[{where}]({links[c.n]})"
        lines.append(f'- [{c.n}] {where}: "{as_written(" ".join(c.quote.split()))}"')
    return f"{text}\n\n<details><summary>Sources ({len(answer.citations)})</summary>\n\n" + "\n".join(lines) + "\n\n</details>"


def report_table(report: IngestReport) -> list[list[Any]]:
    return [[f.path, f.status, f.chunks, f.reason] for f in report.files]


def documents_table(docs: list[Any]) -> list[list[Any]]:
    rows = []
    for d in docs:
        acronyms = d.meta.get("acronyms", {}) if isinstance(d.meta, dict) else {}
        rows.append([d.source, d.status, d.chunks, d.title or "", len(acronyms), d.error or ""])
    return rows or [["(no documents yet)", "", 0, "", 0, ""]]


METRICS = ("ndcg@10", "mrr@10", "recall@1", "recall@5", "recall@10", "hit@10", "latency_p50_ms", "n_queries", "n_unanswerable")
ANSWER_METRICS = ("answer_accuracy", "cited_page_accuracy", "false_abstention_rate", "abstention_recall",
                  "abstention_precision", "first_token_p50_s", "total_p50_s", "n_questions", "failed")


def metrics_table(current: Any, other: Any | None = None, other_name: str = "",
                  answer_rows: list[list[Any]] | None = None) -> dict[str, Any]:
    """Retrieval metrics (beside another retrieval mode's, if compared), then the answers' when they were scored."""
    headers = ["metric", "current settings"] + ([f"retrieval.mode={other_name}"] if other is not None else [])
    rows = [[m, current.metrics.get(m)] + ([other.metrics.get(m)] if other is not None else []) for m in METRICS]
    rows += [row + [""] * (len(headers) - len(row)) for row in answer_rows or []]
    return {"headers": headers, "data": rows}


def answer_metrics_table(report: Any) -> list[list[Any]]:
    return [[m, report.metrics.get(m)] for m in ANSWER_METRICS]


def verdict(row: dict) -> str:
    """One question's outcome in words."""
    if "error" in row:
        return f"failed: {row['error']}"
    if not row["answerable"]:
        return "refused, rightly: no document answers" if row["abstained"] else "answered, though no document answers"
    if row["abstained"]:
        return "refused, though the documents answer"
    page = "cited the right page" if row["cited_gold_page"] else "did not cite the right page"
    return f"{'right' if row['correct'] else 'wrong'} answer, {page}"


def answers_table(report: Any) -> dict[str, Any]:
    rows = [[r["id"], r["question"], r.get("gold") or "(not in the documents)", r.get("answer", ""), verdict(r)]
            for r in report.per_query]
    return {"headers": ["id", "question", "expected", "answer", "outcome"], "data": rows or [["", "(none)", "", "", ""]]}


def misses_table(report: Any) -> dict[str, Any]:
    rows = [[q["id"], q["question"], q["first_relevant"] or "not in top 20", ", ".join(q["top"])]
            for q in report.per_query if not q["first_relevant"] or q["first_relevant"] > 5]
    return {"headers": ["id", "question", "rank of gold page", "top results"], "data": rows or [["", "(none)", "", ""]]}


def example_questions(docs: list[Any], n: int = 3) -> list[str]:
    """Questions the indexed documents can answer, one per document, the largest first: what a thing whose
    acronym the document expands is, else what the document is about."""
    out: list[str] = []
    for doc in sorted((d for d in docs if d.status == "ok" and d.chunks), key=lambda d: -d.chunks):
        acronyms = (doc.meta or {}).get("acronyms") or {}
        if acronyms:
            short, long = next(iter(acronyms.items()))
            out.append(f"What is the {long} ({short})?")
        elif doc.title:
            out.append(f"What is “{doc.title}” about?")
        if len(out) == n:
            break
    return out


def overview(docs: list[Any], model: str) -> str:
    ok = [d for d in docs if d.status == "ok"]
    failed = sum(d.status == "failed" for d in docs)
    counts = f"{len(ok)} document{'s' * (len(ok) != 1)}, {sum(d.chunks for d in ok)} chunks"
    return f"{counts}{f', {failed} failed' if failed else ''} · language model {as_written(model)}"


def chat_title(history: list[dict]) -> str:
    """A past chat's name in the list: its first question, shortened."""
    first = next((plain_text(m["content"]) for m in history if m.get("role") == "user"), "")
    first = " ".join(html.unescape(first).split())  # the list shows text, not HTML
    return first if len(first) <= 70 else first[:69] + "…"


def chat_markdown(history: list[dict]) -> str:
    """A chat as Markdown for export: each question and answer with the sources the answer cited."""
    out = []
    for m in history:
        text = plain_text(m["content"])
        text = re.sub(r"\s*<details><summary>(Sources[^<]*)</summary>\s*", r"\n\n**\1**\n\n", text)
        text = html.unescape(re.sub(r"</?(details|summary)>", "", text)).strip()
        out.append(f"**{'You' if m.get('role') == 'user' else 'Answer'}:** {text}")
    return "\n\n".join(out) + "\n"


def plain_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio 6 may hand back structured message content
        return " ".join(plain_text(c.get("text", "") if isinstance(c, dict) else c) for c in content)
    return str(content or "")
