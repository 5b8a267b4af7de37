"""The facade every front end calls: ``Rag.open(path)``, ``.ingest``, ``.search``, ``.ask``, ``.stream``."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from ingest.context import LLM_PROMPT, WriteContext
from ingest.enrich import Prepared, prepare
from ingest.loaders import STREAMABLE, Document, iter_text_parts, load, read_error
from ingest.metadata import acronyms_in
from ingest.sync import Known, SourceFile, file_sha256, plan, recipe, scan
from rag import topics
from rag.compress import compress, evidence_budget, fit_passages, whole
from rag.config import Config, load_config
from rag.errors import IngestError, RagError
from rag.filters import Filters
from rag.generate import (
    HEADER_TOKENS,
    answer_start,
    ask_for_a_sentence,
    build_prompt,
    cite,
    clean_rewrite,
    has_words,
    is_abstention,
    prompt_overhead,
    recite,
    rewrite_messages,
    unsupported,
)
from rag.index import DocRecord, Index
from rag.llm import CHARS_PER_TOKEN, Queued, load_generator
from rag.models import Embedder, default_cache_dir, embedder_for
from rag.rerank import make_reranker
from rag.retrieve import Retriever
from rag.sentences import SentenceIndex
from rag.types import Answer, AnswerDone, Chunk, Event, Failed, FileResult, Hit, IngestReport, RetrievalDone, Token
from rag.vectors import chunk_vectors

if TYPE_CHECKING:
    from langchain_core.documents import Document as LcDocument

    from rag.evaluate import Report
    from rag.langchain import RagRetriever

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    record: DocRecord
    prepared: Prepared
    status: str  # added | updated


class Rag:
    """A local RAG over one index folder. Thread safe for concurrent ``search`` and ``ask``."""

    def __init__(self, config: Config, index: Index | None = None, sentences: SentenceIndex | None = None):
        self.config = config
        self._owns_index = index is None
        self.index = index or Index(config.index.path, config.index.chroma_url, config.index.chroma_token, config.bm25.k1, config.bm25.b)
        self._check_signature()
        self.retriever = Retriever(self.index, self.embedder, config.retrieval, config.bm25)
        self._generator: Queued | None = None
        # passage sentences, split and embedded once: the maxsim reranker and evidence compression share them
        self.sentences = sentences or SentenceIndex(self.embedder.encode, self.embedder.encode_query, config.rerank.lexical)
        self.retriever.reranker = make_reranker(config.rerank.method, self)
        self.retriever.rerank_depth = config.rerank.candidates
        self._refresh_acronyms()

    def with_options(self, overrides: dict[str, object]) -> Rag:
        """A view of the same index with query-time settings changed (retrieval, bm25 boosts, rerank,
        generate), e.g. per UI session. Ingestion settings take effect only when documents are re-ingested."""
        config = self.config.override(overrides)
        same = config.rerank.lexical == self.config.rerank.lexical and config.embed == self.config.embed
        return Rag(config, index=self.index, sentences=self.sentences if same else None)

    @classmethod
    def open(cls, path: str | Path | None = None, config: Config | str | Path | None = None) -> Rag:
        """Open (or create) the index at ``path``; ``config`` is a ``Config``, a TOML file, or None for defaults."""
        if not isinstance(config, Config):
            config = load_config(config)
        if path is not None:
            config = config.override({"index.path": str(path)})
        return cls(config)

    def __enter__(self) -> Rag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_index:
            self.index.close()

    @property
    def embedder(self) -> Embedder:
        e = self.config.embed
        return embedder_for(e.model, e.max_tokens, e.batch_size, e.dtype, e.threads, e.cache, e.query_onnx)

    @property
    def generator(self) -> Queued:
        if self._generator is None:
            g = self.config.generate
            self._generator = load_generator(g.backend, g.model, g.n_ctx, g.threads, default_cache_dir(), g.base_url, g.api_key,
                                             g.concurrency, g.dtype, g.int8_writing)
        return self._generator

    def warm_up(self) -> None:
        """Load the language model now rather than on the first question (``rag serve`` does this before it
        listens). The first load of a packaged model in transformers also converts it: about a minute, once."""
        self.generator.load()

    def _signature(self) -> dict:
        c = self.config
        return {"embed.model": c.embed.model, "embed.max_tokens": c.embed.max_tokens, "context.mode": c.context.mode}

    @cached_property
    def _recipe(self) -> str:
        """How this configuration makes chunks; a document made another way is indexed again on the next sync."""
        c = self.config
        return recipe({"chunk": [c.chunk.size, c.chunk.overlap], "context": asdict(c.context),
                       "metadata": [c.metadata.enabled, c.metadata.keyphrases],
                       "embed": [c.embed.max_tokens, c.embed.window_overlap]})

    def _check_signature(self) -> None:
        stored = self.index.state("signature")
        if stored and self.index.count() and json.loads(stored)["embed.model"] != self.config.embed.model:
            raise RagError(
                f"the index at {self.config.index.path} was built with embedding model {json.loads(stored)['embed.model']!r}, "
                f"not {self.config.embed.model!r}: use that model, or a new --index folder"
            )

    def _refresh_acronyms(self) -> dict[str, dict[str, str]]:
        """Load the corpus's acronyms for query expansion; returns each document's own definitions."""
        per_doc = {d.doc_id: d.meta.get("acronyms", {}) for d in self.index.documents()}
        merged: dict[str, str] = {}
        for acronyms in per_doc.values():
            for short, long in acronyms.items():
                merged.setdefault(short, long)
        self.retriever.acronyms = merged
        return per_doc

    def _after_changes(self, before: dict[str, str], written: set[str]) -> None:
        """Corpus-wide metadata after documents were written (``written``) or removed, touching only what the
        change can affect: the written documents' chunks, and chunks whose text uses a short form whose
        definition appeared, changed or went (a glossary defines, a log only abbreviates)."""
        self.index.set_state("signature", json.dumps(self._signature()))
        per_doc = self._refresh_acronyms()
        if not self.config.metadata.enabled:
            return
        merged = self.retriever.acronyms
        changed = sorted(s for s in before.keys() | merged.keys() if before.get(s) != merged.get(s))
        affected = {c.id: c for c in self.index.iter_chunks(containing=changed)}
        if written:
            affected.update((c.id, c) for c in self.index.iter_chunks(where={"doc_id": {"$in": sorted(written)}}))
        updates = {}
        for chunk in affected.values():
            wanted = acronyms_in(chunk.text, {**merged, **per_doc.get(chunk.doc_id, {})})
            if wanted != chunk.acronyms:
                updates[chunk.id] = {"acronyms": "; ".join(wanted)}
        self.index.update_metadata(updates)
        self._refresh_topics(written)

    def _refresh_topics(self, written: set[str]) -> None:
        requested, path = self.config.metadata.topics, self.index.path / "topics.npz"
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

    # ---- ingestion ------------------------------------------------------------------------------------------

    def ingest(self, paths: str | Path | Iterable[str | Path], *, progress: bool = True) -> IngestReport:
        """Sync folders or files into the index: new and changed files are (re)indexed, deleted ones removed."""
        with self.index.ingesting:  # two syncs of one index at once would plan against each other's half-work
            return self._ingest(paths, progress)

    def _ingest(self, paths: str | Path | Iterable[str | Path], progress: bool) -> IngestReport:
        roots = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
        known_roots = {str(r) for r in self.roots()} | {str(r.resolve()) for r in roots if r.is_dir()}
        self.index.set_state("roots", json.dumps(sorted(known_roots)))
        self.index.repair()  # documents a crashed run left half-written are dropped and come back below as new
        before = dict(self.retriever.acronyms)
        results: list[FileResult] = []
        known = [Known(d.source, d.path, d.sha256 or "", d.size or 0, d.mtime or 0.0, d.status == "ok", d.meta.get("recipe", ""))
                 for d in self.index.documents()]
        by_source = {k.source: k for k in known}
        work: list[tuple[SourceFile, str]] = []
        for root in roots:
            try:
                files, skipped = scan(root)
            except (FileNotFoundError, NotADirectoryError) as exc:
                results.append(FileResult(str(root), "failed", reason=str(exc)))
                continue
            results += [FileResult(p, "skipped", reason=r) for p, r in skipped]
            p = plan(root, files, known, self._recipe)
            results += [FileResult(f.source, "unchanged") for f in p.unchanged]
            work += [(f, "added") for f in p.new] + [(f, "updated") for f in p.changed]
            for gone in p.deleted:
                self.index.delete_document(_doc_id(gone.source))
                results.append(FileResult(gone.source, "removed"))
        if self.config.context.llm and work:
            minutes = llm_context_minutes([f for f, _ in work], self.config.chunk.size)
            log.warning("LLM-written context for %d files: about %.0f minutes on this machine's CPU", len(work), minutes)
        pending: list[_Pending] = []
        embedding: tuple[list[_Pending], Future[list[np.ndarray]]] | None = None
        bar = tqdm(work, desc="ingest", unit="file", disable=not progress or not work)
        # reading files (parsing, keyphrases) is pure Python and the model's forward passes release the GIL: the
        # next files are read while the previous batch is embedded, and a batch is stored once its vectors are in
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-embed") as side:
            for f, status in bar:
                bar.set_postfix_str(f.source[-40:])
                result = self._prepare_file(f, status, by_source.get(f.source), pending, progress)
                if result is not None:
                    results.append(result)
                if sum(len(p.prepared.chunks) for p in pending) >= self.config.index.write_batch:
                    if embedding:
                        results += self._store(embedding[0], embedding[1].result())
                    embedding = (pending, side.submit(self._embed, pending, False))
                    pending = []
            if embedding:
                results += self._store(embedding[0], embedding[1].result())
        results += self._write(pending, progress)
        if any(r.status in ("added", "updated", "removed") for r in results):
            self._after_changes(before, {_doc_id(r.path) for r in results if r.status in ("added", "updated")})
        return IngestReport(tuple(results))

    def _prepare_file(self, f: SourceFile, status: str, known: Known | None, pending: list[_Pending],
                      progress: bool) -> FileResult | None:
        try:
            sha = file_sha256(f.path)
            if known is not None and known.ok and known.sha256 == sha and known.recipe == self._recipe:
                self.index.touch(_doc_id(f.source), f.size, f.mtime)
                return FileResult(f.source, "unchanged")
            if f.size > self.config.chunk.stream_mb * 2**20 and f.path.suffix.lower() in STREAMABLE:
                return self._write_streamed(f, status, sha, progress)
            doc = load(f.path, f.source)
            c = self.config
            prepared = prepare(doc, c.chunk, c.context, c.metadata, self.embedder.count_tokens, self.retriever.acronyms,
                               self._context_writer())
            self._learn_acronyms(prepared.acronyms)
        except (IngestError, OSError) as exc:  # hashing or streaming reads the file outside the loaders too
            reason = exc.reason if isinstance(exc, IngestError) else read_error(exc)
            self.index.record_failure(_doc_id(f.source), f.source, str(f.path), reason)
            return FileResult(f.source, "failed", reason=reason)
        record = DocRecord(_doc_id(f.source), f.source, str(f.path), sha, f.size, f.mtime, "ok", "", 0, doc.title,
                           {"acronyms": prepared.acronyms, "recipe": self._recipe})
        pending.append(_Pending(record, prepared, status))
        return None

    def _write_streamed(self, f: SourceFile, status: str, sha: str, progress: bool) -> FileResult:
        """A text file too large to hold: read, chunk, embed and write it a part at a time (bounded memory).
        The document stays hidden from searches until its last part is written; a crash leaves it
        'indexing', so the next run removes the partial chunks and starts it again."""
        c = self.config
        record = DocRecord(_doc_id(f.source), f.source, str(f.path), sha, f.size, f.mtime, "ok", "", 0, "", {"recipe": self._recipe})
        parts = iter_text_parts(f.path, f.source, part_chars=c.chunk.stream_part_chars)
        first = next(parts, None)  # a binary or empty file fails here, before the indexed version is touched
        if first is None:
            raise IngestError(f.source, "no text found in file")
        self.index.begin_document(record)
        try:
            written, title, acronyms = self._write_parts(record.doc_id, itertools.chain([first], parts), f.size, progress)
        except BaseException:
            self.index.delete_document(record.doc_id)  # no partial document stays behind
            raise
        self.index.finish_document(replace(record, title=title, meta={**record.meta, "acronyms": acronyms}), written)
        return FileResult(f.source, status, written)

    def _write_parts(self, doc_id: str, parts: Iterable[tuple[int, Document]], size: int, progress: bool
                     ) -> tuple[int, str, dict[str, str]]:
        c = self.config
        written, acronyms, title = 0, {}, ""
        bar = tqdm(total=size, desc="stream", unit="B", unit_scale=True, disable=not progress)
        for offset, part in parts:
            prepared = prepare(part, c.chunk, c.context, c.metadata, self.embedder.count_tokens, self.retriever.acronyms)
            chunks = [replace(ch, id=f"{doc_id}:{written + n}", char_start=ch.char_start + offset,
                              char_end=ch.char_end + offset) for n, ch in enumerate(prepared.chunks)]
            self.index.append_chunks(chunks, self._vectors(chunks, progress=False))
            written += len(chunks)
            title = title or part.title
            for short, long in prepared.acronyms.items():
                acronyms.setdefault(short, long)
            self._learn_acronyms(prepared.acronyms)
            bar.update(len(part.pages[0].encode("utf-8", "replace")))
        bar.close()
        return written, title, acronyms

    def _learn_acronyms(self, acronyms: dict[str, str]) -> None:
        """Definitions found in this run: files read later in the run know them already."""
        for short, long in acronyms.items():
            self.retriever.acronyms.setdefault(short, long)

    def _vectors(self, chunks: list[Chunk], progress: bool) -> list[np.ndarray]:
        c = self.config
        return chunk_vectors(chunks, self.embedder, c.context.mode, c.context.alpha, c.embed.window_overlap, progress=progress)

    def _context_writer(self) -> WriteContext | None:
        """The LLM as a (document, chunk) -> context callable, when ``context.llm`` asks for it."""
        if not self.config.context.llm:
            return None
        budget_chars = int((self.config.generate.n_ctx - 700) * CHARS_PER_TOKEN)

        def write(document: str, chunk: str) -> str:
            # the document leads the prompt unchanged for every chunk, so llama.cpp reuses its cached prefix
            prompt = LLM_PROMPT.format(document=document[:budget_chars], chunk=chunk[:2000])
            return self.generator.complete([{"role": "user", "content": prompt}], max_tokens=80)

        return write

    def _write(self, pending: list[_Pending], progress: bool) -> list[FileResult]:
        if not pending:
            return []
        return self._store(pending, self._embed(pending, progress))

    def _embed(self, pending: list[_Pending], progress: bool) -> list[np.ndarray]:
        return self._vectors([ch for p in pending for ch in p.prepared.chunks], progress)

    def _store(self, pending: list[_Pending], vectors: list[np.ndarray]) -> list[FileResult]:
        items, at = [], 0
        for p in pending:
            n = len(p.prepared.chunks)
            items.append((p.record, p.prepared.chunks, vectors[at : at + n]))
            at += n
        self.index.write_documents(items)
        return [FileResult(p.record.source, p.status, len(p.prepared.chunks)) for p in pending]

    def add_prepared(self, docs: list[Prepared], progress: bool = True) -> None:
        """Index documents that arrive already chunked (evaluation sets); no files are read."""
        pending = [_Pending(DocRecord(_doc_id(d.source), d.source, "", "", 0, 0.0, "ok", "", 0, d.title, {"acronyms": d.acronyms}),
                            d, "added")
                   for d in docs]
        before = dict(self.retriever.acronyms)
        self._write(pending, progress)
        self._after_changes(before, {p.record.doc_id for p in pending})

    def roots(self) -> list[Path]:
        """Folders ingested into this index that still exist (what a re-sync walks)."""
        return [Path(p) for p in json.loads(self.index.state("roots", "[]")) if Path(p).is_dir()]

    def documents(self) -> list[DocRecord]:
        return self.index.documents()

    def delete(self, source: str) -> bool:
        """Remove a document by its source (as listed by ``documents()``) or by its file path."""
        with self.index.ingesting:  # not in the middle of a sync
            for d in self.index.documents():
                if source in (d.source, d.path) or (d.path and Path(source).resolve() == Path(d.path)):
                    before = dict(self.retriever.acronyms)
                    self.index.delete_document(d.doc_id)
                    self._after_changes(before, set())
                    return True
        return False

    # ---- questions ------------------------------------------------------------------------------------------

    def search(self, query: str, k: int = 10, filters: Filters | dict | None = None) -> list[Hit]:
        """Ranked passages for ``query``; ``filters`` narrows by source glob, page range, topic or keyphrase."""
        try:
            return self.retriever.search(query, k, filters).hits
        except ValueError as exc:
            raise RagError(str(exc)) from None

    def as_retriever(self, k: int = 10, filters: Filters | dict | None = None) -> RagRetriever:
        """A LangChain ``BaseRetriever`` over this index (``invoke(query)`` returns ``Document``s with our metadata)."""
        from rag.langchain import RagRetriever

        as_dict = dict(filters.__dict__) if isinstance(filters, Filters) else filters
        return RagRetriever(rag=self, k=k, filters=as_dict)

    def as_langchain_documents(self) -> list[LcDocument]:
        """Every indexed chunk as a LangChain ``Document`` (text plus our metadata), e.g. to feed another store."""
        from langchain_core.documents import Document

        from rag.langchain import chunk_metadata

        return [Document(page_content=c.text, metadata=chunk_metadata(c), id=c.id) for c in self.index.iter_chunks()]

    def stream(self, question: str, history: list[dict[str, str]] | None = None) -> Iterator[Event]:
        """Retrieval first (an event with the passages), then answer tokens, then the finished ``Answer``."""
        g = self.config.generate
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            if history:
                question = self.standalone_question(question, history)
                timings["rewrite"] = time.perf_counter() - t0
            hits = self.retriever.search(question, max(g.passages, 1)).hits[: g.passages]
        except RagError as exc:
            yield Failed(str(exc))
            return
        timings["retrieve"] = time.perf_counter() - t0
        yield RetrievalDone(tuple(hits))
        if not hits or self._too_weak(hits):
            yield AnswerDone(Answer(g.abstain_text, (), tuple(hits), True, timings, question))  # closest passages still shown
            return
        count = self.generator.count_tokens
        # the prompt and the answer must fit the model's window together; what does not fit is dropped, counted
        budget = min(g.max_prompt_tokens, g.n_ctx - g.max_tokens - 16)
        room = budget - prompt_overhead(question, g.abstain_text, count) - HEADER_TOKENS
        if g.compress:
            keep = evidence_budget(hits, room, count, g.evidence_tokens, g.evidence_share)
            evidence = compress(question, hits, self.sentences, keep, count, g.lead_share)
        else:
            evidence = whole(hits)
        timings["evidence"] = time.perf_counter() - t0
        evidence, trimmed = fit_passages(question, evidence, self.sentences, room, count)
        prompt = build_prompt(question, evidence, budget, g.abstain_text, count)
        parts: list[str] = []
        retried = False
        try:
            for messages in (prompt.messages, ask_for_a_sentence(prompt.messages)):
                # nothing is shown while the reply is only citation markers or passage headers: a lone "[1]" is asked again
                held: list[str] = []
                for piece in self.generator.stream(messages, g.max_tokens, g.temperature):
                    if parts:
                        parts.append(piece)
                        yield Token(piece)
                        continue
                    held.append(piece)
                    shown = answer_start("".join(held), prompt.passages)
                    if shown:
                        timings["first_token"] = time.perf_counter() - t0
                        parts.append(shown)
                        yield Token(shown)
                if parts or retried:
                    break
                log.info("the model answered only %r; asking again for a sentence", "".join(held))
                retried = True
        except RagError as exc:
            yield Failed(str(exc))
            return
        text = "".join(parts).strip()
        timings["total"] = time.perf_counter() - t0
        abstained = is_abstention(text, g.abstain_text)
        if not has_words(text):
            text = f"{g.abstain_text} (The model gave no answer text.)"
        if not abstained:
            text = recite(text, prompt.passages, question)
        reason = "" if abstained else unsupported(text, prompt.passages, question=question)
        withheld = ""
        if reason:  # a draft the passages do not back is not shown as an answer
            log.info("answer withheld (%s): %r", reason, text)
            withheld, text, abstained = text, f"{g.abstain_text} (A draft answer was withheld: {reason}.)", True
        citations = () if abstained else tuple(cite(text, prompt.passages))
        notes = {"dropped_passages": float(prompt.dropped), "trimmed_passages": float(trimmed), "prompt_budget": float(budget),
                 "tokens_counted_exactly": float(count.exact), "asked_again": float(retried),
                 "prompt_tokens": float(self.generator.last_usage.get("prompt_tokens", 0))}
        yield AnswerDone(Answer(text, citations, tuple(prompt.passages), abstained, {**timings, **notes}, question, withheld))

    def evaluate(self, dataset: str | Path) -> Report:
        """Score retrieval on this index with a page-level question file (see ``rag.evaluate``)."""
        from rag.evaluate import load_dataset, run_queries

        data = load_dataset(dataset)
        if data.kind != "pages":
            raise RagError(f"{dataset}: only page-level question files are scored on an existing index; "
                           f"use 'rag eval' for {data.kind} sets")
        return run_queries(self, data)

    def complete(self, prompt: str, max_tokens: int = 256) -> str:
        """Plain completion with the configured local model (no retrieval), e.g. as the LLM step of a chain."""
        return self.generator.complete([{"role": "user", "content": prompt}], max_tokens, self.config.generate.temperature)

    def _too_weak(self, hits: list[Hit]) -> bool:
        """Nothing worth reading: no keyword match and no passage close in meaning (the LLM is not asked)."""
        dense = max((h.scores.get("dense", 0.0) for h in hits), default=0.0)
        bm25 = max((h.scores.get("bm25", 0.0) for h in hits), default=0.0)
        return bm25 <= 0.0 and dense < self.config.generate.min_dense_score

    def standalone_question(self, question: str, history: list[dict[str, str]]) -> str:
        """Rewrite a follow-up ("and the second one?") into a question that stands alone, using the chat history."""
        if not any(m.get("role") == "user" for m in history):
            return question
        text = self.generator.complete(rewrite_messages(history, question), max_tokens=64, temperature=0.0)
        return clean_rewrite(text, question)

    def ask(self, question: str, history: list[dict[str, str]] | None = None) -> Answer:
        for event in self.stream(question, history):
            if isinstance(event, Failed):
                raise RagError(event.message)
            if isinstance(event, AnswerDone):
                return event.answer
        raise RagError("the answer stream ended without an answer")


def llm_context_minutes(files: list[SourceFile], chunk_size: int) -> float:
    """Rough cost of LLM-written context: each document prefilled once, then each chunk read and answered.

    Rates measured here for the 1.5B model on 2 cores (../shared/MODELS.md): 70 prompt and 27 generated tokens/s.
    """
    seconds = 0.0
    for f in files:
        chars = f.size / 4 if f.path.suffix.lower() == ".pdf" else f.size  # PDF bytes are mostly not text
        chunks = max(1.0, chars / chunk_size)
        seconds += chars / 4 / 70 + chunks * (chunk_size / 4 / 70 + 50 / 27)
    return seconds / 60


def _doc_id(source: str) -> str:
    from ingest.chunking import doc_id_for

    return doc_id_for(source)
