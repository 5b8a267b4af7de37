"""LangChain interop: our search as a ``BaseRetriever``, and our chunks as LangChain ``Document``s."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.core.types import Chunk, Hit


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    return {
        "chunk_id": chunk.id,
        "doc_id": chunk.doc_id,
        "source": chunk.source,
        "title": chunk.title,
        "section": chunk.section,
        "page": chunk.page_start,
        "page_end": chunk.page_end,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "context": chunk.context,
        "keyphrases": list(chunk.keyphrases),
        "acronyms": list(chunk.acronyms),
        "topics": list(chunk.topics),
        **({} if chunk.ocr_confidence is None else {"ocr_confidence": chunk.ocr_confidence}),
    }


def to_document(hit: Hit) -> Document:
    meta = chunk_metadata(hit.chunk)
    meta.update(score=hit.score, stage=hit.stage, scores=dict(hit.scores))
    return Document(page_content=hit.chunk.text, metadata=meta, id=hit.chunk.id)


class RagRetriever(BaseRetriever):
    """``rag.search`` behind LangChain's retriever interface: ``retriever.invoke(query) -> list[Document]``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    rag: Any  # rag.pipeline.Rag; typed loosely so pydantic does not try to validate it
    k: int = 10
    filters: dict[str, Any] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(hit) for hit in self.rag.search(query, self.k, self.filters)]


def to_documents(chunks: Iterable[Chunk]) -> list[Document]:
    """Chunks as LangChain ``Document``s (text plus our metadata), e.g. to feed another store."""
    return [Document(page_content=c.text, metadata=chunk_metadata(c), id=c.id) for c in chunks]
