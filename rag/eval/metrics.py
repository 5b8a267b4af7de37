"""Scores for one ranking against its gold set, and for one answer against its gold answer."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.core.analyzer import tokenize
from rag.core.numbers import normalize_numbers
from rag.core.types import Hit

if TYPE_CHECKING:
    from rag.eval.datasets import Query

log = logging.getLogger(__name__)

RECALL_AT = (1, 3, 5, 10, 20)
PASS_AT = (5, 10, 20)




def _gold_key(hit: Hit, query: Query, kind: str) -> str | None:
    """The gold item a hit matches: its chunk id, or for page questions the "file#page" it lies on."""
    c = hit.chunk
    if kind != "pages":
        return c.id if c.id in query.gold else None
    for p in range(c.page_start, c.page_end + 1):
        for key in (f"{c.source}#{p}", f"{Path(c.source).name}#{p}"):
            if key in query.gold:
                return key
    return None


def relevance_flags(hits: list[Hit], query: Query, kind: str) -> list[bool]:
    """Which ranks hold a gold item not already found higher up (a page counts once, however many chunks it has)."""
    return gold_flags([_gold_key(hit, query, kind) for hit in hits])


def gold_flags(keys: list[str | None]) -> list[bool]:
    """Per rank: a gold key (None: not gold) seen for the first time."""
    seen: set[str] = set()
    flags = []
    for key in keys:
        flags.append(key is not None and key not in seen)
        if key is not None:
            seen.add(key)
    return flags


def score_ranking(flags: list[bool], n_gold: int) -> dict[str, float]:
    """Metrics of one ranked list given which positions are relevant and how many gold items exist."""
    m: dict[str, float] = {}
    dcg = sum(1.0 / math.log2(i + 2) for i, rel in enumerate(flags[:10]) if rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_gold, 10)))
    m["ndcg@10"] = dcg / ideal if ideal else 0.0
    for k in RECALL_AT:
        m[f"recall@{k}"] = sum(flags[:k]) / n_gold if n_gold else 0.0
    first = next((i for i, rel in enumerate(flags[:10]) if rel), None)
    m["mrr@10"] = 1.0 / (first + 1) if first is not None else 0.0
    for k in PASS_AT:
        m[f"pass@{k}"] = min(sum(flags[:k]), n_gold) / n_gold if n_gold else 0.0
        m[f"hit@{k}"] = 1.0 if any(flags[:k]) else 0.0
    return m


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, 0 for none."""
    return float(np.percentile(values, 100 * q)) if values else 0.0


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _answer_tokens(text: str) -> list[str]:
    text = _ARTICLES.sub(" ", normalize_numbers(text).lower())
    return re.findall(r"[a-z0-9]+(?:[.:][0-9]+)?", text)


def contains_answer(text: str, gold: str) -> bool:
    """Whether ``text`` states the gold answer: its words in order, after numbers are normalised ("thirty" = 30,
    "18,000" = 18000), dashes made plain and case ignored."""
    want, have = _answer_tokens(gold), _answer_tokens(text)
    if not want:
        return False
    return any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1))


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style token F1 between an answer and the gold answer."""
    pred, ref = _answer_tokens(prediction), _answer_tokens(gold)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def containment(prediction: str, gold: str) -> float:
    """Share of the gold answer's content terms (stemmed, no stop words) that the answer contains."""
    ref = set(tokenize(gold))
    return len(ref & set(tokenize(prediction))) / len(ref) if ref else 0.0
