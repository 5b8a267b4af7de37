"""``maxsim`` (the default): each candidate scores by its best-matching sentence (MiniLM cosine plus term
overlap), which also names the sentence to highlight."""

from __future__ import annotations

import numpy as np

from rag.core.types import Hit
from rag.rerank.mix import mix_and_sort
from rag.retrieval.sentence_scores import SentenceIndex


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
