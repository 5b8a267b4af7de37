"""Records that flow through the pipeline. Frozen: change a score with ``dataclasses.replace``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LineBox:
    """A line read from a page image: its span in the page text and where it lies on the page, as fractions of
    the page's width and height (so a highlight fits the page drawn at any size)."""

    start: int
    end: int
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: short, returned as evidence, indexed with its situated ``context``.

    ``char_start``/``char_end`` index into the text of page ``page_start`` as the loader produced it, so
    ``page_text[char_start:char_end] == text``.
    """

    id: str
    doc_id: str
    text: str
    source: str
    title: str = ""
    section: str = ""
    page_start: int = 1
    page_end: int = 1
    char_start: int = 0
    char_end: int = 0
    context: str = ""
    keyphrases: tuple[str, ...] = ()
    acronyms: tuple[str, ...] = ()  # "SHORT=Long Form"
    topics: tuple[str, ...] = ()
    content_sha: str = ""
    ocr_confidence: float | None = None  # read from a page image: the recogniser's mean confidence (0-1)
    lines: tuple[LineBox, ...] = ()  # read from a page image: the lines the chunk covers


@dataclass(frozen=True)
class Hit:
    """A chunk found for a query. ``scores`` keeps each stage's score (dense, bm25, fused, rerank)."""

    chunk: Chunk
    score: float
    stage: str
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Citation:
    """Where an answer rests: passage number in the prompt, the chunk, its page and the quoted span."""

    n: int
    chunk_id: str
    source: str
    page: int
    char_start: int
    char_end: int
    quote: str
    score: float


@dataclass(frozen=True)
class Answer:
    """An answer with what it rests on. ``passages`` are the hits the model read (or, when it abstained, the
    closest ones); ``timings`` holds seconds per stage plus ``prompt_tokens``, ``dropped_passages`` and ``trimmed_passages``."""

    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Hit, ...]
    abstained: bool
    timings: dict[str, float] = field(default_factory=dict)
    question: str = ""
    withheld: str = ""  # the model's draft when the answer checks withheld it (``text`` then says why)
    evidence: str = ""  # the passages as the model read them (after compression), to check what reached it


@dataclass(frozen=True)
class FileResult:
    """What ingestion did with one file, and why when it failed or skipped it."""

    path: str
    status: str  # added | updated | unchanged | removed | failed | skipped
    chunks: int = 0
    reason: str = ""


@dataclass(frozen=True)
class IngestReport:
    """Per-file outcomes of one ``Rag.ingest`` call."""

    files: tuple[FileResult, ...] = ()

    def by_status(self, status: str) -> list[FileResult]:
        return [f for f in self.files if f.status == status]

    @property
    def failed(self) -> list[FileResult]:
        return self.by_status("failed")

    def summary(self) -> str:
        counts = {s: len(self.by_status(s)) for s in ("added", "updated", "unchanged", "removed", "failed")}
        return ", ".join(f"{n} {s}" for s, n in counts.items())


@dataclass(frozen=True)
class RetrievalDone:
    """Stream event: retrieval finished; ``hits`` are the passages the answer will use."""

    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Waiting:
    """Stream event: the model is busy with ``ahead`` other questions; this one waits its turn."""

    ahead: int


@dataclass(frozen=True)
class Token:
    """Stream event: the next piece of the draft answer. The draft is provisional: ``AnswerDone`` carries the
    checked answer, which can differ (withheld, citations moved); show that one in its place."""

    text: str


@dataclass(frozen=True)
class AnswerDone:
    """Stream event: the final, checked answer with its citations (always the last event unless ``Failed``)."""

    answer: Answer


@dataclass(frozen=True)
class Failed:
    """Stream event: something went wrong (a model could not load, a server did not answer)."""

    message: str


Event = RetrievalDone | Waiting | Token | AnswerDone | Failed
