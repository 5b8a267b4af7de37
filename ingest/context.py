"""Situated context: where a chunk sits in its document, as a short string indexed with it.

The chunk stays the evidence; the context (title, heading path, a short document summary, neighbouring text)
is added to what is embedded and keyword-indexed, within a token budget so the chunk is never pushed out of
the embedder's window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from rag.core.analyzer import tokenize
from rag.core.sentences import split_sentences
from rag.core.types import Chunk

CountTokens = Callable[[str], int]


def summarize(text: str, n: int = 2, title: str = "") -> str:
    """An extractive summary: the ``n`` sentences most central to the document, in document order.

    Centrality is the mean document frequency of a sentence's terms, which favours sentences that speak of
    what the whole document is about; the first sentences get a small lead bonus, as in news-style writing.
    """
    candidates = [s for s in split_sentences(text) if 4 <= len(s.split()) <= 60 and s.strip() != title.strip()]
    if not candidates or n <= 0:
        return ""
    bags = [set(tokenize(s)) for s in candidates]
    df = Counter(t for bag in bags for t in bag)
    def score(i: int) -> float:
        bag = bags[i]
        return (sum(df[t] for t in bag) / (len(bag) + 3)) * (1.3 if i < 3 else 1.0)
    best = sorted(sorted(range(len(candidates)), key=score, reverse=True)[:n])
    return " ".join(candidates[i] for i in best)


def truncate_tokens(text: str, budget: int, count: CountTokens) -> str:
    """Cut ``text`` at a word boundary so it holds at most ``budget`` tokens."""
    if budget <= 0 or not text:
        return ""
    if count(text) <= budget:
        return text
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:  # longest prefix of words within the budget
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def build_context(
    chunk: Chunk,
    summary: str,
    before: str,
    after: str,
    budget: int,
    count: CountTokens,
    neighbour_chars: int = 200,
) -> str:
    """Title and heading path first (most telling per token), then the expansions of acronyms the chunk uses,
    then the summary, then neighbouring text."""
    head = chunk.title
    if chunk.section and chunk.section != chunk.title:
        # a Markdown H1 is usually the title already: do not say it twice
        head = chunk.section if not chunk.title or chunk.section.startswith(chunk.title) else f"{chunk.title} > {chunk.section}"
    summary = " ".join(s for s in split_sentences(summary) if s not in chunk.text)  # the chunk need not summarise itself
    expansions = "; ".join(a.replace("=", ": ", 1) for a in chunk.acronyms)
    parts = [p for p in (head, expansions, summary) if p]
    if neighbour_chars > 0:
        tail = before[-neighbour_chars:].split(" ", 1)[-1] if before else ""
        lead = after[:neighbour_chars].rsplit(" ", 1)[0] if after else ""
        parts += [p for p in (tail, lead) if p.strip()]
    return truncate_tokens(" | ".join(" ".join(p.split()) for p in parts), budget, count)


WriteContext = Callable[[str, str], str]  # (document text, chunk text) -> a sentence or two of context

LLM_PROMPT = """<document>
{document}
</document>
Here is the chunk we want to situate within the whole document
<chunk>
{chunk}
</chunk>
Please give a short succinct context to situate this chunk within the overall document for the purposes of \
improving search retrieval of the chunk. Answer only with the succinct context and nothing else."""


def situate(
    chunks: list[Chunk],
    full_text: str,
    budget: int,
    count: CountTokens,
    summary_sentences: int = 2,
    neighbour_chars: int = 200,
    write_context: WriteContext | None = None,
) -> list[Chunk]:
    """Give every chunk of one document its context string.

    With ``write_context`` (an LLM), its chunk-specific sentences take the place of the document summary.
    """
    if not chunks:
        return []
    summary = summarize(full_text, summary_sentences, chunks[0].title)
    out = []
    for i, chunk in enumerate(chunks):
        before = chunks[i - 1].text if i > 0 and chunks[i - 1].page_start == chunk.page_start else ""
        after = chunks[i + 1].text if i + 1 < len(chunks) else ""
        about = write_context(full_text, chunk.text).strip() if write_context else summary
        context = build_context(chunk, about, before, after, budget, count, neighbour_chars)
        out.append(replace(chunk, context=context))
    return out
