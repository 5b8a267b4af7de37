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
import math
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunking import doc_id_for, sha
from ingest.enrich import Prepared, enrich
from ingest.loaders import first_line_title
from rag.analyzer import tokenize
from rag.config import Config
from rag.errors import RagError
from rag.types import Chunk, Hit

log = logging.getLogger(__name__)

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
    return gold_flags([_gold_key(hit, query, kind) for hit in hits])


def gold_flags(keys: list[str | None]) -> list[bool]:
    """Per rank: a gold key (None: not gold) seen for the first time."""
    seen: set[str] = set()
    flags = []
    for key in keys:
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
        return {**self.metrics, "config": self.config, "questions": self.per_query}


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


def evaluate(dataset_path: str | Path, config: Config, progress: bool = True, index_path: str | Path | None = None,
             limit: int = 0) -> Report:
    """Score retrieval. BEIR and chunked sets are indexed into a fresh temporary index; page questions use the
    index of ``config`` (or ``index_path``) as it is."""
    from rag.pipeline import Rag

    dataset = load_dataset(dataset_path)
    if limit:
        dataset.queries = dataset.queries[:limit]
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


# ---- answers ------------------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _answer_tokens(text: str) -> list[str]:
    text = _ARTICLES.sub(" ", text.lower())
    return re.findall(r"[a-z0-9]+(?:[.:][0-9]+)?", text)


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style token F1 between an answer and the gold answer."""
    pred, ref = _answer_tokens(prediction), _answer_tokens(gold)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def containment(prediction: str, gold: str) -> float:
    """Share of the gold answer's content terms (stemmed, no stop words) that the answer contains."""
    ref = set(tokenize(gold))
    return len(ref & set(tokenize(prediction))) / len(ref) if ref else 0.0


def _cited_gold(answer: Any, query: Query, kind: str) -> list[bool]:
    if kind == "pages":
        return [any(f"{name}#{c.page}" in query.gold for name in (c.source, Path(c.source).name)) for c in answer.citations]
    return [c.chunk_id in query.gold for c in answer.citations]


def answer_queries(rag, dataset: Dataset, limit: int = 0, held_out: frozenset[str] = frozenset(), progress: bool = True) -> Report:  # noqa: ANN001
    """Ask every question and score the answers; ``held_out`` gold ids were kept out of the index on purpose."""
    from tqdm import tqdm

    rows, ttft, total, prompt_tokens, failed = [], [], [], [], []
    queries = dataset.queries[:limit] if limit else dataset.queries
    rag.generator.count_tokens.ready.wait(300)  # every question's prompt is budgeted with the same counter
    for q in tqdm(queries, desc="answers", unit="q", disable=not progress):
        answerable = q.answerable and bool(q.gold - held_out)
        try:
            answer = rag.ask(q.text)
        except RagError as exc:  # one failed question (a server gone, a model error) does not lose the run
            log.warning("question %s failed: %s", q.id, exc)
            failed.append({"id": q.id, "question": q.text, "error": str(exc)})
            continue
        t = answer.timings
        ttft.append(t.get("first_token", t.get("total", 0.0)))
        total.append(t.get("total", 0.0))
        prompt_tokens.append(t.get("prompt_tokens", 0.0))
        cited = _cited_gold(answer, q, dataset.kind)
        rows.append({
            "id": q.id, "question": q.text, "answer": answer.text, "gold": q.answer, "answerable": answerable,
            "abstained": answer.abstained, "f1": token_f1(answer.text, q.answer or "") if answerable else None,
            "containment": containment(answer.text, q.answer or "") if answerable else None,
            "citations": [f"{c.source} p.{c.page}" for c in answer.citations], "cited_gold": cited,
            "prompt_tokens": t.get("prompt_tokens", 0.0), "first_token_s": ttft[-1], "total_s": total[-1],
            "asked_again": bool(t.get("asked_again")),
            "withheld_draft": answer.withheld,  # what the answer checks held back, to tune them offline
            # seconds from the question to the passages and to the evidence: what the first token waited for
            # besides the model reading the prompt
            "retrieved_at_s": t.get("retrieve"), "evidence_at_s": t.get("evidence"),
        })
    answerable = [r for r in rows if r["answerable"]]
    cited = [flag for r in answerable if not r["abstained"] for flag in r["cited_gold"]]
    abstained = [r for r in rows if r["abstained"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    hits = [r for r in abstained if not r["answerable"]]
    m = {
        "n_questions": len(rows),
        "answer_f1": round(sum(r["f1"] for r in answerable) / (len(answerable) or 1), 4),
        "answer_containment": round(sum(r["containment"] for r in answerable) / (len(answerable) or 1), 4),
        "citation_precision": round(sum(cited) / len(cited), 4) if cited else 0.0,
        "abstention_precision": round(len(hits) / len(abstained), 4) if abstained else 0.0,
        "abstention_recall": round(len(hits) / len(unanswerable), 4) if unanswerable else 0.0,
        "answered_share": round(sum(1 for r in answerable if not r["abstained"]) / (len(answerable) or 1), 4),
        "first_token_p50_s": round(_percentile(ttft, 0.5), 2),
        "first_token_p95_s": round(_percentile(ttft, 0.95), 2),
        "total_p50_s": round(_percentile(total, 0.5), 2),
        "total_p95_s": round(_percentile(total, 0.95), 2),
        "prompt_tokens_p50": _percentile(prompt_tokens, 0.5),
        "asked_again_share": round(sum(r["asked_again"] for r in rows) / (len(rows) or 1), 4),  # replies of markers alone
        "failed": len(failed),  # questions with no answer at all (errors); the metrics above leave them out
    }
    return Report(m, rows + failed, rag.config.flat())


def evaluate_answers(dataset_path: str | Path, config: Config, limit: int = 0, unanswerable_every: int = 0,
                     progress: bool = True, index_path: str | Path | None = None) -> Report:
    """End-to-end answer quality. For chunked/BEIR sets, every ``unanswerable_every``-th question has its gold
    documents left out of the index, so it becomes unanswerable and tests abstention."""
    from rag.pipeline import Rag

    dataset = load_dataset(dataset_path)
    if limit:
        dataset.queries = dataset.queries[:limit]
    if dataset.kind == "pages":
        with Rag.open(index_path, config) as rag:
            return answer_queries(rag, dataset, progress=progress)
    held_docs: set[str] = set()
    if unanswerable_every:
        chunk_doc = {c["chunk_id"]: d["doc_id"] for d in dataset.documents for c in d["chunks"]}
        for q in dataset.queries[unanswerable_every - 1 :: unanswerable_every]:
            held_docs |= {chunk_doc[g] for g in q.gold if g in chunk_doc}
    kept = [d for d in dataset.documents if d["doc_id"] not in held_docs]
    held_out = frozenset(c["chunk_id"] for d in dataset.documents if d["doc_id"] in held_docs for c in d["chunks"])
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        with Rag.open(Path(tmp) / "index", config) as rag:
            subset = Dataset(dataset.name, dataset.kind, dataset.queries, kept)
            rag.add_prepared(prepared_documents(subset, rag.config, rag.embedder.count_tokens), progress=progress)
            report = answer_queries(rag, dataset, held_out=held_out, progress=progress)
            report.metrics["held_out_documents"] = len(held_docs)
            report.config["index.path"] = "(temporary)"
            return report
