"""How every reranker's score meets the first stage's: a convex mix of both, min-max normalised."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rag.core.types import Hit


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
