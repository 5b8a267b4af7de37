"""situated-rag: local retrieval-augmented generation with situated context and cited answers.

``from rag import Rag`` is the entry point; records live in ``rag.types``, configuration in ``rag.config``.
Names are resolved lazily so that importing a submodule (``rag.config``) does not load models or Chroma.
"""

from typing import TYPE_CHECKING, Any

__all__ = ["Rag", "Config", "load_config", "Answer", "Citation", "Chunk", "Hit", "IngestReport", "RagError"]

if TYPE_CHECKING:
    from rag.config import Config, load_config
    from rag.errors import RagError
    from rag.pipeline import Rag
    from rag.types import Answer, Chunk, Citation, Hit, IngestReport

_HOMES = {"Rag": "rag.pipeline", "Config": "rag.config", "load_config": "rag.config", "RagError": "rag.errors",
          "Answer": "rag.types", "Citation": "rag.types", "Chunk": "rag.types", "Hit": "rag.types", "IngestReport": "rag.types"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
