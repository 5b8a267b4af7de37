"""The manifest kept in the Chroma server (``index.chroma_url``), so every node that shares the server shares it.

With a local manifest, node B knew nothing of the documents node A wrote to the server: ``rag list`` on B missed
them, a delete on B left them searchable on A, and ``rag doctor --repair`` on B took A's chunks for orphans and
deleted them. Here the documents and the generation counter live in the server, in a ``documents`` collection
beside ``chunks`` and ``windows``; only the folders this node syncs (paths on this machine) stay in its local
manifest, and its folder keeps caches it can rebuild from the server (BM25, the embedding cache).

A document being written carries its writer (host and process) and the time it last wrote: another node hides it
from searches until it is ``ok``, and takes it over (drops its chunks for re-ingestion) only when its writer is
gone: a dead process on the same host, or no write for ``LEASE_S`` seconds.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
from collections.abc import Iterable
from typing import Any

from rag.core.errors import RagError
from rag.store.manifest import EXCLUDED, EXCLUDED_REASON, DocRecord, Manifest

COLLECTION = "documents"
LEASE_S = 600.0  # a write silent this long is taken for a crashed node's (every part written renews it)
LOCAL_STATE = frozenset({"roots"})  # the folders this machine syncs; the rest describes the shared index
_CHANGE = "change:"  # ids of the notes of which documents a generation changed
KEEP_CHANGES_NS = 14 * 86400 * 10**9  # notes are kept two weeks; a node whose keyword index is older rebuilds it
CLOCKS_NS = 300 * 10**9  # how far apart two nodes' clocks may be
_STATE = "state:"  # ids of the shared state records ("state:generation", ...), beside the documents' own ids
_VECTOR = [1.0]  # Chroma keeps a vector with every record; these records are never searched by one


def node_id() -> str:
    """This writer: its host, its process, and which of the process's indexes (two may write one server)."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**8):08x}"


class SharedManifest:
    """``Manifest``'s interface over a Chroma collection; ``local`` is this node's own manifest (local state, and the
    documents of an index that kept its manifest locally before, copied to the server once)."""

    def __init__(self, collection: Any, local: Manifest):
        self.local = local
        self._docs = collection  # ChromaStore.collection(COLLECTION)
        self._node = node_id()
        if old := local.documents():  # written by this node when the manifest was kept locally: moved to the server
            there = set(self._docs.get(ids=[d.doc_id for d in old], include=[])["ids"])
            moving = [d for d in old if d.doc_id not in there]
            for status in sorted({d.status for d in moving}):
                same = [d for d in moving if d.status == status]
                self._write(same, status, [d.chunks for d in same], [d.error for d in same])
            try:  # once, or a document another node deletes later would come back from here
                for d in old:
                    local.remove(d.doc_id)
            except RagError:  # a read-only folder keeps its copy; the server's records stand
                pass

    def close(self) -> None:
        self.local.close()

    # ---- state ------------------------------------------------------------------------------------------------

    def state(self, key: str, default: str = "") -> str:
        if key in LOCAL_STATE:
            return self.local.state(key, default)
        got = self._docs.get(ids=[_STATE + key], include=["metadatas"])
        return str(got["metadatas"][0].get("value", default)) if got["ids"] else default

    def set_state(self, key: str, value: str) -> None:
        if key in LOCAL_STATE:
            self.local.set_state(key, value)
        else:
            self._docs.upsert(ids=[_STATE + key], embeddings=[_VECTOR], metadatas=[{"kind": "state", "value": value}])

    @property
    def generation(self) -> int:
        return int(self.state("generation", "0"))

    def bump(self, doc_ids: Iterable[str] = ()) -> None:
        """A new generation, noting which documents changed (``doc_ids``) so that every node brings its keyword index
        up to date with those alone. The note is written first: a node that sees the generation finds it."""
        # two nodes writing at once must not both move to N + 1 (one would keep a keyword index missing the other's
        # write): a new generation is unique, not merely larger, and about the time it was made, in nanoseconds
        new = max(self.generation + 1, time.time_ns() + random.randrange(1000))
        if ids := sorted(set(doc_ids)):
            self._docs.upsert(ids=[f"{_CHANGE}{new}"], embeddings=[_VECTOR],
                              metadatas=[{"kind": "change", "at": new, "doc_ids": json.dumps(ids)}])
        self.set_state("generation", str(new))
        if random.random() < 0.01:  # now and then, notes older than any node should still need
            self._docs.delete(where={"$and": [{"kind": "change"}, {"at": {"$lt": new - KEEP_CHANGES_NS}}]})

    def changed_since(self, generation: int) -> set[str] | None:
        """The documents changed since ``generation``, or None when the notes may not reach back that far. Notes
        from a little before it are read too: generations come from several machines' clocks, and reading a
        document again is harmless."""
        if generation < time.time_ns() - KEEP_CHANGES_NS // 2:
            return None
        got = self._docs.get(where={"$and": [{"kind": "change"}, {"at": {"$gt": generation - CLOCKS_NS}}]},
                             include=["metadatas"])
        return {d for m in got["metadatas"] for d in json.loads(m["doc_ids"])}

    # ---- documents --------------------------------------------------------------------------------------------

    def _records(self, where: dict) -> list[dict]:
        got = self._docs.get(where=where, include=["metadatas"])
        return [{**m, "doc_id": i} for i, m in zip(got["ids"], got["metadatas"])]

    def documents(self) -> list[DocRecord]:
        rows = self._records({"kind": "document"})
        return sorted((_record(m) for m in rows), key=lambda d: d.source)

    def indexing(self) -> set[str]:
        return {m["doc_id"] for m in self._records({"$and": [{"kind": "document"}, {"status": "indexing"}]})}

    def abandoned(self) -> list[DocRecord]:
        """Documents left half-written by a writer that is gone (see the module's note); a live writer's are kept."""
        rows = self._records({"$and": [{"kind": "document"}, {"status": "indexing"}]})
        return [_record(m) for m in rows if not _alive(m.get("writer", ""), float(m.get("updated", 0.0)), self._node)]

    def record_failure(self, doc_id: str, source: str, path: str, error: str) -> None:
        got = self._docs.get(ids=[doc_id], include=["metadatas"])
        if got["ids"] and int(got["metadatas"][0].get("chunks", 0)) > 0:  # a document indexed before keeps its chunks
            self._docs.update(ids=[doc_id], metadatas=[{"error": error, "updated": time.time()}])
            return
        record = DocRecord(doc_id, source, path, "", 0, 0.0, "failed", error, 0, "", {})
        self._write([record], "failed", [0], [error])

    def upsert(self, records: list[DocRecord], status: str, chunks: list[int] | None = None) -> None:
        self._write(records, status, [r.chunks for r in records] if chunks is None else chunks, [""] * len(records))

    def _write(self, records: list[DocRecord], status: str, chunks: list[int], errors: list[str]) -> None:
        if not records:
            return
        now = time.time()
        self._docs.upsert(
            ids=[r.doc_id for r in records], embeddings=[_VECTOR] * len(records),
            metadatas=[{"kind": "document", "source": r.source, "path": r.path, "sha256": r.sha256 or "",
                        "size": int(r.size or 0), "mtime": float(r.mtime or 0.0), "status": status, "error": e,
                        "chunks": int(n), "title": r.title or "", "meta": json.dumps(r.meta), "updated": now,
                        "writer": self._node if status == "indexing" else ""} for r, n, e in zip(records, chunks, errors)])

    def set_status(self, doc_id: str, status: str) -> None:
        if self._docs.get(ids=[doc_id])["ids"]:
            self._docs.update(ids=[doc_id], metadatas=[{"status": status, "updated": time.time(),
                                                        "writer": self._node if status == "indexing" else ""}])

    def renew(self, doc_id: str) -> None:
        """A long write goes on: its lease starts again."""
        self._docs.update(ids=[doc_id], metadatas=[{"updated": time.time()}])

    def exclude(self, doc_id: str) -> None:
        self._docs.update(ids=[doc_id], metadatas=[{"status": EXCLUDED, "chunks": 0, "error": EXCLUDED_REASON, "meta": "{}",
                                                    "updated": time.time(), "writer": ""}])

    def remove(self, doc_id: str) -> None:
        self._docs.delete(ids=[doc_id])

    def touch(self, doc_id: str, size: int, mtime: float) -> None:
        self._docs.update(ids=[doc_id], metadatas=[{"size": int(size), "mtime": float(mtime)}])


def _record(m: dict) -> DocRecord:
    return DocRecord(m["doc_id"], m.get("source", ""), m.get("path", ""), m.get("sha256", ""), int(m.get("size", 0)),
                     float(m.get("mtime", 0.0)), m.get("status", ""), m.get("error", ""), int(m.get("chunks", 0)),
                     m.get("title", ""), json.loads(m.get("meta") or "{}"))


def _alive(writer: str, updated: float, me: str) -> bool:
    """Whether the writer that marked a document ``indexing`` may still be writing it. ``me`` asks holding its index's
    write lock, so a write of its own did not finish."""
    if writer == me:
        return False
    host, pid, _ = (writer.split(":") + ["", ""])[:3]
    if host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid():  # this machine: ask the system
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process, alive
            pass
        return True
    return time.time() - updated < LEASE_S  # another machine, or another index of this process
