"""Second-stage reranking of fused candidates.

No PyPI package ships cross-encoder weights, so the offline choices are built from what does ship:

- ``prf``: E2Rank-style pseudo-relevance feedback. The query vector is moved towards the vectors of the top
  candidates, ``q' = normalize((1 - w) q + w mean(top m))``, and every candidate is re-scored by cosine with
  ``q'`` (its best window). With ``w = 0`` this is plain cosine ranking.
- ``maxsim``: each candidate is scored by its best-matching sentence (MiniLM cosine plus BM25 over the
  sentences), which also names the sentence to highlight.
- ``cross-encoder``: any sentence-transformers ``CrossEncoder`` path or Hub id, for users who have one.
- ``llm``: the local LLM ranks short snippets of the candidates (listwise); slow on a CPU, measured honestly.
- ``none``.

The reranker's score is mixed with the first-stage score (both min-max normalised): ``rerank.mix`` = 1 uses
the reranker alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from rag.errors import ConfigError
from rag.sentences import SentenceIndex
from rag.types import Hit

log = logging.getLogger(__name__)

METHODS = ("none", "prf", "maxsim", "cross-encoder", "llm")


class Reranker(Protocol):
    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]: ...


def _minmax(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    return np.zeros_like(values) if hi == lo else (values - lo) / (hi - lo)


def mix_and_sort(hits: list[Hit], scores: np.ndarray, mix: float, k: int) -> list[Hit]:
    """Convex mix of normalised first-stage and rerank scores; new ``Hit``s with stage "rerank"."""
    if not hits:
        return []
    first = _minmax(np.array([h.score for h in hits], dtype=np.float64))
    final = mix * _minmax(np.asarray(scores, dtype=np.float64)) + (1 - mix) * first
    order = np.argsort(-final, kind="stable")[:k]
    return [replace(hits[i], score=float(final[i]), stage="rerank", scores={**hits[i].scores, "rerank": float(scores[i])})
            for i in order]


class NoRerank:
    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        return hits[:k]


class PrfReranker:
    def __init__(self, encode_query: Callable[[str], np.ndarray], vectors: Callable[[list[str]], dict[str, np.ndarray]],
                 feedback: int = 3, weight: float = 0.3, mix: float = 0.5):
        self.encode_query = encode_query
        self.vectors = vectors
        self.feedback = feedback
        self.weight = weight
        self.mix = mix

    def scores(self, query: str, hits: list[Hit]) -> np.ndarray:
        q = self.encode_query(query)
        vecs = self.vectors([h.chunk.id for h in hits])
        # each chunk is represented by its window closest to the query
        best = np.stack([vecs[h.chunk.id][int(np.argmax(vecs[h.chunk.id] @ q))] if h.chunk.id in vecs else q * 0 for h in hits])
        if self.weight > 0 and self.feedback > 0:
            centroid = best[: self.feedback].mean(axis=0)
            q = (1 - self.weight) * q + self.weight * centroid
            q = q / max(float(np.linalg.norm(q)), 1e-12)
        return np.array([float((vecs[h.chunk.id] @ q).max()) if h.chunk.id in vecs else -1.0 for h in hits])

    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        return mix_and_sort(hits, self.scores(query, hits), self.mix, k)


class MaxSimReranker:
    """Scores each candidate by its best sentence (see ``rag.sentences``: split and embedded once per chunk)."""

    def __init__(self, sentences: SentenceIndex, mix: float = 0.3):
        self.sentences = sentences
        self.mix = mix

    def best_sentences(self, query: str, hits: list[Hit]) -> list[tuple[str, float]]:
        """Each candidate's best sentence and its score (cosine, plus a share of term overlap)."""
        out = []
        for hit, (sents, scores) in zip(hits, self.sentences.scores(query, hits)):
            j = int(np.argmax(scores))
            a, b = sents.spans[j]
            out.append((hit.chunk.text[a:b], float(scores[j])))
        return out

    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        scores = np.array([score for _, score in self.best_sentences(query, hits)])
        return mix_and_sort(hits, scores, self.mix, k)


class CrossEncoderReranker:
    def __init__(self, model: str, mix: float = 1.0):
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(model, device="cpu")
        self.mix = mix

    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        if not hits:
            return []
        scores = np.asarray(self.model.predict([(query, h.chunk.text) for h in hits], show_progress_bar=False), dtype=np.float64)
        return mix_and_sort(hits, scores.reshape(len(hits), -1)[:, -1], self.mix, k)


LLM_RANK = (
    "Here are numbered passages and a question. List the numbers of the passages that help answer the question, "
    "most helpful first, separated by commas. Reply with the numbers only."
)


class LlmReranker:
    """Listwise: the LLM reads the top ``window`` candidates as short snippets and returns an order."""

    def __init__(self, complete: Callable[[list[dict[str, str]]], str], window: int = 10, snippet_chars: int = 300, mix: float = 0.5):
        self.complete = complete
        self.window = window
        self.snippet_chars = snippet_chars
        self.mix = mix

    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        head = hits[: self.window]
        passages = "\n".join(f"[{i}] {' '.join(h.chunk.text.split())[: self.snippet_chars]}" for i, h in enumerate(head, 1))
        reply = self.complete([{"role": "system", "content": LLM_RANK},
                               {"role": "user", "content": f"{passages}\n\nQuestion: {query}\nPassage numbers:"}])
        order = []
        for m in re.finditer(r"\d+", reply):
            n = int(m.group())
            if 1 <= n <= len(head) and n - 1 not in order:
                order.append(n - 1)
        scores = np.zeros(len(hits))
        for rank, i in enumerate(order):
            scores[i] = len(head) - rank  # listed passages above unlisted ones, in the LLM's order
        return mix_and_sort(hits, scores, self.mix, k)


def make_reranker(method: str, rag: Any) -> Reranker:  # rag: rag.pipeline.Rag (models and index live there)
    cfg = rag.config.rerank
    if method not in METHODS:
        raise ConfigError(f"rerank.method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "none":
        return NoRerank()
    if method == "prf":
        return PrfReranker(rag.embedder.encode_query, rag.index.chunk_vectors, cfg.feedback, cfg.weight, cfg.mix)
    if method == "maxsim":
        return MaxSimReranker(rag.sentences, cfg.mix)
    if method == "cross-encoder":
        if not cfg.model:
            raise ConfigError("rerank.method=cross-encoder needs rerank.model: a local CrossEncoder folder or a Hub id")
        return CrossEncoderReranker(cfg.model, cfg.mix)
    return LlmReranker(lambda messages: rag.generator.complete(messages, max_tokens=40), cfg.window, mix=cfg.mix)
