"""Hybrid retrieval: BM25 (with metadata fields boosted) + dense vectors, fused, deduplicated by chunk id."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rag.core.config import Bm25Config, RetrievalConfig
from rag.core.errors import ConfigError
from rag.core.protocols import Reranker
from rag.core.types import Hit
from rag.retrieval.acronyms import CorpusAcronyms, acronym_expansions
from rag.retrieval.filters import Filters
from rag.retrieval.fusion import FUSIONS, convex, rrf
from rag.store.index import Index

MODES = ("bm25", "dense", "hybrid")


@dataclass
class Retrieval:
    hits: list[Hit]
    query: str
    expansions: list[str] = field(default_factory=list)  # acronym expansions added to the keyword query
    timings: dict[str, float] = field(default_factory=dict)


class Retriever:
    """Hybrid search over one index. Thread safe: searches run side by side, also while documents are written.

    ``reranker`` (None: keep the fused order) reorders the best ``rerank_depth`` fused candidates."""

    def __init__(self, index: Index, encode_query: Callable[[str], np.ndarray], config: RetrievalConfig, bm25: Bm25Config,
                 acronyms: CorpusAcronyms, reranker: Reranker | None = None, rerank_depth: int = 50):
        if config.mode not in MODES:
            raise ConfigError(f"retrieval.mode must be one of {', '.join(MODES)}; got {config.mode!r}")
        if config.fusion not in FUSIONS:
            raise ConfigError(f"retrieval.fusion must be one of {', '.join(sorted(FUSIONS))}; got {config.fusion!r}")
        self.index = index
        self.encode_query = encode_query
        self.config = config
        self.boosts = {"text": 1.0, "context": bm25.boost_context, "keyphrases": bm25.boost_keyphrases, "acronyms": bm25.boost_acronyms}
        self.acronyms = acronyms
        self.reranker = reranker
        self.rerank_depth = rerank_depth
        # the last filter's chunk ids with the key they were computed for, as one value: two threads filtering
        # differently replace it whole, so neither can read the other's ids under its own key
        self._allowed: tuple[tuple, frozenset[str]] = ((), frozenset())

    def allowed_ids(self, filters: Filters) -> frozenset[str]:
        key = (self.index.generation, filters.key())
        cached_key, ids = self._allowed
        if cached_key != key:
            ids = frozenset(c.id for c in self.index.iter_chunks() if filters.matches(c))
            self._allowed = (key, ids)
        return ids

    def mentions(self, token: str) -> bool:
        """Whether the corpus holds ``token`` (an analyzed token, see ``rag.core.analyzer``) anywhere."""
        with self.index.reading():
            return self.index.bm25().knows(token)

    def search(self, query: str, k: int | None = None, filters: Filters | dict | None = None) -> Retrieval:
        with self.index.reading():  # a document being re-ingested is seen whole: old or new, never half
            return self._search(query, k or self.config.k, filters)

    def _search(self, query: str, k: int, filters: Filters | dict | None) -> Retrieval:
        depth = max(self.config.candidates, k)
        timings: dict[str, float] = {}
        filters = Filters.of(filters)
        allowed = self.allowed_ids(filters) if filters else None
        # expansions are a second, down-weighted keyword query: appended to the query they drown short questions
        expansions = acronym_expansions(query, self.acronyms.current) if self.config.expand_acronyms else []
        sparse: list[tuple[str, float]] = []
        dense: list[tuple[str, float]] = []
        if self.config.mode in ("bm25", "hybrid"):
            t = time.perf_counter()
            sparse = self.index.bm25().search(query, depth, self.boosts, allowed, " ; ".join(expansions), self.config.expand_weight)
            timings["bm25"] = time.perf_counter() - t
        if self.config.mode in ("dense", "hybrid"):
            t = time.perf_counter()
            dense = self.index.dense_search(self.encode_query(query), depth, allowed)
            timings["dense"] = time.perf_counter() - t
        if self.config.mode == "bm25":
            fused, stage = sparse, "bm25"
        elif self.config.mode == "dense":
            fused, stage = dense, "dense"
        elif self.config.fusion == "rrf":
            fused, stage = rrf(dense=dense, sparse=sparse, k=self.config.rrf_k, dense_weight=self.config.dense_weight), "fused"
        else:
            fused, stage = convex(dense=dense, sparse=sparse, dense_weight=self.config.dense_weight), "fused"
        reranking = self.reranker is not None
        fused = fused[: max(k, self.rerank_depth) if reranking else k]
        chunks = self.index.get_chunks([doc for doc, _ in fused])
        per_stage = {"dense": dict(dense), "bm25": dict(sparse)}
        hidden = self.index.incomplete()
        hits = []
        for doc, score in fused:
            if doc not in chunks or chunks[doc].doc_id in hidden:  # a large file still being written part by part
                continue
            scores = {name: s[doc] for name, s in per_stage.items() if doc in s}
            scores[stage] = score
            hits.append(Hit(chunks[doc], score, stage, scores))
        if self.reranker is not None:
            t = time.perf_counter()
            hits = self.reranker.rerank(query, hits, k)
            timings["rerank"] = time.perf_counter() - t
        return Retrieval(hits, query, expansions, timings)
