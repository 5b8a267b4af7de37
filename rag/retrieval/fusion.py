"""Fusion of ranked lists: pure functions over ``[(id, score), ...]`` sorted best first.

Inputs are named (``dense=``, ``sparse=``) rather than positional, so a weight can never be applied to the
wrong side.
"""

from __future__ import annotations

Ranking = list[tuple[str, float]]


def rrf(*, dense: Ranking, sparse: Ranking, k: int = 60, dense_weight: float = 0.5) -> Ranking:
    """Weighted reciprocal-rank fusion: ``sum_side w_side / (k + rank)``, ranks from 1.

    With ``dense_weight=0.5`` this is plain RRF scaled by one half, so the order equals unweighted RRF.
    """
    scores: dict[str, float] = {}
    for ranking, weight in ((dense, dense_weight), (sparse, 1.0 - dense_weight)):
        for rank, (doc, _) in enumerate(ranking, 1):
            scores[doc] = scores.get(doc, 0.0) + weight / (k + rank)
    return _sorted(scores)


def convex(*, dense: Ranking, sparse: Ranking, dense_weight: float = 0.5) -> Ranking:
    """Convex combination of min-max normalised scores; a side missing a document contributes 0."""
    scores: dict[str, float] = {}
    for ranking, weight in ((dense, dense_weight), (sparse, 1.0 - dense_weight)):
        for doc, value in _minmax(ranking):
            scores[doc] = scores.get(doc, 0.0) + weight * value
    return _sorted(scores)


def _minmax(ranking: Ranking) -> Ranking:
    if not ranking:
        return []
    values = [s for _, s in ranking]
    lo, hi = min(values), max(values)
    if hi == lo:
        return [(doc, 1.0) for doc, _ in ranking]
    return [(doc, (s - lo) / (hi - lo)) for doc, s in ranking]


def _sorted(scores: dict[str, float]) -> Ranking:
    # ties broken by id so results are deterministic
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


FUSIONS = {"rrf", "convex"}
