"""Dense vectors for chunks: windows for long chunks, and the three situated-context modes.

- ``none``: the chunk alone.
- ``prefix``: context + chunk, the context budgeted so every token of the chunk is read.
- ``residual`` (SitEmb-style): ``normalize(a * e(chunk) + (1 - a) * e(context + chunk))``.
- ``additive``: ``normalize(a * e(chunk) + (1 - a) * e(context))``: the context embedded alone, so the chunk is
  read once and repeated contexts (chunks of one section) are embedded once.

A chunk longer than the embedder reads is cut into overlapping windows; each window gets its own vector and
the chunk is scored by its best window at query time.
"""

from __future__ import annotations

import numpy as np

from rag.core.progress import EMBEDDING, EMBEDDING_SENTENCES, Report, silent
from rag.core.sentences import sentence_texts
from rag.core.types import Chunk
from rag.models.embedder import Embedder

MODES = ("none", "prefix", "residual", "additive")
SPECIAL_TOKENS = 2  # [CLS] and [SEP]


def window_texts(chunk: Chunk, embedder: Embedder, with_context: bool, overlap: int) -> list[str]:
    prefix = f"{chunk.context}\n" if with_context and chunk.context else ""
    budget = embedder.max_tokens - SPECIAL_TOKENS - (embedder.count_tokens(prefix) if prefix else 0)
    if budget < 32:
        raise ValueError(
            f"context of {chunk.id} leaves {budget} tokens for the chunk; lower context.max_tokens below {embedder.max_tokens - 34}"
        )
    spans = embedder.windows(chunk.text, budget, min(overlap, budget // 4))
    return [prefix + chunk.text[a:b] for a, b in spans]


def chunk_vectors(
    chunks: list[Chunk], embedder: Embedder, mode: str = "prefix", alpha: float = 0.5, overlap: int = 32, report: Report = silent
) -> list[np.ndarray]:
    """One ``(windows, dim)`` array per chunk, rows unit-norm."""
    if mode not in MODES:
        raise ValueError(f"context.mode must be one of {', '.join(MODES)}; got {mode!r}")
    if mode == "prefix":  # the only mode that never embeds the chunk alone
        return _encode_groups([window_texts(c, embedder, True, overlap) for c in chunks], embedder, report)
    plain = [window_texts(c, embedder, False, overlap) for c in chunks]
    if mode == "none":
        return _encode_groups(plain, embedder, report)
    if mode == "additive":
        # one extra short, often repeated text per chunk instead of a second pass over the whole chunk
        plain_vecs = _encode_groups(plain, embedder, report)
        contexts = [c.context or c.title or "" for c in chunks]
        unique = sorted(set(contexts))
        lookup = dict(zip(unique, embedder.encode(unique)))
        return [_normalize(alpha * p + (1 - alpha) * lookup[ctx]) if ctx else p for p, ctx in zip(plain_vecs, contexts)]
    situated = [window_texts(c, embedder, True, overlap) for c in chunks]
    # residual: windows of the plain chunk and of context + chunk may differ in count; pair by position and
    # let the plain side reuse its last window when the situated one has more
    plain_vecs = _encode_groups(plain, embedder, report)
    situated_vecs = _encode_groups(situated, embedder, report)
    out = []
    for p, s in zip(plain_vecs, situated_vecs):
        rows = np.stack([alpha * p[min(j, len(p) - 1)] + (1 - alpha) * s[j] for j in range(len(s))])
        out.append(_normalize(rows))
    return out


def embed_sentences(chunks: list[Chunk], embedder: Embedder, report: Report = silent) -> None:
    """Embeds the chunks' sentences into the embedder's vector cache, where the reranker finds them (the vectors
    are not kept here: a large folder would hold them all in memory)."""
    if not chunks:
        return
    embedder.model  # loading it opens the vector cache  # noqa: B018
    if embedder.cache is None:  # only a cache makes them last; without one the reranker embeds them when asked
        return
    texts = sorted({s for c in chunks for s in sentence_texts(c.text)})
    block = max(16 * embedder.batch_size, 256)
    for at in range(0, len(texts), block):
        report(EMBEDDING_SENTENCES, at, len(texts))
        embedder.encode(texts[at : at + block])
    report(EMBEDDING_SENTENCES, len(texts), len(texts))


def _encode_groups(groups: list[list[str]], embedder: Embedder, report: Report) -> list[np.ndarray]:
    flat = [t for g in groups for t in g]
    # in blocks when someone watches, so the bar moves; one call otherwise (the embedder sorts each call by length)
    block = len(flat) if report is silent else max(16 * embedder.batch_size, 256)
    parts = []
    for at in range(0, len(flat), block or 1):
        report(EMBEDDING, at, len(flat))
        parts.append(embedder.encode(flat[at : at + block]))
    report(EMBEDDING, len(flat), len(flat))
    vectors = np.concatenate(parts) if parts else embedder.encode([])
    out, at = [], 0
    for g in groups:
        out.append(vectors[at : at + len(g)])
        at += len(g)
    return out


def _normalize(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32)
