"""Retrieval evaluation on BEIR folders, chunked-document sets, and page-level question files.

Formats:
- BEIR: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``), ``qrels/test.tsv``.
- Chunked documents: ``documents.json`` = ``[{doc_id, content, chunks: [{chunk_id, content, heading?}]}]`` and
  ``questions.jsonl`` = ``{id, question, gold_chunk_ids, answer}``. Chunks are indexed as given, situated in
  their document.
- Page questions (``sample_docs/questions.jsonl``): ``{id, question, answer, source, page}``, scored against an
  existing index: a hit is relevant when it comes from that file and page.

Metrics use binary relevance. ``pass@k`` is the share of a question's gold chunks found in the top k, averaged
(as in Anthropic's contextual-retrieval cookbook); on binary qrels it equals ``recall@k``. ``hit@k`` is the
share of questions with at least one gold chunk in the top k.
"""


from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunking import doc_id_for, sha
from ingest.enrich import Prepared, enrich
from ingest.loaders import first_line_title
from rag.core.config import Config
from rag.core.errors import RagError
from rag.core.types import Chunk

log = logging.getLogger(__name__)




@dataclass(frozen=True)
class Query:
    id: str
    text: str
    gold: frozenset[str]  # chunk ids, or "source#page" keys for page questions
    answer: str | None = None
    answerable: bool = True


@dataclass
class Dataset:
    name: str
    kind: str  # beir | chunked | pages
    queries: list[Query]
    documents: list[dict] = field(default_factory=list)  # raw documents for beir/chunked


def load_dataset(path: str | Path) -> Dataset:
    path = Path(path)
    if (path / "corpus.jsonl").is_file():
        return _load_beir(path)
    if (path / "documents.json").is_file():
        return _load_chunked(path)
    file = path if path.is_file() else path / "questions.jsonl"
    if file.is_file():
        return _load_pages(file)
    raise RagError(f"{path}: not an evaluation set (expected corpus.jsonl, documents.json or questions.jsonl)")


def _jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    """The objects of a JSON-lines file; a line that is not a JSON object with the ``required`` fields is an error
    naming the file, the line and what is wrong."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"{path}: cannot read it ({exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RagError(f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise RagError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
        missing = [key for key in required if key not in row]
        if missing:
            raise RagError(f"{path}:{n}: missing {', '.join(repr(k) for k in missing)}")
        rows.append(row)
    return rows


def _load_beir(path: Path) -> Dataset:
    qrels: dict[str, set[str]] = {}
    split = next((path / "qrels" / f"{s}.tsv" for s in ("test", "dev", "train") if (path / "qrels" / f"{s}.tsv").is_file()), None)
    if split is None:
        raise RagError(f"{path}: BEIR set without qrels/test.tsv")
    for n, line in enumerate(split.read_text(encoding="utf-8").splitlines()):
        cols = line.split("\t")
        if n == 0 and not cols[-1].strip().lstrip("-").isdigit():
            continue  # header
        if len(cols) >= 3 and int(cols[2]) > 0:
            qrels.setdefault(cols[0], set()).add(cols[1])
    queries = [Query(q["_id"], q["text"], frozenset(qrels[q["_id"]]))
               for q in _jsonl(path / "queries.jsonl", ("_id", "text")) if q["_id"] in qrels]
    docs = [{"doc_id": d["_id"], "title": d.get("title", ""), "content": d["text"],
             "chunks": [{"chunk_id": d["_id"], "content": d["text"]}]} for d in _jsonl(path / "corpus.jsonl", ("_id", "text"))]
    return Dataset(path.name, "beir", queries, docs)


def _load_chunked(path: Path) -> Dataset:
    docs = json.loads((path / "documents.json").read_text(encoding="utf-8"))
    queries = [Query(q["id"], q["question"], frozenset(q["gold_chunk_ids"]), q.get("answer"))
               for q in _jsonl(path / "questions.jsonl", ("id", "question", "gold_chunk_ids"))]
    return Dataset(path.name, "chunked", queries, docs)


def _load_pages(path: Path) -> Dataset:
    queries = []
    for n, q in enumerate(_jsonl(path, ("id", "question")), 1):
        answerable = q.get("answerable", q.get("source") is not None)
        if answerable and ("source" not in q or "page" not in q):
            raise RagError(f"{path}: question {q['id']!r} (entry {n}) is answerable but names no 'source' and 'page'")
        gold = frozenset({f"{q['source']}#{q['page']}"}) if answerable else frozenset()
        queries.append(Query(q["id"], q["question"], gold, q.get("answer"), answerable))
    return Dataset(path.parent.name, "pages", queries)


def prepared_documents(dataset: Dataset, config: Config, count: Callable[[str], int]) -> list[Prepared]:
    """Chunks exactly as the dataset gives them, with situated context and metadata from their document."""
    out = []
    for d in dataset.documents:
        content = d["content"]
        doc_id = doc_id_for(d["doc_id"])
        title = d.get("title") or first_line_title(content, str(d["doc_id"]))
        chunks, cursor = [], 0
        for c in d["chunks"]:
            text = c["content"]
            at = content.find(text, cursor)
            start = at if at >= 0 else 0
            cursor = start + 1 if at >= 0 else cursor
            chunks.append(Chunk(id=c["chunk_id"], doc_id=doc_id, text=text, source=d["doc_id"], title=title,
                                section=c.get("heading", ""), char_start=start, char_end=start + len(text), content_sha=sha(text)))
        chunks, acronyms = enrich(chunks, content, config.context, config.metadata, count)
        out.append(Prepared(d["doc_id"], title, chunks, acronyms))
    return out
