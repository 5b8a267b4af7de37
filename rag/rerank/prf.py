"""``prf``: E2Rank-style pseudo-relevance feedback. The query vector moves towards the vectors of the top
candidates, ``q' = normalize((1 - w) q + w mean(top m))``, and every candidate is re-scored by cosine with
``q'`` (its best window). With ``w = 0`` this is plain cosine ranking."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rag.core.types import Hit
from rag.rerank.mix import mix_and_sort


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
