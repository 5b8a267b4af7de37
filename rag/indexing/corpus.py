"""Corpus-wide metadata, brought up to date after documents are written or removed: the acronyms every
chunk uses (a glossary defines, a log only abbreviates) and the corpus topics."""

from __future__ import annotations

import json

from ingest.metadata import acronyms_in
from rag.core.config import MetadataConfig
from rag.core.errors import RagError
from rag.indexing import topics
from rag.retrieval.acronyms import CorpusAcronyms
from rag.store.index import Index


class CorpusMetadata:
    def __init__(self, index: Index, config: MetadataConfig, acronyms: CorpusAcronyms, signature: dict):
        self.index = index
        self.config = config
        self.acronyms = acronyms
        self.signature = signature  # what the index was built with (checked when it is opened)

    def check_embedder(self, where: str) -> None:
        """An index is searched with the model that embedded it."""
        stored = json.loads(self.index.state("signature") or "{}").get("embed.model")
        if stored and self.index.count() and stored != self.signature["embed.model"]:
            raise RagError(f"the index at {where} was built with embedding model {stored!r}, "
                           f"not {self.signature['embed.model']!r}: use that model, or a new --index folder")

    def refresh_acronyms(self) -> dict[str, dict[str, str]]:
        """Publish the corpus's acronyms for query expansion; returns each document's own definitions."""
        per_doc = {d.doc_id: d.meta.get("acronyms", {}) for d in self.index.documents()}
        merged: dict[str, str] = {}
        for acronyms in per_doc.values():
            for short, long in acronyms.items():
                merged.setdefault(short, long)
        self.acronyms.publish(merged)
        return per_doc

    def after_changes(self, before: dict[str, str], written: set[str]) -> None:
        """Touch only what the change can affect: the written documents' chunks, and chunks whose text uses a
        short form whose definition appeared, changed or went."""
        self.index.set_state("signature", json.dumps(self.signature))
        per_doc = self.refresh_acronyms()
        if not self.config.enabled:
            return
        merged = self.acronyms.current
        changed = sorted(s for s in before.keys() | merged.keys() if before.get(s) != merged.get(s))
        affected = {c.id: c for c in self.index.iter_chunks(containing=changed)}
        if written:
            affected.update((c.id, c) for c in self.index.iter_chunks(doc_ids=sorted(written)))
        updates = {}
        for chunk in affected.values():
            wanted = acronyms_in(chunk.text, {**merged, **per_doc.get(chunk.doc_id, {})})
            if wanted != chunk.acronyms:
                updates[chunk.id] = {"acronyms": "; ".join(wanted)}
        self.index.update_metadata(updates)
        self._refresh_topics(written)

    def _refresh_topics(self, written: set[str]) -> None:
        requested, path = self.config.topics, self.index.path / "topics.npz"
        model = topics.TopicModel.load(path)
        if model is not None and model.fits(self.index.count(), requested):
            ids, _, stored, vectors = self.index.vectors(written)
            labels = dict(zip(ids, model.nearest(vectors)))
        else:
            ids, texts, stored, vectors = self.index.vectors()
            labels, model = topics.fit(ids, texts, vectors, requested)
            if model is not None:
                model.save(path)
        current = dict(zip(ids, stored))
        self.index.update_metadata({i: {"topics": t} for i, t in labels.items() if current.get(i) != t})
