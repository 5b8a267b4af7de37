"""The facade every front end calls: ``Rag.open(path)``, ``.ingest``, ``.search``, ``.ask``, ``.stream``.

It only composes the families: the ingestion job (``rag.indexing``), the retriever with its reranker
(``rag.retrieval``, ``rag.rerank``) and the answerer (``rag.answer``) over one index (``rag.store``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.enrich import Prepared
from rag.answer.answerer import Answerer
from rag.core.config import Config, load_config
from rag.core.errors import RagError
from rag.core.progress import Progress, reporter
from rag.core.recent import Recent
from rag.core.types import Answer, AnswerDone, Event, Failed, Hit, IngestReport
from rag.indexing.context_writer import context_writer
from rag.indexing.corpus import CorpusMetadata
from rag.indexing.job import IngestionJob
from rag.llm.factory import check_generator, generator_for, runtime
from rag.llm.queue import Queued
from rag.models.embedder import embedder_for
from rag.rerank.factory import make_reranker
from rag.retrieval.acronyms import CorpusAcronyms
from rag.retrieval.filters import Filters
from rag.retrieval.retriever import Retriever
from rag.retrieval.sentence_scores import SentenceIndex
from rag.store.doctor import doctor
from rag.store.index import DocRecord, Index, index_folders

if TYPE_CHECKING:
    from langchain_core.documents import Document as LcDocument

    from rag.langchain import RagRetriever

VIEWS = 8  # query-time setting combinations kept ready per index (one per UI session's settings, typically)


class Rag:
    """A local RAG over one index folder. Thread safe for concurrent ``search`` and ``ask``."""

    def __init__(self, config: Config, index: Index | None = None, acronyms: CorpusAcronyms | None = None,
                 sentences: SentenceIndex | None = None):
        self.config = c = config
        self._owns_index = index is None
        self.index = index or Index(c.index.path, c.index.chroma_url, c.index.chroma_token, c.bm25.k1, c.bm25.b)
        e = c.embed
        self.embedder = embedder_for(e.model, e.max_tokens, e.batch_size, e.dtype, e.threads, e.cache, e.query_onnx)
        # passage sentences, split and embedded once: the maxsim reranker and evidence compression share them
        self.sentences = sentences or SentenceIndex(self.embedder.encode, self.embedder.encode_query, c.rerank.lexical)
        self.acronyms = acronyms or CorpusAcronyms()
        self.corpus = CorpusMetadata(self.index, c.metadata, self.acronyms, {"embed.model": e.model})
        if acronyms is None:  # a new index, not a view of one
            self.corpus.check_embedder(c.index.path)
            self.corpus.refresh_acronyms()
        reranker = make_reranker(c.rerank, encode_query=self.embedder.encode_query, chunk_vectors=self.index.chunk_vectors,
                                 sentences=self.sentences, complete=lambda m, n: self.generator.complete(m, max_tokens=n))
        self.retriever = Retriever(self.index, self.embedder.encode_query, c.retrieval, c.bm25, self.acronyms, reranker,
                                   c.rerank.candidates)
        self.answerer = Answerer(c.generate, lambda q, k: self.retriever.search(q, k).hits, lambda: self.generator, self.sentences,
                                 self.retriever.mentions, self.embedder.count_tokens)
        self._views: Recent[Rag] = Recent(VIEWS)

    @classmethod
    def open(cls, path: str | Path | None = None, config: Config | str | Path | None = None) -> Rag:
        """Open (or create) the index at ``path``; ``config`` is a ``Config``, a TOML file, or None for defaults."""
        if not isinstance(config, Config):
            config = load_config(config)
        return cls(config if path is None else config.override({"index.path": str(path)}))

    @classmethod
    def open_all(cls, paths: Iterable[str | Path], config: Config) -> list[Rag]:
        """One ``Rag`` per index named (a folder of indexes names each of them), for an app serving collections."""
        return [cls.open(p, config) for p in index_folders([Path(p) for p in paths])]

    def with_options(self, overrides: dict[str, object]) -> Rag:
        """A view of the same index with query-time settings changed, e.g. per UI session; made once per combination.
        Ingestion settings apply when documents are re-ingested."""
        def make() -> Rag:
            config = self.config.override(overrides)
            same = config.rerank.lexical == self.config.rerank.lexical and config.embed == self.config.embed
            return Rag(config, self.index, self.acronyms, self.sentences if same else None)

        return self._views.get(tuple(sorted((k, str(v)) for k, v in overrides.items())), make)

    def __enter__(self) -> Rag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_index:
            self.index.close()

    @property
    def generator(self) -> Queued:
        return generator_for(self.config.generate)

    def check_options(self, overrides: dict[str, object]) -> Config:
        """The config ``overrides`` would make, refused now (``RagError``) if it is invalid or names a model that
        could not load, rather than at the next question."""
        config = self.config.override(overrides)
        check_generator(config.generate)
        return config

    def model_state(self) -> str:
        """The language model, how it runs on this CPU, and whether it is loaded: for a status line."""
        g = self.config.generate
        return f"{g.model} ({runtime(g)}): {'ready' if self.generator.loaded else 'loads with the first question'}"

    def prepare(self, progress: Progress = True) -> None:
        """Build what searches read from the index now rather than at the first search: the keyword index, which a
        node new to a shared Chroma server builds from every chunk once (``rag serve`` does, before it listens)."""
        self.index.bm25(reporter(progress))

    def warm_up(self) -> None:
        """Load the language model now rather than on the first question (``rag serve`` does, before it listens)."""
        self.generator.load()

    def model_memory(self) -> tuple[float, float, float]:
        """GiB of resident memory the embedder and the language model each add as they load in turn (what
        ``rag serve`` holds for them: ``rag doctor --models``), and the whole process's after."""
        import psutil

        def resident() -> float:
            return psutil.Process().memory_info().rss / 2**30

        start = resident()
        self.embedder.encode(["a probe"], use_cache=False)
        embedded = resident()
        self.warm_up()
        loaded = resident()
        return embedded - start, loaded - embedded, loaded

    def _job(self) -> IngestionJob:
        c = self.config
        writer = context_writer(lambda: self.generator, c.generate.n_ctx) if c.context.llm else None
        return IngestionJob(self.index, c, self.embedder, self.acronyms, self.corpus, writer)

    def ingest(self, paths: str | Path | Iterable[str | Path], *, progress: Progress = True) -> IngestReport:
        """Sync folders or files into the index: new and changed files are (re)indexed, deleted ones removed.
        ``progress``: True draws terminal bars, or a callable receives ``(step, done, total)``."""
        roots = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
        with self.index.ingesting.hold():  # two syncs of one index at once would plan against each other's half-work
            return IngestReport(tuple(self._job().sync(roots, self.roots(), progress)))

    def add_prepared(self, docs: list[Prepared], progress: Progress = True) -> None:
        """Index documents that arrive already chunked (evaluation sets); no files are read."""
        with self.index.ingesting.hold():
            self._job().add_prepared(docs, progress)

    def roots(self) -> list[Path]:
        """Folders ingested into this index that still exist (what a re-sync walks)."""
        return [Path(p) for p in json.loads(self.index.state("roots", "[]")) if Path(p).is_dir()]

    def documents(self) -> list[DocRecord]:
        return self.index.documents()

    @property
    def uploads(self) -> Path:
        """The folder the app saves uploads in: its files belong to the index, and deleting one removes the file."""
        return Path(self.config.index.path) / "uploads"

    def delete(self, source: str) -> bool:
        """Remove a document by its source (as listed by ``documents()``) or by its file path. An upload's file
        goes with it; a file of the user's stays, excluded from later syncs of its folder (see ``ingest``)."""
        with self.index.ingesting.hold():  # not in the middle of a sync
            return self._job().delete_source(source, self.uploads)

    def doctor(self, repair: bool = False) -> list[str]:
        """Do the manifest, Chroma and BM25 agree? With ``repair``, fix what can be fixed."""
        if self.index.read_only and not repair:  # nobody writes a read-only index: no writer to wait for
            return doctor(self.index)
        with self.index.ingesting.hold():
            return doctor(self.index, repair)

    def ocr_status(self) -> str:
        """How scanned pages and images are read: the OCR engine and its models, or why they are not."""
        from ingest.ocr import status

        return status(self.config.ocr.languages) if self.config.ocr.enabled else "off (ocr.enabled = false)"

    def search(self, query: str, k: int = 10, filters: Filters | dict | None = None) -> list[Hit]:
        """Ranked passages for ``query``; ``filters`` narrows by source glob, page range, topic or keyphrase."""
        try:
            return self.retriever.search(query, k, filters).hits
        except ValueError as exc:
            raise RagError(str(exc)) from None

    def as_retriever(self, k: int = 10, filters: Filters | dict | None = None) -> RagRetriever:
        """A LangChain ``BaseRetriever`` over this index (``invoke(query)`` returns ``Document``s with our metadata)."""
        from rag.langchain import RagRetriever

        return RagRetriever(rag=self, k=k, filters=dict(filters.__dict__) if isinstance(filters, Filters) else filters)

    def as_langchain_documents(self) -> list[LcDocument]:
        """Every indexed chunk as a LangChain ``Document`` (text plus our metadata), e.g. to feed another store."""
        from rag.langchain import to_documents

        return to_documents(self.index.iter_chunks())

    def stream(self, question: str, history: list[dict[str, str]] | None = None) -> Iterator[Event]:
        """Retrieval first (an event with the passages), then answer tokens, then the finished ``Answer``."""
        return self.answerer.stream(question, history)

    def ask(self, question: str, history: list[dict[str, str]] | None = None) -> Answer:
        for event in self.stream(question, history):
            if isinstance(event, Failed):
                raise RagError(event.message)
            if isinstance(event, AnswerDone):
                return event.answer
        raise RagError("the answer stream ended without an answer")

    def complete(self, prompt: str, max_tokens: int = 256) -> str:
        """Plain completion with the configured local model (no retrieval), e.g. as the LLM step of a chain."""
        return self.generator.complete([{"role": "user", "content": prompt}], max_tokens, self.config.generate.temperature)


