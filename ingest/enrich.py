"""Turn a loaded document into indexed-ready chunks: chunking, generated metadata, situated context."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.chunking import chunk_document
from ingest.context import CountTokens, WriteContext, situate
from ingest.loaders import Document
from ingest.metadata import annotate, find_acronyms
from rag.core.config import ChunkConfig, ContextConfig, MetadataConfig
from rag.core.types import Chunk


@dataclass(frozen=True)
class Prepared:
    source: str
    title: str
    chunks: list[Chunk]
    acronyms: dict[str, str]


def enrich(
    chunks: list[Chunk],
    full_text: str,
    context: ContextConfig,
    metadata: MetadataConfig,
    count: CountTokens,
    known_acronyms: dict[str, str] | None = None,
    write_context: WriteContext | None = None,
) -> tuple[list[Chunk], dict[str, str]]:
    """Add metadata and situated context to one document's chunks (in document order).

    ``known_acronyms`` are definitions found elsewhere in the corpus; the document's own win over them.
    Returns the chunks and the acronyms this document defines.
    """
    acronyms = find_acronyms(full_text) if metadata.enabled else {}
    if metadata.enabled:
        chunks = annotate(chunks, {**(known_acronyms or {}), **acronyms}, metadata.keyphrases)
    # BM25's context field uses the context in every mode; with mode "none" it is only title and heading path
    situated = context.mode != "none"
    summary_sentences = context.summary_sentences if situated else 0
    neighbour_chars = context.neighbour_chars if situated else 0
    chunks = situate(chunks, full_text, context.max_tokens, count, summary_sentences, neighbour_chars,
                     write_context if situated else None)
    return chunks, acronyms


def prepare(
    doc: Document,
    chunking: ChunkConfig,
    context: ContextConfig,
    metadata: MetadataConfig,
    count: CountTokens,
    known_acronyms: dict[str, str] | None = None,
    write_context: WriteContext | None = None,
) -> Prepared:
    chunks = chunk_document(doc, chunking.size, chunking.overlap)
    chunks, acronyms = enrich(chunks, "\n\n".join(doc.pages), context, metadata, count, known_acronyms, write_context)
    return Prepared(doc.source, doc.title, chunks, acronyms)
