"""The index on disk: Chroma (source of truth), a derived BM25 index, and a SQLite manifest of documents.

Layout under the index folder: ``chroma/`` (embedded Chroma), ``bm25/`` (see ``rag.bm25``),
``manifest.sqlite3``, ``topics.npz`` (see ``rag.topics``). This is the only module that imports chromadb.

Chroma holds two collections: ``chunks`` (one record per chunk: text, metadata and the vector of its first
window) and ``windows`` (extra vectors for chunks longer than the embedder reads; a chunk scores by its best
window). Every write of a document is bracketed by manifest states (``indexing`` -> ``ok``), so a crash
halfway leaves a document marked incomplete, which the next run cleans and re-ingests. Searches and writes
share a readers-writer lock, so a search sees each document whole (``rag.rwlock``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag import analyzer
from rag.bm25 import Bm25Index
from rag.errors import IndexError_
from rag.rwlock import ReadWriteLock
from rag.types import Chunk

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT, size INTEGER, mtime REAL,
    status TEXT NOT NULL, error TEXT, chunks INTEGER DEFAULT 0, title TEXT, meta TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);
"""
BATCH = 2000  # Chroma rejects very large batches; keep writes in slices


@dataclass(frozen=True)
class DocRecord:
    doc_id: str
    source: str
    path: str
    sha256: str
    size: int
    mtime: float
    status: str  # ok | indexing | failed
    error: str
    chunks: int
    title: str
    meta: dict


class _ChromaEmbeddingFunction:
    """Given to Chroma explicitly so it never loads (or downloads) its default model."""

    def __init__(self, encode: Any = None):
        self._encode = encode

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        if self._encode is None:
            raise IndexError_("this index embeds with situated-rag's own model; pass vectors, not texts")
        return list(self._encode(list(input)))

    @staticmethod
    def name() -> str:
        return "situated-rag"

    def get_config(self) -> dict:
        return {}

    @staticmethod
    def build_from_config(config: dict) -> _ChromaEmbeddingFunction:
        return _ChromaEmbeddingFunction()

    def is_legacy(self) -> bool:
        return False


def _meta_for(chunk: Chunk) -> dict[str, Any]:
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
    }


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
    )


def _of_documents(doc_ids: set[str] | None) -> dict | None:
    return None if doc_ids is None else {"doc_id": {"$in": sorted(doc_ids)}}


def bm25_fields(chunk: Chunk) -> dict[str, str]:
    """The text each BM25 field indexes for a chunk."""
    return {
        "text": chunk.text,
        "context": " ".join(filter(None, (chunk.title, chunk.section, chunk.context))),
        "keyphrases": " ; ".join(chunk.keyphrases),
        "acronyms": " ; ".join(a.replace("=", " ") for a in chunk.acronyms),
    }


class Index:
    def __init__(self, path: str | Path, chroma_url: str = "", chroma_token: str = "", k1: float = 1.2, b: float = 0.75):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.k1, self.b = k1, b
        self._lock = threading.RLock()  # one BM25 rebuild at a time
        self._rw = ReadWriteLock()  # searches read side by side; each document write runs alone
        self.reading = self._rw.reading
        self.ingesting = threading.Lock()  # one sync at a time per index (UI button and API alike)
        self._db = sqlite3.connect(self.path / "manifest.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._client = self._connect(chroma_url, chroma_token)
        ef = _ChromaEmbeddingFunction()
        space = {"hnsw": {"space": "cosine"}}
        self.chunks = self._client.get_or_create_collection("chunks", embedding_function=ef, configuration=space)
        self.windows = self._client.get_or_create_collection("windows", embedding_function=ef, configuration=space)
        self._bm25: Bm25Index | None = None
        self._derived: dict[str, tuple[int, Any]] = {}  # values derived from the index, per generation
        # the windows collection is queried beside the chunks one (Chroma releases the GIL while it searches)
        self._side = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rag-windows")

    def _connect(self, url: str, token: str) -> Any:
        import chromadb

        settings = chromadb.Settings(anonymized_telemetry=False)
        if not url:
            return chromadb.PersistentClient(str(self.path / "chroma"), settings=settings)
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

    def close(self) -> None:
        self._side.shutdown(wait=False)
        self._db.close()

    # ---- manifest -------------------------------------------------------------------------------------------

    def state(self, key: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.state("generation", "0"))

    def _bump(self) -> None:
        self.set_state("generation", str(self.generation + 1))

    def documents(self) -> list[DocRecord]:
        rows = self._db.execute(
            "SELECT doc_id, source, path, sha256, size, mtime, status, error, chunks, title, meta FROM documents ORDER BY source"
        ).fetchall()
        return [DocRecord(*r[:10], json.loads(r[10] or "{}")) for r in rows]

    def record_failure(self, doc_id: str, source: str, path: str, error: str) -> None:
        """Note a failed file; a document indexed before keeps its chunks (nothing is lost by a bad edit)."""
        with self._rw.writing():
            self._db.execute(
                "INSERT INTO documents (doc_id, source, path, status, error, updated) VALUES (?, ?, ?, 'failed', ?, ?) "
                "ON CONFLICT(doc_id) DO UPDATE SET error = excluded.error, updated = excluded.updated, "
                "status = CASE WHEN documents.chunks > 0 THEN documents.status ELSE 'failed' END",
                (doc_id, source, path, error, time.time()),
            )

    # ---- writes ---------------------------------------------------------------------------------------------

    def write_document(self, record: DocRecord, chunks: list[Chunk], vectors: list[np.ndarray]) -> None:
        """Replace a document's chunks. ``vectors[i]`` holds the window vectors of ``chunks[i]`` (>= 1 row)."""
        self.write_documents([(record, chunks, vectors)])

    def write_documents(self, items: list[tuple[DocRecord, list[Chunk], list[np.ndarray]]]) -> None:
        """Replace several documents' chunks in one pass (one delete and a few upserts, not a round of Chroma
        calls per document). Runs under the write lock, so a concurrent search sees each document's old
        chunks or its new ones, never a mix; all are marked ``indexing`` until the last write lands."""
        if not items:
            return
        with self._rw.writing():
            self._db.execute("BEGIN")
            for record, _, _ in items:
                self._upsert_record(record, "indexing")
            self._db.execute("COMMIT")
            doc_ids = sorted({record.doc_id for record, _, _ in items})
            for lo in range(0, len(doc_ids), BATCH):
                self._delete_vectors(doc_ids[lo : lo + BATCH])
            self.append_chunks([c for _, cs, _ in items for c in cs], [v for _, _, vs in items for v in vs])
            self._db.execute("BEGIN")
            for record, chunks, _ in items:
                self._upsert_record(record, "ok", len(chunks))
            self._db.execute("COMMIT")
            self._bump()

    def begin_document(self, record: DocRecord) -> None:
        """Start replacing a document part by part (files too large to hold in memory): its old chunks go,
        and until ``finish_document`` searches do not see it (see ``incomplete``)."""
        with self._rw.writing():
            self._upsert_record(record, "indexing")
            self._delete_vectors([record.doc_id])
            self._bump()

    def append_chunks(self, chunks: list[Chunk], vectors: list[np.ndarray]) -> None:
        with self._rw.writing():
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

    def finish_document(self, record: DocRecord, chunks: int) -> None:
        with self._rw.writing():
            self._upsert_record(record, "ok", chunks)
            self._bump()

    def incomplete(self) -> set[str]:
        """Documents being written part by part (or left half-written by a crash): hidden from searches."""
        return self._per_generation(
            "incomplete", lambda: {r[0] for r in self._db.execute("SELECT doc_id FROM documents WHERE status = 'indexing'")})

    def touch(self, doc_id: str, size: int, mtime: float) -> None:
        """Remember a new size/mtime for a file whose content did not change, so the next scan skips hashing."""
        self._db.execute("UPDATE documents SET size = ?, mtime = ? WHERE doc_id = ?", (size, mtime, doc_id))

    def _upsert_record(self, r: DocRecord, status: str, chunks: int | None = None) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)",
            (r.doc_id, r.source, r.path, r.sha256, r.size, r.mtime, status, r.chunks if chunks is None else chunks,
             r.title, json.dumps(r.meta), time.time()),
        )

    def _delete_vectors(self, doc_ids: list[str]) -> None:
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": doc_ids}}
        self.chunks.delete(where=where)
        self.windows.delete(where=where)

    def update_metadata(self, changes: dict[str, dict[str, Any]]) -> None:
        """Merge metadata fields into existing chunks (acronyms defined elsewhere, corpus topics)."""
        with self._rw.writing():
            ids = list(changes)
            for lo in range(0, len(ids), BATCH):
                part = ids[lo : lo + BATCH]
                self.chunks.update(ids=part, metadatas=[changes[i] for i in part])
            if ids:
                self._bump()

    def vectors(self, doc_ids: set[str] | None = None) -> tuple[list[str], list[str], list[str], np.ndarray]:
        """Ids, texts, stored topics and first-window vectors of every chunk (or of those documents), in one pass."""
        ids, texts, topics, rows = [], [], [], []
        offset = 0
        where = _of_documents(doc_ids)
        while doc_ids is None or doc_ids:
            got = self.chunks.get(where=where, include=["documents", "metadatas", "embeddings"], limit=BATCH, offset=offset)
            if not got["ids"]:
                break
            ids += got["ids"]
            texts += got["documents"]
            topics += [m.get("topics", "") for m in got["metadatas"]]
            rows.append(np.asarray(got["embeddings"], dtype=np.float32))
            offset += len(got["ids"])
        return ids, texts, topics, np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def delete_document(self, doc_id: str) -> None:
        with self._rw.writing():
            self._db.execute("UPDATE documents SET status = 'indexing' WHERE doc_id = ?", (doc_id,))
            self._delete_vectors([doc_id])
            self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            self._bump()

    def repair(self) -> list[str]:
        """Drop the chunks of documents whose write never finished; return their sources for re-ingestion."""
        broken = [d for d in self.documents() if d.status == "indexing"]
        for d in broken:
            log.warning("%s was being indexed when a previous run stopped; its chunks are removed", d.source)
            self.delete_document(d.doc_id)
        return [d.source for d in broken]

    def doctor(self, repair: bool = False) -> list[str]:
        """Consistency problems between the manifest, Chroma and BM25; with ``repair``, fix what can be fixed
        (half-written documents and orphan vectors are removed, so the next ingest re-adds them; BM25 is rebuilt)."""
        problems = []
        docs = {d.doc_id: d for d in self.documents()}
        counts: dict[str, int] = {}
        for chunk in self.iter_chunks():
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        for d in docs.values():
            if d.status == "indexing":
                problems.append(f"{d.source}: a write did not finish (will be re-ingested)")
            elif d.status == "ok" and counts.get(d.doc_id, 0) != d.chunks:
                problems.append(f"{d.source}: manifest says {d.chunks} chunks, Chroma holds {counts.get(d.doc_id, 0)}")
        orphans = [doc_id for doc_id in counts if doc_id not in docs or docs[doc_id].status == "failed" and not docs[doc_id].chunks]
        problems += [f"{counts[o]} chunks of unknown document {o}" for o in orphans]
        bm25 = Bm25Index.load(self.path / "bm25")
        if bm25 is not None and bm25.stamp.get("generation") != self.generation:
            problems.append("BM25 index is stale (it is rebuilt on the next search)")
        if repair:
            for d in docs.values():
                if d.status == "indexing" or (d.status == "ok" and counts.get(d.doc_id, 0) != d.chunks):
                    self.delete_document(d.doc_id)
            for o in orphans:
                with self._rw.writing():
                    self._delete_vectors([o])
                    self._bump()
            self._bm25 = None
            self.bm25()
        return problems

    # ---- reads ----------------------------------------------------------------------------------------------

    def count(self) -> int:
        return self.chunks.count()

    def _sizes(self) -> tuple[int, int]:
        """Chunk and extra-window counts, asked of Chroma once per generation, not on every query."""
        return self._per_generation("sizes", lambda: (self.chunks.count(), self.windows.count()))

    def _per_generation(self, name: str, compute: Any) -> Any:
        """``compute()``, remembered until the next write (searches ask for these on every query)."""
        generation = self.generation
        cached = self._derived.get(name)
        if cached is None or cached[0] != generation:
            cached = self._derived[name] = (generation, compute())
        return cached[1]

    def get_chunks(self, ids: list[str]) -> dict[str, Chunk]:
        if not ids:
            return {}
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        return {i: chunk_from(i, t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])}

    def iter_chunks(self, where: dict | None = None, containing: list[str] | None = None) -> Iterator[Chunk]:
        """Chunks, optionally filtered by metadata (``where``) and by text holding any of ``containing``."""
        if containing is not None and not containing:
            return
        text_filter = None
        if containing:
            ors = [{"$contains": word} for word in containing]
            text_filter = ors[0] if len(ors) == 1 else {"$or": ors}
        offset = 0
        while True:
            got = self.chunks.get(where=where, where_document=text_filter, include=["documents", "metadatas"],
                                  limit=BATCH, offset=offset)
            if not got["ids"]:
                return
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"]):
                yield chunk_from(i, t, m)
            offset += len(got["ids"])

    def dense_search(self, vector: np.ndarray, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        """Chunks by cosine similarity of their best window; ``allowed`` restricts the search to those chunks."""
        if allowed is not None:
            return self._dense_subset(vector, k, allowed)
        n, n_windows = self._sizes()
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
            win = self.windows.get(where={"chunk_id": {"$in": list(ids)}}, include=["embeddings", "metadatas"])
            for meta, vec in zip(win["metadatas"], win["embeddings"]):
                out.setdefault(meta["chunk_id"], []).append(np.asarray(vec, dtype=np.float32))
        return {cid: np.stack(vs) for cid, vs in out.items()}

    def _dense_subset(self, vector: np.ndarray, k: int, allowed: set[str]) -> list[tuple[str, float]]:
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
            doc_ids = sorted({m["doc_id"] for m in got["metadatas"]})
            win = self.windows.get(where={"doc_id": {"$in": doc_ids}}, include=["embeddings", "metadatas"])
            if win["ids"]:
                sims = np.asarray(win["embeddings"], dtype=np.float32) @ vector
                for meta, sim in zip(win["metadatas"], sims.tolist()):
                    if meta["chunk_id"] in best:
                        best[meta["chunk_id"]] = max(best[meta["chunk_id"]], sim)
        return sorted(best.items(), key=lambda kv: -kv[1])[:k]

    def bm25(self) -> Bm25Index:
        """The BM25 index for the current generation, rebuilt from Chroma when stale."""
        with self._lock:
            stamp = {"generation": self.generation, "analyzer": analyzer.VERSION, "k1": self.k1, "b": self.b}
            if self._bm25 is not None and self._bm25.stamp == stamp:
                return self._bm25
            loaded = Bm25Index.load(self.path / "bm25")
            if loaded is not None and {k: loaded.stamp.get(k) for k in stamp} == stamp:
                loaded.stamp = stamp
                self._bm25 = loaded
                return loaded
            chunks = list(self.iter_chunks())
            fields = [bm25_fields(c) for c in chunks]
            texts = {name: [f[name] for f in fields] for name in ("text", "context", "keyphrases", "acronyms")}
            self._bm25 = Bm25Index.build([c.id for c in chunks], texts, self.k1, self.b, stamp)
            self._bm25.save(self.path / "bm25")
            return self._bm25
