"""The index on disk: Chroma (source of truth for chunks and vectors), a derived BM25 index and the manifest,
kept consistent under one readers-writer lock.

Layout under the index folder: ``chroma/`` (``rag.store.chroma``), ``bm25/`` (``rag.store.bm25``),
``manifest.sqlite3`` (``rag.store.manifest``), ``topics.npz`` (``rag.indexing.topics``). Every write of a
document is bracketed by manifest states (``indexing`` -> ``ok``), so a crash halfway leaves it marked
incomplete, which the next run cleans and re-ingests; searches hold the read side, so they see each document
whole (``rag.store.rwlock``).
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rag.core import analyzer
from rag.core.errors import IndexError_
from rag.core.progress import KEYWORDS, Report, silent
from rag.core.types import Chunk
from rag.store.bm25 import Bm25Index
from rag.store.chroma import ChromaStore
from rag.store.manifest import DocRecord, Manifest
from rag.store.rwlock import ReadWriteLock
from rag.store.shared_manifest import COLLECTION, SharedManifest
from rag.store.storage import failure, writable
from rag.store.writer_lock import WriterLock

log = logging.getLogger(__name__)

__all__ = ["DocRecord", "Index"]


MANIFEST = "manifest.sqlite3"  # what makes a folder an index


def index_folders(paths: list[Path]) -> list[Path]:
    """The indexes named by ``paths``: each an index folder (or a new one), or a folder whose subfolders are
    indexes, which stands for all of them."""
    out: list[Path] = []
    for path in paths:
        inside = sorted(p for p in path.iterdir() if (p / MANIFEST).is_file()) if path.is_dir() else []
        out += inside if inside and not (path / MANIFEST).exists() else [path]
    unique: dict[Path, Path] = {}
    for path in out:  # an index named twice is opened once
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


class Index:
    def __init__(self, path: str | Path, chroma_url: str = "", chroma_token: str = "", k1: float = 1.2, b: float = 0.75):
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise failure(exc, self.path) from None
        self.k1, self.b = k1, b
        self._lock = threading.RLock()  # one BM25 rebuild at a time
        self._rw = ReadWriteLock()  # searches read side by side; each document write runs alone
        self.reading = self._rw.reading
        # a folder this process may not write is searched as it is; any write says why it cannot happen
        self.read_only = not writable(self.path, (MANIFEST, "chroma", "chroma/chroma.sqlite3"))
        if self.read_only and not (self.path / MANIFEST).exists():
            raise IndexError_(f"the index {self.path} is read-only and holds no index yet: give a folder this user may write")
        # one writer at a time per index: threads of this process and other processes alike (UI button, API, CLI)
        self.ingesting = WriterLock(self.path / "write.lock", self.read_only)
        local = Manifest(self.path / MANIFEST, self.read_only)
        if self.read_only or chroma_url:
            self.store = ChromaStore(self.path / "chroma", chroma_url, chroma_token, self.read_only)
        else:  # two processes creating one new store at once race on its tables ("table collections already exists")
            with open(self.path / "open.lock", "a") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                self.store = ChromaStore(self.path / "chroma", chroma_url, chroma_token)
        # with a Chroma server the documents live in it, shared by every node using it; this folder keeps caches
        self.manifest: Manifest | SharedManifest = (SharedManifest(self.store.collection(COLLECTION), local)
                                                    if chroma_url else local)
        self._bm25: Bm25Index | None = None
        self._derived: dict[str, tuple[int, Any]] = {}  # values derived from the index, per generation

    def close(self) -> None:
        self.store.close()
        self.manifest.close()

    # ---- manifest -------------------------------------------------------------------------------------------

    def state(self, key: str, default: str = "") -> str:
        return self.manifest.state(key, default)

    def set_state(self, key: str, value: str) -> None:
        self.manifest.set_state(key, value)

    @property
    def generation(self) -> int:
        return self.manifest.generation

    def documents(self) -> list[DocRecord]:
        return self.manifest.documents()

    def record_failure(self, doc_id: str, source: str, path: str, error: str) -> None:
        """Note a failed file; a document indexed before keeps its chunks (nothing is lost by a bad edit)."""
        with self._rw.writing():
            self.manifest.record_failure(doc_id, source, path, error)

    def touch(self, doc_id: str, size: int, mtime: float) -> None:
        """Remember a new size/mtime for a file whose content did not change, so the next scan skips hashing."""
        self.manifest.touch(doc_id, size, mtime)

    def incomplete(self) -> set[str]:
        """Documents being written part by part (or left half-written by a crash): hidden from searches."""
        return self._per_generation("incomplete", self.manifest.indexing)

    # ---- writes ---------------------------------------------------------------------------------------------

    def write_documents(self, items: list[tuple[DocRecord, list[Chunk], list[np.ndarray]]]) -> None:
        """Replace several documents' chunks in one pass (one delete and a few upserts, not a round of Chroma
        calls per document). Runs under the write lock, so a concurrent search sees each document's old
        chunks or its new ones, never a mix; all are marked ``indexing`` until the last write lands."""
        if not items:
            return
        with self._rw.writing():
            records = [record for record, _, _ in items]
            changed = [r.doc_id for r in records]
            self.manifest.upsert(records, "indexing")
            self.manifest.bump(changed)  # a node reading the same server hides these documents from here on
            self.store.delete_documents(sorted(set(changed)))
            self.store.add([c for _, cs, _ in items for c in cs], [v for _, _, vs in items for v in vs])
            self.manifest.upsert(records, "ok", [len(chunks) for _, chunks, _ in items])
            self.manifest.bump(changed)

    def begin_document(self, record: DocRecord) -> None:
        """Start replacing a document part by part (files too large to hold in memory): its old chunks go,
        and until ``finish_document`` searches do not see it (see ``incomplete``)."""
        with self._rw.writing():
            self.manifest.upsert([record], "indexing")
            self.store.delete_documents([record.doc_id])
            self.manifest.bump([record.doc_id])

    def append_chunks(self, chunks: list[Chunk], vectors: list[np.ndarray]) -> None:
        with self._rw.writing():
            self.store.add(chunks, vectors)
            for doc_id in sorted({c.doc_id for c in chunks}):
                self.manifest.renew(doc_id)

    def finish_document(self, record: DocRecord, chunks: int) -> None:
        with self._rw.writing():
            self.manifest.upsert([record], "ok", [chunks])
            self.manifest.bump([record.doc_id])

    def update_metadata(self, changes: dict[str, dict[str, Any]]) -> None:
        """Merge metadata fields into existing chunks (acronyms defined elsewhere, corpus topics)."""
        with self._rw.writing():
            self.store.update_metadata(changes)
            if changes:
                self.manifest.bump(sorted(self.store.documents_of(list(changes))))

    def delete_document(self, doc_id: str, exclude: bool = False) -> None:
        """Remove a document's chunks and its manifest entry, or with ``exclude`` keep the entry as excluded (see
        ``manifest.EXCLUDED``)."""
        with self._rw.writing():
            self.manifest.set_status(doc_id, "indexing")
            self.store.delete_documents([doc_id])
            if exclude:
                self.manifest.exclude(doc_id)
            else:
                self.manifest.remove(doc_id)
            self.manifest.bump([doc_id])

    def delete_orphans(self, doc_ids: list[str]) -> None:
        """Remove chunks whose document the manifest does not know."""
        with self._rw.writing():
            self.store.delete_documents(doc_ids)
            self.manifest.bump(doc_ids)

    def repair(self) -> list[str]:
        """Drop the chunks of documents whose write never finished; return their sources for re-ingestion. A
        document another node is still writing to a shared server is left to it."""
        broken = self.manifest.abandoned()
        for d in broken:
            log.warning("%s was being indexed when a previous run stopped; its chunks are removed", d.source)
            self.delete_document(d.doc_id)
        return [d.source for d in broken]

    # ---- reads ----------------------------------------------------------------------------------------------

    def count(self) -> int:
        return self.store.count()

    def _per_generation(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, remembered until the next write (searches ask for these on every query)."""
        generation = self.generation
        cached = self._derived.get(name)
        if cached is None or cached[0] != generation:
            cached = self._derived[name] = (generation, compute())
        return cached[1]

    def vectors(self, doc_ids: set[str] | None = None) -> tuple[list[str], list[str], list[str], np.ndarray]:
        return self.store.vectors(doc_ids)

    def get_chunks(self, ids: list[str]) -> dict[str, Chunk]:
        return self.store.get_chunks(ids)

    def iter_chunks(self, doc_ids: list[str] | None = None, containing: list[str] | None = None) -> Iterator[Chunk]:
        return self.store.iter_chunks(doc_ids, containing)

    def chunk_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        return self.store.chunk_vectors(ids)

    def dense_search(self, vector: np.ndarray, k: int, allowed: set[str] | frozenset[str] | None = None) -> list[tuple[str, float]]:
        """Chunks by cosine similarity of their best window; ``allowed`` restricts the search to those chunks."""
        if allowed is not None:
            return self.store.dense_subset(vector, k, allowed)
        return self.store.dense_search(vector, k, self._per_generation("sizes", self.store.sizes))

    def bm25_stamp(self) -> dict:
        return {"generation": self.generation, "analyzer": analyzer.VERSION, "k1": self.k1, "b": self.b}

    def bm25(self, report: Report = silent) -> Bm25Index:
        """The BM25 index for the current generation: the one in memory or saved, brought up to date with only the
        documents that changed where the manifest can say which (a shared server's), else rebuilt from Chroma
        (``report`` counts the chunks read: a new node on a large shared index reads them all once)."""
        with self._lock:
            stamp = self.bm25_stamp()
            if self._bm25 is not None and self._bm25.stamp == stamp:
                return self._bm25
            current = self._bm25 or Bm25Index.load(self.path / "bm25")
            if current is not None and {k: current.stamp.get(k) for k in stamp} == stamp:
                current.stamp = stamp
                self._bm25 = current
                return current
            same_recipe = current is not None and all(current.stamp.get(k) == v for k, v in stamp.items() if k != "generation")
            changed = self.manifest.changed_since(int(current.stamp.get("generation", 0))) if same_recipe else None
            if current is not None and current.updatable and changed is not None:
                self._bm25 = current.updated(changed, list(self.iter_chunks(sorted(changed))), self.k1, self.b, stamp)
            else:
                total = self.store.count()
                chunks = []
                for chunk in self.iter_chunks():
                    chunks.append(chunk)
                    if len(chunks) % 500 == 0:
                        report(KEYWORDS, len(chunks), total)
                self._bm25 = Bm25Index.build(chunks, self.k1, self.b, stamp)
                if chunks:
                    report(KEYWORDS, len(chunks), len(chunks))
            if not self.read_only:  # a read-only index keeps its rebuilt BM25 in memory
                try:
                    self._bm25.save(self.path / "bm25")
                except OSError as exc:  # it is a cache: searching goes on, the next process rebuilds it
                    log.warning("%s", failure(exc, self.path))
            return self._bm25

    def forget_bm25(self) -> None:
        with self._lock:
            self._bm25 = None
