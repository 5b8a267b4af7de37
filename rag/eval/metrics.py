"""Scores for one ranking against its gold set, and for one answer against its gold answer."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
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
    for key in query.gold:
        source, _, page = key.rpartition("#")
        if same_file(c.source, source) and page.isdigit() and c.page_start <= int(page) <= c.page_end:
            return key
    return None


def same_file(indexed: str, named: str) -> bool:
    """Whether an indexed source is the file a question set names: the same path, or one ending in it
    ("docs/sqlite/limits.html" is "sqlite/limits.html" and "limits.html")."""
    return indexed == named or indexed.endswith("/" + named.lstrip("/"))


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


# one spelling per unit, so that "0.8 meters" states "0.8 m"
_UNITS = {"meters": "m", "meter": "m", "metres": "m", "metre": "m", "kilometres": "km", "kilometers": "km", "kilometre": "km",
          "kilometer": "km", "litres": "l", "liters": "l", "litre": "l", "liter": "l", "kilograms": "kg", "kilogram": "kg",
          "minutes": "min", "minute": "min", "mins": "min", "hours": "h", "hour": "h", "hrs": "h", "seconds": "s", "second": "s",
          "secs": "s", "sec": "s", "percent": "%", "per cent": "%"}
_UNIT = re.compile(r"\b(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")\b")


def _unit_tokens(text: str) -> list[str]:
    return _answer_tokens(_UNIT.sub(lambda m: _UNITS[m.group(1)], text.lower().replace("%", " % ")))


_DECISIONS = {"yes", "no", "maybe"}
_DECISION = re.compile(r"\b(yes|no|maybe)\b", re.I)


def contains_answer(text: str, gold: str) -> bool:
    """Whether ``text`` states the gold answer: its words in order, after numbers are normalised ("thirty" = 30,
    "18,000" = 18000), dashes made plain, units spelt one way ("metres" = "m") and case ignored. A part of the
    gold answer in parentheses ("250 (metres)") is optional. A yes/no/maybe gold answer is the reply's first
    such word: its decision."""
    if gold.strip().lower() in _DECISIONS:  # "no" must be the reply's decision, not a word of it ("no one")
        first = _DECISION.search(text)
        return bool(first) and first.group(1).lower() == gold.strip().lower()
    have = _unit_tokens(text)
    # "250 (metres)": the aside may be left out; "float(1) to float(24)": no aside, the parentheses are the answer's
    for form in dict.fromkeys([gold, re.sub(r"\s+\([^)]*\)", "", gold)]):
        want = _unit_tokens(form)
        if want and any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1)):
            return True
    return False


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
