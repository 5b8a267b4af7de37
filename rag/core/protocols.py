"""The seams between families: what a stage needs of the next, so each is given its collaborator, not built on it."""

from __future__ import annotations

from typing import Protocol

from rag.core.types import Hit


class Reranker(Protocol):
    """Orders the first stage's candidates again and keeps the best ``k``."""

    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]: ...
