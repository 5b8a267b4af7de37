import pytest

from rag.retrieval.fusion import convex, rrf


def test_rrf_matches_hand_computation() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.1)]
    sparse = [("c", 12.0), ("a", 3.0)]
    fused = dict(rrf(dense=dense, sparse=sparse, k=60, dense_weight=0.5))
    assert fused["a"] == pytest.approx(0.5 / 61 + 0.5 / 62)
    assert fused["c"] == pytest.approx(0.5 / 63 + 0.5 / 61)
    assert fused["b"] == pytest.approx(0.5 / 62)
    assert [d for d, _ in rrf(dense=dense, sparse=sparse)] == ["a", "c", "b"]


def test_weighted_rrf_and_convex() -> None:
    dense = [("a", 0.9), ("b", 0.5)]
    sparse = [("b", 10.0), ("a", 0.0)]
    assert rrf(dense=dense, sparse=sparse, dense_weight=1.0)[0][0] == "a"
    assert rrf(dense=dense, sparse=sparse, dense_weight=0.0)[0][0] == "b"
    fused = dict(convex(dense=dense, sparse=sparse, dense_weight=0.25))
    assert fused["a"] == pytest.approx(0.25 * 1.0 + 0.75 * 0.0)
    assert fused["b"] == pytest.approx(0.25 * 0.0 + 0.75 * 1.0)
