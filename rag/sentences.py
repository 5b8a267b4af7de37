"""Sentences of passages, scored against a question: one memoised index shared by the ``maxsim`` reranker
(a passage scores by its best sentence) and evidence compression (the best sentences go into the prompt).

A passage is split and its sentences embedded once (LRU by chunk id and content); scoring a warm passage is
a matrix product plus term overlap: ``cosine(sentence, question) + lexical * |shared terms| / |question terms|``.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.analyzer import tokenize
from rag.types import Hit

_SENT = re.compile(r"(?<=[.!?])\s+")
_ENDS_CLAUSE = re.compile(r"[.!?:;]$")
_STARTS_BLOCK = re.compile(r"\s*([-*+>#|]|\d+[.)]\s)")  # a list item, quote, heading or table row


def _wrapped(before: str, after: str, longest: int) -> bool:
    """Whether a single line break only wraps a sentence, as PDF text does at every line: the line does not end
    a clause and the next one goes on in lower case, or the line runs nearly the block's full width."""
    before = before.rstrip()
    if _ENDS_CLAUSE.search(before) or not re.search(r"[^\W\d_]", before) or not after.strip() or _STARTS_BLOCK.match(after):
        return False
    return after.lstrip()[:1].islower() or (longest >= 60 and len(before) >= 0.75 * longest)


def _lines(text: str) -> list[str]:
    """``text`` cut at line breaks that end something (a sentence, a heading, a list item, a table row), not
    at those that only wrap a line; the pieces keep their inner line breaks, so each is a substring."""
    lines = text.split("\n")
    longest = max(len(line.rstrip()) for line in lines)
    out, current = [], [lines[0]]
    for before, line in zip(lines, lines[1:]):
        if _wrapped(before, line, longest):
            current.append(line)
        else:
            out.append("\n".join(current))
            current = [line]
    out.append("\n".join(current))
    return out


def split_sentences(text: str, max_chars: int = 400) -> list[str]:
    out = []
    for line in _lines(text):
        for s in _SENT.split(line):
            s = s.strip()
            while len(s) > max_chars:  # very long "sentences" (tables, code) are cut so each fits the embedder
                out.append(s[:max_chars])
                s = s[max_chars:]
            if len(s) > 3:
                out.append(s)
    return out


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence in ``text``; the whole text when it has no sentence of its own."""
    spans, cursor = [], 0
    for s in split_sentences(text):
        at = text.find(s, cursor)
        if at >= 0:
            spans.append((at, at + len(s)))
            cursor = at + len(s)
    return spans or [(0, len(text))]


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
            flat = [missing[k][a:b] for k, ss in spans.items() for a, b in ss]
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
