"""The ingestion job: sync folders into the index. New and changed files are read, enriched, embedded and
written; deleted ones are removed; a file that fails is that file's failure, reported with its reason.

Reading files (parsing, keyphrases) is pure Python and the embedder's forward passes release the GIL, so the
next files are read while a side thread embeds the previous batch; a batch is written once its vectors are in.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ingest.chunking import doc_id_for
from ingest.context import WriteContext
from ingest.enrich import Prepared, prepare
from ingest.loaders import STREAMABLE, Document, iter_text_parts, load, read_error
from ingest.ocr import NeedsOcr, Ocr
from ingest.sync import Known, SourceFile, file_sha256, plan, recipe, scan, source_prefix
from rag.core.config import Config
from rag.core.errors import IngestError
from rag.core.memory import give_back_memory
from rag.core.progress import INDEXED, OCR_PAGES, READING, Progress, Report, reporter, silent
from rag.core.types import Chunk, FileResult
from rag.indexing.corpus import CorpusMetadata
from rag.indexing.vectors import chunk_vectors, embed_sentences
from rag.models.embedder import Embedder
from rag.retrieval.acronyms import CorpusAcronyms
from rag.store.index import DocRecord, Index
from rag.store.manifest import CORPUS_PENDING, EXCLUDED, EXCLUDED_REASON

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    record: DocRecord
    prepared: Prepared
    status: str  # added | updated


class IngestionJob:
    def __init__(self, index: Index, config: Config, embedder: Embedder, acronyms: CorpusAcronyms, corpus: CorpusMetadata,
                 write_context: WriteContext | None = None):
        self.index = index
        self.config = config
        self.embedder = embedder
        self.acronyms = acronyms
        self.corpus = corpus
        self.recipe = ingestion_recipe(config)
        # a document with pages read by OCR is also made by the OCR settings
        self.ocr_recipe = f"{self.recipe}+{recipe({'ocr': [config.ocr.dpi, config.ocr.languages]})[:8]}"
        self.recipes = {self.recipe, self.ocr_recipe}  # a document made either way is current
        self.write_context = write_context
        self._indexed = 0  # chunks written by this run, for its progress

    def sync(self, roots: list[Path], known_roots: list[Path], progress: Progress) -> list[FileResult]:
        roots_now = {str(r) for r in known_roots} | {str(r.resolve()) for r in roots if r.is_dir()}
        self.index.set_state("roots", json.dumps(sorted(roots_now)))
        self.index.repair()  # documents a crashed run left half-written are dropped and come back below as new
        resumed = bool(self.index.state(CORPUS_PENDING))  # a run stopped between its writes and the corpus step
        before = dict(self.acronyms.current)
        results: list[FileResult] = []
        known = [Known(d.source, d.path, d.sha256 or "", d.size or 0, d.mtime or 0.0, d.status == "ok", d.meta.get("recipe", ""),
                       d.status == EXCLUDED) for d in self.index.documents()]
        by_source = {k.source: k for k in known}
        work: list[tuple[SourceFile, str]] = []
        for root in roots:
            try:
                files, skipped = scan(root, source_prefix(root, known), self.config.index.follow_links)
            except (FileNotFoundError, NotADirectoryError) as exc:
                results.append(FileResult(str(root), "failed", reason=str(exc)))
                continue
            results += [FileResult(p, "skipped", reason=r) for p, r in skipped]
            p = plan(root, files, known, self.recipes)
            results += [FileResult(f.source, "unchanged") for f in p.unchanged]
            results += [FileResult(f.source, "skipped", reason=EXCLUDED_REASON) for f in p.excluded]
            work += [(f, "added") for f in p.new] + [(f, "updated") for f in p.changed]
            if p.deleted:
                self.index.set_state(CORPUS_PENDING, "1")
            for gone in p.deleted:
                self.index.delete_document(doc_id_for(gone.source))
                results.append(FileResult(gone.source, "removed"))
        if self.write_context is not None and work:
            minutes = llm_context_minutes([f for f, _ in work], self.config.chunk.size)
            log.warning("LLM-written context for %d files: about %.0f minutes on this machine's CPU", len(work), minutes)
        if work:
            self.index.set_state(CORPUS_PENDING, "1")
        results += self._read_embed_write(work, by_source, reporter(progress))
        written = {doc_id_for(r.path) for r in results if r.status in ("added", "updated")}
        if resumed:
            written |= {d.doc_id for d in self.index.documents() if d.status == "ok"}
        if resumed or any(r.status in ("added", "updated", "removed") for r in results):
            self.corpus.after_changes(before, written)
        self.index.set_state(CORPUS_PENDING, "")
        return results

    def _read_embed_write(self, work: list[tuple[SourceFile, str]], by_source: dict[str, Known], report: Report) -> list[FileResult]:
        """Files with pages only OCR can read wait until every other file is written: searchable first."""
        scans: list[tuple[SourceFile, str]] = []
        self._indexed = 0
        results = self._read_pass(work, by_source, report, self._ocr(report, defer=True), scans)
        results += self._read_pass(scans, by_source, report, self._ocr(report, defer=False), []) if scans else []
        if self._indexed:
            report(INDEXED, self._indexed, self._indexed)
        return results

    def _ocr(self, report: Report, defer: bool) -> Ocr | None:
        c = self.config.ocr
        workers = c.workers or os.cpu_count() or 1
        return Ocr(c.dpi, c.languages, lambda done, total: report(OCR_PAGES, done, total), defer, workers) if c.enabled else None

    def _read_pass(self, work: list[tuple[SourceFile, str]], by_source: dict[str, Known], report: Report, ocr: Ocr | None,
                   scans: list[tuple[SourceFile, str]]) -> list[FileResult]:
        results: list[FileResult] = []
        pending: list[_Pending] = []
        embedding: tuple[list[_Pending], Future[list[np.ndarray]]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-embed") as side:
            for done, (f, status) in enumerate(work):
                report(READING, done, len(work))
                try:
                    result = self._prepare_file(f, status, by_source.get(f.source), pending, report, ocr)
                except NeedsOcr:
                    scans.append((f, status))
                    continue
                if result is not None:
                    results.append(result)
                if sum(len(p.prepared.chunks) for p in pending) >= self.config.index.write_batch:
                    if embedding:
                        results += self._store(embedding[0], embedding[1].result(), report)
                    embedding = (pending, side.submit(self._embed, pending, silent))  # reading goes on meanwhile
                    pending = []
            if work:
                report(READING, len(work), len(work))
            if embedding:
                results += self._store(embedding[0], embedding[1].result(), report)
        return results + self._write(pending, report)

    def _prepare_file(self, f: SourceFile, status: str, known: Known | None, pending: list[_Pending],
                      report: Report, ocr: Ocr | None) -> FileResult | None:
        try:
            sha = file_sha256(f.path)
            if known is not None and known.ok and known.sha256 == sha and known.recipe in self.recipes:
                self.index.touch(doc_id_for(f.source), f.size, f.mtime)
                return FileResult(f.source, "unchanged")
            if f.size > self.config.chunk.stream_mb * 2**20 and f.path.suffix.lower() in STREAMABLE:
                return self._write_streamed(f, status, sha, report)
            doc = load(f.path, f.source, ocr)
            c = self.config
            prepared = prepare(doc, c.chunk, c.context, c.metadata, self.embedder.count_tokens, self.acronyms.current,
                               self.write_context)
            self.acronyms.learn(prepared.acronyms)
        except NeedsOcr:
            raise
        except (IngestError, OSError) as exc:  # hashing or streaming reads the file outside the loaders too
            reason = exc.reason if isinstance(exc, IngestError) else read_error(exc)
            return self._failed(f, reason)
        except Exception as exc:  # noqa: BLE001 - one file's failure, whatever it is, must not stop the sync
            log.warning("%s failed unexpectedly", f.source, exc_info=True)
            return self._failed(f, f"unexpected error while reading it ({type(exc).__name__}: {exc})")
        record = DocRecord(doc_id_for(f.source), f.source, str(f.path), sha, f.size, f.mtime, "ok", "", 0, doc.title,
                           {"acronyms": prepared.acronyms, "recipe": self.ocr_recipe if doc.scanned else self.recipe})
        pending.append(_Pending(record, prepared, status))
        return None

    def _failed(self, f: SourceFile, reason: str) -> FileResult:
        self.index.record_failure(doc_id_for(f.source), f.source, str(f.path), reason)
        return FileResult(f.source, "failed", reason=reason)

    def _write_streamed(self, f: SourceFile, status: str, sha: str, report: Report) -> FileResult:
        """A text file too large to hold: read, chunk, embed and write it a part at a time (bounded memory).
        The document stays hidden from searches until its last part is written; a crash leaves it
        'indexing', so the next run removes the partial chunks and starts it again."""
        c = self.config
        record = DocRecord(doc_id_for(f.source), f.source, str(f.path), sha, f.size, f.mtime, "ok", "", 0, "", {"recipe": self.recipe})
        parts = iter_text_parts(f.path, f.source, part_chars=c.chunk.stream_part_chars)
        first = next(parts, None)  # a binary or empty file fails here, before the indexed version is touched
        if first is None:
            raise IngestError(f.source, "no text found in file")
        self.index.begin_document(record)
        try:
            written, title, acronyms = self._write_parts(f.source, itertools.chain([first], parts), f.size, report)
        except BaseException:
            self.index.delete_document(record.doc_id)  # no partial document stays behind
            raise
        self.index.finish_document(replace(record, title=title, meta={**record.meta, "acronyms": acronyms}), written)
        return FileResult(f.source, status, written)

    def _write_parts(self, source: str, parts: Iterable[tuple[int, Document]], size: int, report: Report
                     ) -> tuple[int, str, dict[str, str]]:
        c = self.config
        doc_id, step = doc_id_for(source), f"reading {source} (bytes)"
        written, acronyms, title, done = 0, {}, "", 0
        for offset, part in parts:
            prepared = prepare(part, c.chunk, c.context, c.metadata, self.embedder.count_tokens, self.acronyms.current)
            chunks = [replace(ch, id=f"{doc_id}:{written + n}", char_start=ch.char_start + offset,
                              char_end=ch.char_end + offset) for n, ch in enumerate(prepared.chunks)]
            self.index.append_chunks(chunks, self._vectors(chunks, silent))
            written += len(chunks)
            title = title or part.title
            for short, long in prepared.acronyms.items():
                acronyms.setdefault(short, long)
            self.acronyms.learn(prepared.acronyms)
            done += len(part.pages[0].encode("utf-8", "replace"))
            report(step, min(done, size), size)
        return written, title, acronyms

    def _vectors(self, chunks: list[Chunk], report: Report) -> list[np.ndarray]:
        c = self.config
        vectors = chunk_vectors(chunks, self.embedder, c.context.mode, c.context.alpha, c.embed.window_overlap, report)
        if c.rerank.sentences_at_ingest:
            embed_sentences(chunks, self.embedder, report)
        return vectors

    def _write(self, pending: list[_Pending], report: Report) -> list[FileResult]:
        if not pending:
            return []
        return self._store(pending, self._embed(pending, report), report)

    def _embed(self, pending: list[_Pending], report: Report) -> list[np.ndarray]:
        return self._vectors([ch for p in pending for ch in p.prepared.chunks], report)

    def _store(self, pending: list[_Pending], vectors: list[np.ndarray], report: Report) -> list[FileResult]:
        items, at = [], 0
        for p in pending:
            n = len(p.prepared.chunks)
            items.append((p.record, p.prepared.chunks, vectors[at : at + n]))
            at += n
        self.index.write_documents(items)
        give_back_memory()  # a batch's buffers are free now; kept by the allocator, a long run's size would grow
        self._indexed += at
        report(INDEXED, self._indexed, 0)
        return [FileResult(p.record.source, p.status, len(p.prepared.chunks)) for p in pending]

    def add_prepared(self, docs: list[Prepared], progress: Progress = True) -> None:
        """Index documents that arrive already chunked (evaluation sets); no files are read."""
        pending = [_Pending(DocRecord(doc_id_for(d.source), d.source, "", "", 0, 0.0, "ok", "", 0, d.title, {"acronyms": d.acronyms}),
                            d, "added")
                   for d in docs]
        self._changing(lambda: self._write(pending, reporter(progress)), {p.record.doc_id for p in pending})

    def delete_source(self, source: str, owned: Path | None = None) -> bool:
        """Remove the document with this source (as listed) or file path; False when there is none. A file under
        ``owned`` (the app's upload folder) is deleted with it; any other stays on disk and is remembered as
        excluded, so that a later sync of its folder does not add it back (ingesting the file itself does)."""
        for d in self.index.documents():
            if source in (d.source, d.path) or (d.path and Path(source).resolve() == Path(d.path)):
                path = Path(d.path) if d.path else None
                if owned is not None and path is not None and path.resolve().is_relative_to(owned.resolve()):
                    self.delete(d.doc_id)
                    path.unlink(missing_ok=True)  # after: a delete that fails leaves the document and its file
                else:
                    self._changing(functools.partial(self.index.delete_document, d.doc_id, exclude=True), set())
                return True
        return False

    def delete(self, doc_id: str) -> None:
        self._changing(lambda: self.index.delete_document(doc_id), set())

    def _changing(self, change: Callable[[], object], written: set[str]) -> None:
        """A change to documents, then the corpus step, the two bracketed by the pending mark in the manifest."""
        before = dict(self.acronyms.current)
        self.index.set_state(CORPUS_PENDING, "1")
        change()
        self.corpus.after_changes(before, written)
        self.index.set_state(CORPUS_PENDING, "")


def ingestion_recipe(c: Config) -> str:
    """How this configuration makes chunks: a document made another way is indexed again on the next sync."""
    return recipe({"chunk": [c.chunk.size, c.chunk.overlap], "context": asdict(c.context),
                   "metadata": [c.metadata.enabled, c.metadata.keyphrases], "embed": [c.embed.max_tokens, c.embed.window_overlap]})


def llm_context_minutes(files: list[SourceFile], chunk_size: int) -> float:
    """Rough cost of LLM-written context: each document prefilled once, then each chunk read and answered.

    Rates measured for the 1.5B model on 2 cores (../shared/MODELS.md): 70 prompt and 27 generated tokens/s.
    """
    seconds = 0.0
    for f in files:
        chars = f.size / 4 if f.path.suffix.lower() == ".pdf" else f.size  # PDF bytes are mostly not text
        chunks = max(1.0, chars / chunk_size)
        seconds += chars / 4 / 70 + chunks * (chunk_size / 4 / 70 + 50 / 27)
    return seconds / 60
