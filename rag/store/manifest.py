"""The manifest: a SQLite table of documents (path, sha256, status, recipe, errors, acronyms) and a key-value state.

A document's status brackets every write of its chunks (``indexing`` -> ``ok``), so a crash halfway leaves it
marked incomplete; ``failed`` notes a file that could not be read (a document indexed before keeps its chunks).
The ``generation`` counter goes up with every write: derived data (BM25, cached counts) is stamped with it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.store.storage import Guarded

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT, size INTEGER, mtime REAL,
    status TEXT NOT NULL, error TEXT, chunks INTEGER DEFAULT 0, title TEXT, meta TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);
"""


# a document status: deleted by the user, its file left where it is; syncs of its folder leave it out
EXCLUDED = "excluded"
EXCLUDED_REASON = "deleted by the user: a sync of its folder leaves it out (ingest the file itself to add it back)"

# a manifest state: documents were written and the corpus-wide step (acronyms per chunk, topics) has not run yet;
# a run killed in between leaves it set, and the next sync finishes the step
CORPUS_PENDING = "corpus_pending"


@dataclass(frozen=True)
class DocRecord:
    doc_id: str
    source: str
    path: str
    sha256: str
    size: int
    mtime: float
    status: str  # ok | indexing | failed | excluded
    error: str
    chunks: int
    title: str
    meta: dict


class Manifest:
    def __init__(self, path: Path, read_only: bool = False):
        if read_only:
            # nobody can write a read-only folder, so the file is taken as unchanging: SQLite then needs no lock or
            # WAL index file beside it (which it could not create there)
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False,
                                 isolation_level=None)
        else:
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db = Guarded(db, path.parent, (sqlite3.Error,))
        if not read_only:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def state(self, key: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.state("generation", "0"))

    def bump(self, doc_ids: Iterable[str] = ()) -> None:
        """A new generation: something changed (``doc_ids``, the documents whose chunks did)."""
        self.set_state("generation", str(self.generation + 1))

    def changed_since(self, generation: int) -> set[str] | None:
        """The documents changed since ``generation``; None when this manifest does not say (one machine's index,
        whose keyword index is rebuilt from the local store instead)."""
        return None

    def documents(self) -> list[DocRecord]:
        rows = self._db.execute(
            "SELECT doc_id, source, path, sha256, size, mtime, status, error, chunks, title, meta FROM documents ORDER BY source"
        ).fetchall()
        return [DocRecord(*r[:10], json.loads(r[10] or "{}")) for r in rows]

    def indexing(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT doc_id FROM documents WHERE status = 'indexing'")}

    def abandoned(self) -> list[DocRecord]:
        """Documents a write left half-done: every ``indexing`` one, since one machine's writers take turns under the
        index's write lock (``rag.store.writer_lock``)."""
        return [d for d in self.documents() if d.status == "indexing"]

    def renew(self, doc_id: str) -> None:
        """A long write goes on (the shared manifest renews its lease; one machine's needs none)."""

    def record_failure(self, doc_id: str, source: str, path: str, error: str) -> None:
        self._db.execute(
            "INSERT INTO documents (doc_id, source, path, status, error, updated) VALUES (?, ?, ?, 'failed', ?, ?) "
            "ON CONFLICT(doc_id) DO UPDATE SET error = excluded.error, updated = excluded.updated, "
            "status = CASE WHEN documents.chunks > 0 THEN documents.status ELSE 'failed' END",
            (doc_id, source, path, error, time.time()),
        )

    def upsert(self, records: list[DocRecord], status: str, chunks: list[int] | None = None) -> None:
        """Write records with ``status`` (and chunk counts, else the records' own) in one transaction."""
        self._db.execute("BEGIN")
        for n, r in enumerate(records):
            self._db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)",
                (r.doc_id, r.source, r.path, r.sha256, r.size, r.mtime, status, r.chunks if chunks is None else chunks[n],
                 r.title, json.dumps(r.meta), time.time()),
            )
        self._db.execute("COMMIT")

    def set_status(self, doc_id: str, status: str) -> None:
        self._db.execute("UPDATE documents SET status = ? WHERE doc_id = ?", (status, doc_id))

    def exclude(self, doc_id: str) -> None:
        # nothing of it stays in the corpus: its acronyms leave with its chunks
        self._db.execute("UPDATE documents SET status = ?, chunks = 0, error = ?, meta = '{}', updated = ? WHERE doc_id = ?",
                         (EXCLUDED, EXCLUDED_REASON, time.time(), doc_id))

    def remove(self, doc_id: str) -> None:
        self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    def touch(self, doc_id: str, size: int, mtime: float) -> None:
        self._db.execute("UPDATE documents SET size = ?, mtime = ? WHERE doc_id = ?", (size, mtime, doc_id))
