"""situated-rag: local retrieval-augmented generation with situated context and cited answers.

``from rag import Rag`` is the entry point; the records (``Answer``, ``Hit``, ...), the stream's events
(``RetrievalDone``, ``Waiting``, ``Token``, ``AnswerDone``, ``Failed``) and the configuration are importable from here too.
Names are resolved lazily so that importing a submodule (``rag.core.config``) does not load models or Chroma.
"""

from typing import TYPE_CHECKING, Any

__all__ = ["Rag", "Config", "load_config", "Answer", "Citation", "Chunk", "Hit", "IngestReport", "RagError",
           "RetrievalDone", "Waiting", "Token", "AnswerDone", "Failed"]

if TYPE_CHECKING:
    from rag.core.config import Config, load_config
    from rag.core.errors import RagError
    from rag.core.types import Answer, AnswerDone, Chunk, Citation, Failed, Hit, IngestReport, RetrievalDone, Token, Waiting
    from rag.pipeline import Rag

_HOMES = {"Rag": "rag.pipeline", "Config": "rag.core.config", "load_config": "rag.core.config", "RagError": "rag.core.errors"}
_HOMES |= {name: "rag.core.types" for name in __all__ if name not in _HOMES}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
