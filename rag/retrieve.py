"""Hybrid retrieval: BM25 (with metadata fields boosted) + dense vectors, fused, deduplicated by chunk id."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from rag.config import Bm25Config, RetrievalConfig
from rag.errors import ConfigError
from rag.filters import Filters
from rag.fusion import FUSIONS, convex, rrf
from rag.index import Index
from rag.models import Embedder
from rag.rerank import NoRerank, Reranker
from rag.types import Hit

MODES = ("bm25", "dense", "hybrid")


@dataclass
class Retrieval:
    hits: list[Hit]
    query: str
    expansions: list[str] = field(default_factory=list)  # acronym expansions added to the keyword query
    timings: dict[str, float] = field(default_factory=dict)


def acronym_expansions(query: str, acronyms: dict[str, str]) -> list[str]:
    """The expansion of every known acronym in the query, and the acronym of every expansion it spells out."""
    additions = []
    lowered = query.lower()
    for short, long in acronyms.items():
        has_short = re.search(rf"(?<!\w){re.escape(short)}(?!\w)", query)
        if has_short and long.lower() not in lowered:
            additions.append(long)
        elif not has_short and long.lower() in lowered:
            additions.append(short)
    return additions


def expand_acronyms(query: str, acronyms: dict[str, str]) -> str:
    additions = acronym_expansions(query, acronyms)
    return f"{query} ({'; '.join(additions)})" if additions else query


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, config: RetrievalConfig, bm25: Bm25Config):
        if config.mode not in MODES:
            raise ConfigError(f"retrieval.mode must be one of {', '.join(MODES)}; got {config.mode!r}")
        if config.fusion not in FUSIONS:
            raise ConfigError(f"retrieval.fusion must be one of {', '.join(sorted(FUSIONS))}; got {config.fusion!r}")
        self.index = index
        self.embedder = embedder
        self.config = config
        self.boosts = {"text": 1.0, "context": bm25.boost_context, "keyphrases": bm25.boost_keyphrases, "acronyms": bm25.boost_acronyms}
        self.acronyms: dict[str, str] = {}
        self.reranker: Reranker = NoRerank()
        self.rerank_depth = 50
        self._allowed_key: tuple | None = None
        self._allowed: set[str] = set()

    def allowed_ids(self, filters: Filters) -> set[str]:
        key = (self.index.generation, filters.key())
        if self._allowed_key != key:
            self._allowed = {c.id for c in self.index.iter_chunks() if filters.matches(c)}
            self._allowed_key = key
        return self._allowed

    def search(self, query: str, k: int | None = None, filters: Filters | dict | None = None) -> Retrieval:
        with self.index.reading():  # a document being re-ingested is seen whole: old or new, never half
            return self._search(query, k or self.config.k, filters)

    def _search(self, query: str, k: int, filters: Filters | dict | None) -> Retrieval:
        depth = max(self.config.candidates, k)
        timings: dict[str, float] = {}
        filters = Filters.of(filters)
        allowed = self.allowed_ids(filters) if filters else None
        # expansions are a second, down-weighted keyword query: appended to the query they drown short questions
        expansions = acronym_expansions(query, self.acronyms) if self.config.expand_acronyms else []
        sparse: list[tuple[str, float]] = []
        dense: list[tuple[str, float]] = []
        if self.config.mode in ("bm25", "hybrid"):
            t = time.perf_counter()
            sparse = self.index.bm25().search(query, depth, self.boosts, allowed, " ; ".join(expansions), self.config.expand_weight)
            timings["bm25"] = time.perf_counter() - t
        if self.config.mode in ("dense", "hybrid"):
            t = time.perf_counter()
            dense = self.index.dense_search(self.embedder.encode_query(query), depth, allowed)
            timings["dense"] = time.perf_counter() - t
        if self.config.mode == "bm25":
            fused, stage = sparse, "bm25"
        elif self.config.mode == "dense":
            fused, stage = dense, "dense"
        elif self.config.fusion == "rrf":
            fused, stage = rrf(dense=dense, sparse=sparse, k=self.config.rrf_k, dense_weight=self.config.dense_weight), "fused"
        else:
            fused, stage = convex(dense=dense, sparse=sparse, dense_weight=self.config.dense_weight), "fused"
        reranking = not isinstance(self.reranker, NoRerank)
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
        if reranking:
            t = time.perf_counter()
            hits = self.reranker.rerank(query, hits, k)
            timings["rerank"] = time.perf_counter() - t
        return Retrieval(hits, query, expansions, timings)
