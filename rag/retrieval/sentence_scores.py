"""Sentences of passages, scored against a question: one memoised index shared by the ``maxsim`` reranker
(a passage scores by its best sentence) and evidence compression (the best sentences go into the prompt).

A passage is split and its sentences embedded once (LRU by chunk id and content); scoring a warm passage is
a matrix product plus term overlap: ``cosine(sentence, question) + lexical * |shared terms| / |question terms|``.
Ingestion embeds every passage's sentences ahead of time (``rerank.sentences_at_ingest``), so a passage new to
this memo is found in the embedder's vector cache rather than embedded while a question waits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.core.analyzer import tokenize
from rag.core.sentences import sentence_spans
from rag.core.types import Hit


@dataclass(frozen=True)
class Sentences:
    spans: list[tuple[int, int]]  # into the chunk's text
    terms: list[frozenset[str]]
    vectors: np.ndarray  # one unit row per sentence


class SentenceIndex:
    def __init__(self, encode: Callable[[list[str]], np.ndarray], encode_query: Callable[[str], np.ndarray],
                 lexical: float = 0.3, memo_size: int = 20_000):
        self.encode = encode
        self.encode_query = encode_query
        self.lexical = lexical
        self.memo_size = memo_size
        self._memo: OrderedDict[tuple[str, str], Sentences] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, hits: list[Hit]) -> list[Sentences]:
        keys = [(h.chunk.id, h.chunk.content_sha or h.chunk.text) for h in hits]
        with self._lock:
            missing = {k: h.chunk.text for k, h in zip(keys, hits) if k not in self._memo}
        if missing:
            spans = {k: sentence_spans(text) for k, text in missing.items()}
            flat = [missing[k][a:b] for k, ss in spans.items() for a, b in ss]  # as sentence_texts cuts them
            vectors = self.encode(flat)
            at = 0
            with self._lock:
                for k, ss in spans.items():
                    terms = [frozenset(tokenize(missing[k][a:b])) for a, b in ss]
                    self._memo[k] = Sentences(ss, terms, vectors[at : at + len(ss)])
                    at += len(ss)
                while len(self._memo) > self.memo_size:
                    self._memo.popitem(last=False)
        with self._lock:
            for k in keys:
                self._memo.move_to_end(k)
            return [self._memo[k] for k in keys]

    def scores(self, query: str, hits: list[Hit]) -> list[tuple[Sentences, np.ndarray]]:
        """Each passage's sentences with one score per sentence."""
        q = self.encode_query(query)
        q_terms = frozenset(tokenize(query))
        out = []
        for sents in self.of(hits):
            shared = np.fromiter((len(q_terms & t) for t in sents.terms), dtype=np.float32, count=len(sents.terms))
            out.append((sents, sents.vectors @ q + self.lexical * shared / (len(q_terms) or 1)))
        return out
