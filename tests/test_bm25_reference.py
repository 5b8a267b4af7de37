"""bm25s (what the index uses) against rank-bm25, the reference implementation, with one analyzer."""

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from rag.core.analyzer import tokenize

CORPUS = [
    "The bilge pump P-7 moves 40 litres per minute in the engine room.",
    "Divers may stay at most 40 minutes on a single dive.",
    "The desalination plant's membrane filters are replaced every ninety days.",
    "Set max_dwell_hours in the buoy configuration before deployment.",
    "The ferry leaves the harbour at 14:30 every Thursday; the pump room is closed then.",
    "Generator G2 had its number 3 fuel injector replaced under work order WO-1192.",
    "Biofouling on submerged sensors is scraped off during the quarterly service.",
    "The pump, the filters and the generator are inspected every week by the duty engineer.",
]
QUERIES = ["pump litres", "when are membrane filters replaced", "max_dwell_hours", "fuel injector generator", "dive minutes"]


@pytest.mark.parametrize("query", QUERIES)
def test_bm25s_robertson_ranks_like_rank_bm25(query: str) -> None:
    import bm25s

    tokens = [tokenize(t) for t in CORPUS]
    reference = BM25Okapi(tokens, k1=1.2, b=0.75, epsilon=0)
    ours = bm25s.BM25(k1=1.2, b=0.75, method="robertson")
    ours.index(tokens, show_progress=False)
    q = tokenize(query)
    expected = np.asarray(reference.get_scores(q))
    got = ours.get_scores_from_ids(ours.get_tokens_ids(q))
    # bm25s leaves out the constant (k1 + 1) factor of the numerator: same ranking, scores scaled
    assert np.allclose(got * (1.2 + 1), expected, atol=1e-4)
    assert list(np.argsort(-got, kind="stable")[:5]) == list(np.argsort(-expected, kind="stable")[:5])


def test_index_text_field_is_lucene_bm25() -> None:
    """The index's text field scores Lucene's BM25 (idf = ln(1 + (N - df + .5) / (df + .5))), up to (k1 + 1)."""
    from rag.core.types import Chunk
    from rag.store.bm25 import Bm25Index

    chunks = [Chunk(id=str(i), doc_id=str(i), text=t, source=f"{i}.txt") for i, t in enumerate(CORPUS)]
    index = Bm25Index.build(chunks, k1=1.2, b=0.75, stamp={})
    docs = [tokenize(t) for t in CORPUS]
    avgdl = sum(map(len, docs)) / len(docs)
    for query in QUERIES:
        q = [t for t in tokenize(query) if any(t in d for d in docs)]
        expected = []
        for d in docs:
            score = 0.0
            for term in q:
                df = sum(term in x for x in docs)
                tf = d.count(term)
                idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                score += idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * len(d) / avgdl))  # bm25s drops (k1 + 1)
            expected.append(score)
        assert np.allclose(index.scores(query, {"text": 1.0}), expected, atol=1e-4)
