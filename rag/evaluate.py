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
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ingest.chunking import doc_id_for, sha
from ingest.enrich import Prepared, enrich
from rag.config import Config
from rag.errors import RagError
from rag.types import Chunk, Hit

RECALL_AT = (1, 3, 5, 10, 20)
PASS_AT = (5, 10, 20)


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


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


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
    queries = [Query(q["_id"], q["text"], frozenset(qrels[q["_id"]])) for q in _jsonl(path / "queries.jsonl") if q["_id"] in qrels]
    docs = [{"doc_id": d["_id"], "title": d.get("title", ""), "content": d["text"],
             "chunks": [{"chunk_id": d["_id"], "content": d["text"]}]} for d in _jsonl(path / "corpus.jsonl")]
    return Dataset(path.name, "beir", queries, docs)


def _load_chunked(path: Path) -> Dataset:
    docs = json.loads((path / "documents.json").read_text(encoding="utf-8"))
    queries = [Query(q["id"], q["question"], frozenset(q["gold_chunk_ids"]), q.get("answer"))
               for q in _jsonl(path / "questions.jsonl")]
    return Dataset(path.name, "chunked", queries, docs)


def _load_pages(path: Path) -> Dataset:
    queries = []
    for q in _jsonl(path):
        answerable = q.get("answerable", q.get("source") is not None)
        gold = frozenset({f"{q['source']}#{q['page']}"}) if answerable else frozenset()
        queries.append(Query(q["id"], q["question"], gold, q.get("answer"), answerable))
    return Dataset(path.parent.name, "pages", queries)


def prepared_documents(dataset: Dataset, config: Config, count: Callable[[str], int]) -> list[Prepared]:
    """Chunks exactly as the dataset gives them, with situated context and metadata from their document."""
    out = []
    for d in dataset.documents:
        content = d["content"]
        doc_id = doc_id_for(d["doc_id"])
        title = d.get("title") or _title_of(content, d)
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


def _title_of(content: str, doc: dict) -> str:
    first = next((line.strip() for line in content.splitlines() if line.strip()), "")
    return first if len(first) <= 100 else str(doc["doc_id"])


def _gold_key(hit: Hit, query: Query, kind: str) -> str | None:
    """The gold item a hit matches: its chunk id, or for page questions the "file#page" it lies on."""
    c = hit.chunk
    if kind != "pages":
        return c.id if c.id in query.gold else None
    for p in range(c.page_start, c.page_end + 1):
        for key in (f"{c.source}#{p}", f"{Path(c.source).name}#{p}"):
            if key in query.gold:
                return key
    return None


def relevance_flags(hits: list[Hit], query: Query, kind: str) -> list[bool]:
    """Which ranks hold a gold item not already found higher up (a page counts once, however many chunks it has)."""
    seen: set[str] = set()
    flags = []
    for hit in hits:
        key = _gold_key(hit, query, kind)
        flags.append(key is not None and key not in seen)
        if key is not None:
            seen.add(key)
    return flags


def score_ranking(flags: list[bool], n_gold: int) -> dict[str, float]:
    """Metrics of one ranked list given which positions are relevant and how many gold items exist."""
    m: dict[str, float] = {}
    dcg = sum(1.0 / math.log2(i + 2) for i, rel in enumerate(flags[:10]) if rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_gold, 10)))
    m["ndcg@10"] = dcg / ideal if ideal else 0.0
    for k in RECALL_AT:
        m[f"recall@{k}"] = sum(flags[:k]) / n_gold if n_gold else 0.0
    first = next((i for i, rel in enumerate(flags[:10]) if rel), None)
    m["mrr@10"] = 1.0 / (first + 1) if first is not None else 0.0
    for k in PASS_AT:
        m[f"pass@{k}"] = min(sum(flags[:k]), n_gold) / n_gold if n_gold else 0.0
        m[f"hit@{k}"] = 1.0 if any(flags[:k]) else 0.0
    return m


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Report:
    metrics: dict[str, float]
    per_query: list[dict]
    config: dict

    def as_json(self) -> dict:
        return {**self.metrics, "config": self.config}


def run_queries(rag, dataset: Dataset, k: int = 20) -> Report:  # noqa: ANN001 - rag.Rag, imported lazily
    per_query, totals, latencies, rerank_latencies = [], {}, [], []
    queries = [q for q in dataset.queries if q.gold]
    for q in queries:
        t = time.perf_counter()
        result = rag.retriever.search(q.text, k)
        latencies.append(time.perf_counter() - t)
        if "rerank" in result.timings:
            rerank_latencies.append(result.timings["rerank"])
        flags = relevance_flags(result.hits, q, dataset.kind)
        n_gold = len(q.gold)
        m = score_ranking(flags, n_gold)
        for name, value in m.items():
            totals[name] = totals.get(name, 0.0) + value
        per_query.append({"id": q.id, "question": q.text, "found": [h.chunk.id for h, f in zip(result.hits, flags) if f],
                          "top": [f"{h.chunk.source} p.{h.chunk.page_start}" for h in result.hits[:3]],
                          "first_relevant": next((i + 1 for i, f in enumerate(flags) if f), None), **m})
    n = len(queries) or 1
    metrics = {name: round(total / n, 4) for name, total in totals.items()}
    metrics["n_queries"] = len(queries)
    metrics["latency_p50_ms"] = round(1000 * _percentile(latencies, 0.5), 2)
    metrics["latency_p95_ms"] = round(1000 * _percentile(latencies, 0.95), 2)
    if rerank_latencies:
        metrics["rerank_p50_ms"] = round(1000 * _percentile(rerank_latencies, 0.5), 2)
        metrics["rerank_p95_ms"] = round(1000 * _percentile(rerank_latencies, 0.95), 2)
    return Report(metrics, per_query, rag.config.flat())


def evaluate(dataset_path: str | Path, config: Config, progress: bool = True, index_path: str | Path | None = None) -> Report:
    """Score retrieval. BEIR and chunked sets are indexed into a fresh temporary index; page questions use the
    index of ``config`` (or ``index_path``) as it is."""
    from rag.pipeline import Rag

    dataset = load_dataset(dataset_path)
    if dataset.kind == "pages":
        with Rag.open(index_path, config) as rag:
            if rag.index.count() == 0:
                raise RagError(f"the index at {rag.config.index.path} is empty: ingest the documents first")
            return run_queries(rag, dataset)
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        with Rag.open(Path(tmp) / "index", config) as rag:
            t = time.perf_counter()
            rag.add_prepared(prepared_documents(dataset, rag.config, rag.embedder.count_tokens), progress=progress)
            ingest_s = time.perf_counter() - t
            report = run_queries(rag, dataset)
            report.metrics["ingest_s"] = round(ingest_s, 1)
            report.config["index.path"] = "(temporary)"
            return report
