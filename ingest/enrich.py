"""Turn a loaded document into indexed-ready chunks: chunking, generated metadata, situated context."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.chunking import chunk_document
from ingest.context import CountTokens, situate
from ingest.loaders import Document
from ingest.metadata import annotate, find_acronyms
from rag.config import ChunkConfig, ContextConfig, MetadataConfig
from rag.types import Chunk


@dataclass(frozen=True)
class Prepared:
    source: str
    title: str
    chunks: list[Chunk]
    acronyms: dict[str, str]


def enrich(
    chunks: list[Chunk], full_text: str, context: ContextConfig, metadata: MetadataConfig, count: CountTokens
) -> tuple[list[Chunk], dict[str, str]]:
    """Add metadata and situated context to one document's chunks (in document order)."""
    acronyms = find_acronyms(full_text) if metadata.enabled else {}
    if metadata.enabled:
        chunks = annotate(chunks, acronyms, metadata.keyphrases)
    # contexts are built in every mode: BM25's context field uses them even when embeddings do not
    chunks = situate(chunks, full_text, context.max_tokens, count, context.summary_sentences, context.neighbour_chars)
    return chunks, acronyms


def prepare(doc: Document, chunking: ChunkConfig, context: ContextConfig, metadata: MetadataConfig, count: CountTokens) -> Prepared:
    chunks = chunk_document(doc, chunking.size, chunking.overlap)
    chunks, acronyms = enrich(chunks, "\n\n".join(doc.pages), context, metadata, count)
    return Prepared(doc.source, doc.title, chunks, acronyms)
