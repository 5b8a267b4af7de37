"""Cross-encoder models for reranking, loaded once per name and shared; only the last few stay in memory."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rag.core.errors import ModelError


@lru_cache(maxsize=2)  # a name typed into settings and left behind does not stay loaded for the process's life
def load_cross_encoder(name: str) -> Any:
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(name, device="cpu")
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load cross-encoder {name!r}: {exc}") from None
