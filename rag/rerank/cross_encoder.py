"""``cross-encoder``: any sentence-transformers ``CrossEncoder`` path or Hub id, for users who have one (no
PyPI package ships cross-encoder weights)."""

from __future__ import annotations

import numpy as np

from rag.core.types import Hit
from rag.models.cross_encoder import load_cross_encoder
from rag.rerank.mix import mix_and_sort


class CrossEncoderReranker:
    def __init__(self, model: str, mix: float = 1.0):
        self.model = load_cross_encoder(model)  # loaded once per name, shared by every view of the index
        self.mix = mix

    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        if not hits:
            return []
        scores = np.asarray(self.model.predict([(query, h.chunk.text) for h in hits], show_progress_bar=False), dtype=np.float64)
        return mix_and_sort(hits, scores.reshape(len(hits), -1)[:, -1], self.mix, k)
