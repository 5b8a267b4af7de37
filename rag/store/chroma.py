"""Chunks and vectors in Chroma: the only module that imports chromadb.

Two collections: ``chunks`` (one record per chunk: text, metadata and the vector of its first window) and
``windows`` (extra vectors for chunks longer than the embedder reads; a chunk scores by its best window).
Embedded ``PersistentClient`` under the index folder, or ``HttpClient`` for a ``chroma run`` server.
Every filter built from a list is sent in slices: Chroma rejects a ``$or`` of a thousand terms ("Expression
tree is too large") and very long ``$in`` lists.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from rag.core.errors import IndexError_
from rag.core.types import Chunk, LineBox
from rag.store.storage import Guarded, failure

log = logging.getLogger(__name__)

BATCH = 2000  # Chroma rejects very large batches; keep writes in slices
FILTER_TERMS = 200  # values per $in / $or sent at once


class _NoEmbeddingFunction:
    """Given to Chroma explicitly so it never loads (or downloads) its default model: vectors always come with the
    records, from situated-rag's own embedder."""

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        raise IndexError_("this index embeds with situated-rag's own model; pass vectors, not texts")

    @staticmethod
    def name() -> str:
        return "situated-rag"

    def get_config(self) -> dict:
        return {}

    @staticmethod
    def build_from_config(config: dict) -> _NoEmbeddingFunction:
        return _NoEmbeddingFunction()

    def is_legacy(self) -> bool:
        return False


def _meta_for(chunk: Chunk) -> dict[str, Any]:
    scanned = {} if chunk.ocr_confidence is None else {"ocr_confidence": chunk.ocr_confidence, "lines": _lines_text(chunk.lines)}
    return {
        "doc_id": chunk.doc_id,
        "source": chunk.source,
        "title": chunk.title,
        "section": chunk.section,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "context": chunk.context,
        "keyphrases": "; ".join(chunk.keyphrases),
        "acronyms": "; ".join(chunk.acronyms),
        "topics": "; ".join(chunk.topics),
        "content_sha": chunk.content_sha,
        **scanned,
    }


def _lines_text(lines: tuple[LineBox, ...]) -> str:
    return ";".join(f"{b.start},{b.end},{b.x0:.4f},{b.y0:.4f},{b.x1:.4f},{b.y1:.4f}" for b in lines)


def _lines(value: Any) -> tuple[LineBox, ...]:
    boxes = []
    for item in str(value or "").split(";"):
        if item:
            start, end, x0, y0, x1, y1 = item.split(",")
            boxes.append(LineBox(int(start), int(end), float(x0), float(y0), float(x1), float(y1)))
    return tuple(boxes)


def _split(value: Any) -> tuple[str, ...]:
    return tuple(v for v in str(value or "").split("; ") if v)


def chunk_from(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=chunk_id,
        doc_id=meta["doc_id"],
        text=text,
        source=meta["source"],
        title=meta.get("title", ""),
        section=meta.get("section", ""),
        page_start=int(meta.get("page_start", 1)),
        page_end=int(meta.get("page_end", 1)),
        char_start=int(meta.get("char_start", 0)),
        char_end=int(meta.get("char_end", 0)),
        context=meta.get("context", ""),
        keyphrases=_split(meta.get("keyphrases")),
        acronyms=_split(meta.get("acronyms")),
        topics=_split(meta.get("topics")),
        content_sha=meta.get("content_sha", ""),
        ocr_confidence=float(meta["ocr_confidence"]) if "ocr_confidence" in meta else None,
        lines=_lines(meta.get("lines")),
    )


def _slices(values: list[str], size: int = FILTER_TERMS) -> Iterator[list[str]]:
    for lo in range(0, len(values), size):
        yield values[lo : lo + size]


def _any_of(field: str, values: list[str]) -> dict:
    return {field: values[0]} if len(values) == 1 else {field: {"$in": values}}


class ChromaStore:
    def __init__(self, folder: Path, url: str = "", token: str = "", read_only: bool = False):
        self.path = folder
        self._copy: Path | None = None
        if read_only and not url:
            # Chroma has no read-only client: it writes its SQLite file even to answer a query
            # (chroma-core/chroma#1438), so a read-only index is searched through a private copy
            self._copy = Path(tempfile.mkdtemp(prefix="rag-read-only-"))
            log.warning("the index folder %s is read-only: searching a copy of its Chroma store in %s", folder.parent, self._copy)
            weakref.finalize(self, shutil.rmtree, self._copy, True)  # at close, or when the process exits
            shutil.copytree(folder, self._copy / "chroma", copy_function=shutil.copyfile)
            for sub, _, _ in os.walk(self._copy):  # copytree keeps the folders' read-only modes
                os.chmod(sub, 0o700)
        self._client = self._connect(url, token)
        self._where = url or folder.parent
        self.chunks = self.collection("chunks")
        self.windows = self.collection("windows")
        # the windows collection is queried beside the chunks one (Chroma releases the GIL while it searches)
        self._side = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rag-windows")

    def _connect(self, url: str, token: str) -> Any:
        import chromadb
        from chromadb.errors import ChromaError

        settings = chromadb.Settings(anonymized_telemetry=False)
        if not url:
            folder = self.path if self._copy is None else self._copy / "chroma"
            try:
                return chromadb.PersistentClient(str(folder), settings=settings)
            except ChromaError as exc:
                raise failure(exc, self.path.parent) from exc
        from urllib.parse import urlparse

        parsed = urlparse(url)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            return chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or 8000,
                ssl=parsed.scheme == "https",
                headers=headers,
                settings=settings,
            )
        except Exception as exc:  # chromadb raises plain exceptions for connection failures
            raise IndexError_(f"cannot reach the Chroma server at {url}: {exc}") from None

    def collection(self, name: str) -> Any:
        """A collection of this store (made if new), its storage errors reported as ``failure`` words them."""
        from chromadb.errors import ChromaError

        made = self._client.get_or_create_collection(name, embedding_function=_NoEmbeddingFunction(),
                                                     configuration={"hnsw": {"space": "cosine"}})
        return Guarded(made, self._where, (ChromaError,))

    def close(self) -> None:
        self._side.shutdown(wait=False)

    # ---- writes ---------------------------------------------------------------------------------------------

    def add(self, chunks: list[Chunk], vectors: list[np.ndarray]) -> None:
        """Upsert chunks; ``vectors[i]`` holds the window vectors of ``chunks[i]`` (>= 1 row)."""
        ids = [c.id for c in chunks]
        for lo in range(0, len(chunks), BATCH):
            part = slice(lo, lo + BATCH)
            self.chunks.upsert(
                ids=ids[part],
                embeddings=[v[0] for v in vectors[part]],
                documents=[c.text for c in chunks[part]],
                metadatas=[_meta_for(c) for c in chunks[part]],
            )
        extra = [(f"{c.id}~{j}", v[j], c) for c, v in zip(chunks, vectors) for j in range(1, len(v))]
        for lo in range(0, len(extra), BATCH):
            batch = extra[lo : lo + BATCH]
            self.windows.upsert(
                ids=[e[0] for e in batch],
                embeddings=[e[1] for e in batch],
                metadatas=[{"chunk_id": e[2].id, "doc_id": e[2].doc_id, "source": e[2].source} for e in batch],
            )

    def delete_documents(self, doc_ids: list[str]) -> None:
        for part in _slices(sorted(doc_ids)):
            where = _any_of("doc_id", part)
            self.chunks.delete(where=where)
            self.windows.delete(where=where)

    def update_metadata(self, changes: dict[str, dict[str, Any]]) -> None:
        ids = list(changes)
        for lo in range(0, len(ids), BATCH):
            part = ids[lo : lo + BATCH]
            self.chunks.update(ids=part, metadatas=[changes[i] for i in part])

    # ---- reads ----------------------------------------------------------------------------------------------

    def count(self) -> int:
        return self.chunks.count()

    def sizes(self) -> tuple[int, int]:
        return self.chunks.count(), self.windows.count()

    def _pages(self, include: list[str], where: dict | None = None, where_document: dict | None = None) -> Iterator[dict]:
        offset = 0
        while True:
            got = self.chunks.get(where=where, where_document=where_document, include=include, limit=BATCH, offset=offset)
            if not got["ids"]:
                return
            yield got
            offset += len(got["ids"])

    def vectors(self, doc_ids: set[str] | None = None) -> tuple[list[str], list[str], list[str], np.ndarray]:
        """Ids, texts, stored topics and first-window vectors of every chunk (or of those documents), in one pass."""
        ids, texts, topics, rows = [], [], [], []
        wheres = [None] if doc_ids is None else [_any_of("doc_id", part) for part in _slices(sorted(doc_ids))]
        for where in wheres:
            for got in self._pages(["documents", "metadatas", "embeddings"], where):
                ids += got["ids"]
                texts += got["documents"]
                topics += [m.get("topics", "") for m in got["metadatas"]]
                rows.append(np.asarray(got["embeddings"], dtype=np.float32))
        return ids, texts, topics, np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def get_chunks(self, ids: list[str]) -> dict[str, Chunk]:
        if not ids:
            return {}
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        return {i: chunk_from(i, t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])}

    def documents_of(self, ids: list[str]) -> set[str]:
        """The documents the chunks ``ids`` belong to."""
        out: set[str] = set()
        for lo in range(0, len(ids), BATCH):
            out |= {m["doc_id"] for m in self.chunks.get(ids=ids[lo : lo + BATCH], include=["metadatas"])["metadatas"]}
        return out

    def iter_chunks(self, doc_ids: list[str] | None = None, containing: list[str] | None = None) -> Iterator[Chunk]:
        """Chunks, optionally only those of ``doc_ids`` or only those whose text holds any of ``containing``
        (each chunk once)."""
        if (containing is not None and not containing) or (doc_ids is not None and not doc_ids):
            return
        wheres = [None] if doc_ids is None else [_any_of("doc_id", part) for part in _slices(sorted(doc_ids))]
        texts = [None] if containing is None else [
            {"$contains": part[0]} if len(part) == 1 else {"$or": [{"$contains": w} for w in part]} for part in _slices(containing)]
        seen: set[str] = set()
        for where in wheres:
            for text_filter in texts:
                for got in self._pages(["documents", "metadatas"], where, text_filter):
                    for i, t, m in zip(got["ids"], got["documents"], got["metadatas"]):
                        if i not in seen:
                            seen.add(i)
                            yield chunk_from(i, t, m)

    def probe(self, samples: int = 20) -> str:
        """Query the vector index with a few stored vectors; why it fails ("" when every query answers). Two writers
        at once used to leave ids in the vector index that the records no longer have ("Error finding id")."""
        got = self.chunks.get(include=["embeddings"], limit=samples)
        n_results = min(10, self.chunks.count())
        for vector in got["embeddings"] if got["ids"] else []:
            try:
                self.chunks.query(query_embeddings=[vector], n_results=n_results, include=["distances"])
            except Exception as exc:  # noqa: BLE001 - chromadb raises plain errors for a broken index
                return str(exc)
        return ""

    def dense_search(self, vector: np.ndarray, k: int, sizes: tuple[int, int]) -> list[tuple[str, float]]:
        """Chunks by cosine similarity of their best window; ``sizes`` are the two collections' counts (the index
        keeps them per generation: asking Chroma on every query costs two round trips)."""
        n, n_windows = sizes
        if n == 0:
            return []
        windows = None
        if n_windows:
            windows = self._side.submit(self.windows.query, query_embeddings=[vector], n_results=min(2 * k, n_windows),
                                        include=["distances", "metadatas"])
        got = self.chunks.query(query_embeddings=[vector], n_results=min(k, n), include=["distances"])
        best = {cid: 1.0 - dist for cid, dist in zip(got["ids"][0], got["distances"][0])}
        if windows is not None:
            got = windows.result()
            for meta, dist in zip(got["metadatas"][0], got["distances"][0]):
                cid = meta["chunk_id"]
                best[cid] = max(best.get(cid, -1.0), 1.0 - dist)
        return sorted(best.items(), key=lambda kv: -kv[1])[:k]

    def chunk_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """All window vectors of the given chunks, ``(windows, dim)`` each, first window first."""
        out: dict[str, list[np.ndarray]] = {}
        if not ids:
            return {}
        got = self.chunks.get(ids=list(ids), include=["embeddings"])
        for cid, vec in zip(got["ids"], got["embeddings"]):
            out[cid] = [np.asarray(vec, dtype=np.float32)]
        if self.windows.count():
            for part in _slices(list(ids)):
                win = self.windows.get(where=_any_of("chunk_id", part), include=["embeddings", "metadatas"])
                for meta, vec in zip(win["metadatas"], win["embeddings"]):
                    out.setdefault(meta["chunk_id"], []).append(np.asarray(vec, dtype=np.float32))
        return {cid: np.stack(vs) for cid, vs in out.items()}

    def dense_subset(self, vector: np.ndarray, k: int, allowed: set[str] | frozenset[str]) -> list[tuple[str, float]]:
        """Exact search over a filtered subset (filters narrow the corpus, so brute force is cheap and exact)."""
        if not allowed:
            return []
        ids = sorted(allowed)
        best: dict[str, float] = {}
        for lo in range(0, len(ids), BATCH):
            got = self.chunks.get(ids=ids[lo : lo + BATCH], include=["embeddings", "metadatas"])
            if not got["ids"]:
                continue
            sims = np.asarray(got["embeddings"], dtype=np.float32) @ vector
            best.update(zip(got["ids"], sims.tolist()))
            for part in _slices(sorted({m["doc_id"] for m in got["metadatas"]})):
                win = self.windows.get(where=_any_of("doc_id", part), include=["embeddings", "metadatas"])
                if win["ids"]:
                    sims = np.asarray(win["embeddings"], dtype=np.float32) @ vector
                    for meta, sim in zip(win["metadatas"], sims.tolist()):
                        if meta["chunk_id"] in best:
                            best[meta["chunk_id"]] = max(best[meta["chunk_id"]], sim)
        return sorted(best.items(), key=lambda kv: -kv[1])[:k]
