"""``rag doctor``: do the manifest, Chroma and BM25 agree? With ``repair``, fix what can be fixed."""

from __future__ import annotations

from rag.store.index import Index
from rag.store.manifest import CORPUS_PENDING


def doctor(index: Index, repair: bool = False) -> list[str]:
    """Consistency problems between the manifest, Chroma and BM25; with ``repair``, half-written documents and
    orphan vectors are removed (so the next ingest re-adds them) and BM25 is rebuilt."""
    problems = []
    docs = {d.doc_id: d for d in index.documents()}
    abandoned = {d.doc_id for d in index.manifest.abandoned()}  # on a shared server, not another node's live write
    counts: dict[str, int] = {}
    for chunk in index.iter_chunks():
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    for d in docs.values():
        if d.status == "indexing" and d.doc_id in abandoned:
            problems.append(f"{d.source}: a write did not finish (will be re-ingested)")
        elif d.status == "indexing":
            continue  # another node is writing it now
        elif d.status == "ok" and counts.get(d.doc_id, 0) != d.chunks:
            problems.append(f"{d.source}: manifest says {d.chunks} chunks, Chroma holds {counts.get(d.doc_id, 0)}")
    orphans = [doc_id for doc_id in counts if doc_id not in docs or docs[doc_id].status == "failed" and not docs[doc_id].chunks]
    problems += [f"{counts[o]} chunks of unknown document {o}" for o in orphans]
    broken = index.store.probe()
    if broken:
        problems.append(f"Chroma's vector index does not answer queries ({broken}): ingest into a new --index folder")
    if index.state(CORPUS_PENDING):
        problems.append("corpus metadata (acronyms, topics) was not brought up to date after the last change "
                        "(it is on the next ingest)")
    # a BM25 index older than the last write is no problem: the next search rebuilds it (and so does --repair)
    if repair:
        for d in docs.values():
            if d.doc_id in abandoned or (d.status == "ok" and counts.get(d.doc_id, 0) != d.chunks):
                index.delete_document(d.doc_id)
        if orphans:
            index.delete_orphans(orphans)
        index.forget_bm25()
        index.bm25()
    return problems
