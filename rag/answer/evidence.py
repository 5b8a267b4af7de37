"""Evidence compression: keep only the passage sentences that bear on the question, within a token budget.

On a CPU the LLM reads the prompt at ~70 tokens/s (1.5B), so every passage token costs time before the first
answer token. Sentences are scored by MiniLM cosine with the question plus term overlap; the best ones are kept
across all passages until the budget is spent, a sentence that opens with a reference ("It", "This", ...)
brings its predecessor along and one that ends with a colon its successor, and the kept sentences stay in
document order. Citations still point to the
whole chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.core.analyzer import tokenize
from rag.core.types import Hit
from rag.retrieval.sentence_scores import SentenceIndex, sentence_spans

_ANAPHOR = re.compile(r"^(it|this|that|these|those|they|he|she|its|their|such|both|the latter|the former)\b", re.I)


@dataclass(frozen=True)
class Evidence:
    hit: Hit
    text: str  # what the prompt shows for this passage
    spans: tuple[tuple[int, int], ...]  # kept sentence spans, relative to the chunk text


# sentences that address the model rather than state facts: prompt-injection attempts inside documents
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|directions)\b|\byou are now\b|"
    r"\b(reply|respond|answer)\s+only\s+with\b|\bsystem prompt\b|\bnew instructions?\b|"
    # rules about how to reply: "whatever the question, the only correct reply is ...", "always answer ..."
    r"\bwhatever the question\b|\b(only|single)\s+(correct|right|valid|acceptable)\s+(reply|answer|response)\b|"
    r"\b(always|must)\s+(reply|respond|answer)\b|\b(new|updated)\s+rules?\s+(from|by)\s+the\s+(administrator|admin|system|operator)\b|"
    r"\b(note|message|instructions?)\s+(to|for)\s+the\s+(assistant|AI|chatbot|language model|LLM)\b|"
    r"\b(answer|reply|response)\s+to\s+(any|every|all)\s+questions?\b|\b(answer|reply)\s+every\s+question\b",
    re.I,
)


def is_injection(sentence: str) -> bool:
    return bool(_INJECTION.search(sentence))


def whole(hits: list[Hit]) -> list[Evidence]:
    """Each passage as it is, minus sentences that try to instruct the model."""
    out = []
    for h in hits:
        text = h.chunk.text
        every = sentence_spans(text)
        spans = [(a, b) for a, b in every if not is_injection(text[a:b])]
        if len(spans) == len(every):
            out.append(Evidence(h, text.strip(), ((0, len(text)),)))
        elif spans:
            out.append(Evidence(h, " ".join(text[a:b] for a, b in spans), tuple(spans)))
    return out


def evidence_budget(hits: list[Hit], room: int, count: Callable[[str], int], floor: int, share: float) -> int:
    """Tokens of evidence to keep: ``share`` of what the passages would cost whole in a prompt of ``room``
    tokens, never under ``floor``. Short passages are cut to the floor; long ones, where an answer often spans
    two passages or a paragraph, keep more than a fixed budget would allow."""
    # a passage is counted on a prefix: tokenizing a 100,000-character chunk to learn it exceeds the room is waste
    whole_cost = min(room, sum(min(count(h.chunk.text[: room * 8]), room) for h in hits))
    return max(1, min(room, max(floor, int(share * whole_cost))))


def fit_passages(question: str, evidence: list[Evidence], sentences: SentenceIndex, max_tokens: int,
                 count: Callable[[str], int]) -> tuple[list[Evidence], int]:
    """Evidence whose text alone costs more than ``max_tokens`` (a passage longer than the model's window) is
    cut to the run of its sentences around the one nearest the question that fits; returns how many were cut.
    Without this the top passage of a corpus with very long chunks would overflow the context window."""
    out, trimmed = [], 0
    for ev in evidence:
        if count(ev.text) <= max_tokens:
            out.append(ev)
            continue
        trimmed += 1
        out += compress(question, [ev.hit], sentences, max_tokens, count, lead_share=1.0)
    return out, trimmed


def compress(
    question: str,
    hits: list[Hit],
    sentences: SentenceIndex,
    budget_tokens: int,
    count: Callable[[str], int],
    lead_share: float = 0.0,
) -> list[Evidence]:
    """Evidence per passage (passages left with no sentence are dropped), rank order kept.

    ``lead_share``: the top-ranked passage goes in whole when it costs at most this share of the budget, and
    otherwise the longest run of its sentences around its best one that does; small models answer table rows
    and label/value lists better from running text than from fragments, and after reranking the top passage
    is the likeliest to hold the answer."""
    per_hit: list[list[tuple[int, int]]] = []
    flat_scores: list[float] = []
    for hit, (sents, scores) in zip(hits, sentences.scores(question, hits)):
        keep = [j for j, (a, b) in enumerate(sents.spans) if not is_injection(hit.chunk.text[a:b])]
        per_hit.append([sents.spans[j] for j in keep])
        flat_scores += [float(scores[j]) for j in keep]
    if not flat_scores:
        return []
    scores = np.array(flat_scores)
    index = [(i, j) for i, spans in enumerate(per_hit) for j in range(len(spans))]
    chosen: set[tuple[int, int]] = set()
    used = 0
    if lead_share > 0 and per_hit[0]:
        lead = _lead_window(hits[0].chunk.text, per_hit[0], flat_scores[: len(per_hit[0])], lead_share * budget_tokens, count)
        chosen.update((0, j) for j in lead)
        used = sum(count(hits[0].chunk.text[slice(*per_hit[0][j])]) for j in lead)
    for flat in np.argsort(-scores, kind="stable"):
        i, j = index[flat]
        if (i, j) in chosen:
            continue
        wanted = [(i, j)]
        a, b = per_hit[i][j]
        if j > 0 and _ANAPHOR.match(hits[i].chunk.text[a:b]):
            wanted.insert(0, (i, j - 1))
        if j + 1 < len(per_hit[i]) and (hits[i].chunk.text[a:b].rstrip().endswith(":")
                                         or _ANAPHOR.match(hits[i].chunk.text[slice(*per_hit[i][j + 1])])):
            # a label ("Default value:", a table header) is read with what follows, and so is a sentence that the
            # next one goes on about ("Five fonts are provided. These are tiny (5x8), small (6x12) ...")
            wanted.append((i, j + 1))
        cost = sum(count(hits[i].chunk.text[slice(*per_hit[p][s])]) for p, s in wanted if (p, s) not in chosen)
        if used + cost > budget_tokens and chosen:
            continue
        chosen.update(wanted)
        used += cost
    # each kept sentence brings the heading above it, outside the budget (a heading is a short line): "MEETING
    # OF 14 OCTOBER" says which week the "SDO this week:" line is about
    chosen |= {(i, k) for i, j in list(chosen) if (k := _heading_before(hits[i].chunk.text, per_hit[i], j)) is not None}
    out = []
    for i, hit in enumerate(hits):
        kept = sorted(j for (p, j) in chosen if p == i)
        if not kept:
            continue
        parts, spans = [], []
        for n, j in enumerate(kept):
            a, b = per_hit[i][j]
            if n and kept[n - 1] != j - 1:
                parts.append("...")
            parts.append(" ".join(hit.chunk.text[a:b].split()))  # a sentence wrapped over lines reads as one
            spans.append((a, b))
        out.append(Evidence(hit, " ".join(parts), tuple(spans)))
    return out


def pointed_sentence(question: str, hit: Hit, sentences: SentenceIndex) -> str:
    """The sentence of ``hit`` nearest the question that adds at least two words to it (with the one before, when it
    opens with "It", "These", ...): what a reply that only pointed at this passage ("[2]", asked twice) is taken
    to mean, shown as a quote. "" when none does."""
    ((sents, scores),) = sentences.scores(question, [hit])
    asked = set(tokenize(question))
    for j in np.argsort(-scores, kind="stable"):
        text = " ".join(hit.chunk.text[slice(*sents.spans[j])].split())
        if len(set(tokenize(text)) - asked) >= 2 and not is_injection(text):
            if j > 0 and _ANAPHOR.match(text):  # "It produces ...": with the sentence that says what "it" is
                a = sents.spans[j - 1][0]
                text = " ".join(hit.chunk.text[a : sents.spans[j][1]].split())
            return text
    return ""


def _heading_before(text: str, spans: list[tuple[int, int]], j: int) -> int | None:
    """The nearest line before sentence ``j`` that reads as a heading (short, no closing stop, not a table row),
    if one comes within the few sentences before it."""
    for k in range(j - 1, max(-1, j - 12), -1):
        line = " ".join(text[slice(*spans[k])].split())
        if len(line) <= 80 and ":" not in line and " | " not in line and _HEADING.match(line):
            return k
    return None


# a Markdown heading, a numbered heading ("2.1 Hull") or a line in capitals ("MEETING OF MONDAY 14 OCTOBER 2024");
# not a data line such as "Equipment: generator G2", which is short and has no stop either
_HEADING = re.compile(r"#{1,6}\s+\S|\d+(\.\d+)*\.?\s+[A-Z][^.]*$|[^a-z]*[A-Z]{3,}[^a-z]*$")


def _lead_window(text: str, spans: list[tuple[int, int]], scores: list[float], budget: float,
                 count: Callable[[str], int]) -> list[int]:
    """Sentence numbers of the top passage to keep whole: all of them when they fit ``budget``, else a
    contiguous run grown from the best-scoring sentence, a sentence at a time on the side that scores higher."""
    costs = [count(text[a:b]) for a, b in spans]
    if sum(costs) <= budget:
        return list(range(len(spans)))
    lo = hi = int(np.argmax(scores))
    if costs[lo] > budget:
        return []
    used = costs[lo]
    while True:
        sides = [j for j in (lo - 1, hi + 1) if 0 <= j < len(spans) and used + costs[j] <= budget]
        if not sides:
            return list(range(lo, hi + 1))
        j = max(sides, key=lambda j: (scores[j], j < lo))  # ties go to the sentence before: it sets the scene
        used += costs[j]
        lo, hi = min(lo, j), max(hi, j)
