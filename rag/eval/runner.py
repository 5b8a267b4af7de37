"""Running an evaluation: every question through the index (retrieval, or whole answers), scores aggregated.

``evaluate``/``evaluate_answers`` build the index a BEIR or chunked set needs in a temporary folder; page
question files are scored on an existing index.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.core.config import Config
from rag.core.errors import RagError
from rag.core.progress import ANSWERING, Progress, reporter
from rag.eval.datasets import Dataset, Query, load_dataset, prepared_documents
from rag.eval.metrics import containment, contains_answer, percentile, relevance_flags, same_file, score_ranking, token_f1
from rag.pipeline import Rag

log = logging.getLogger(__name__)


@dataclass
class Report:
    metrics: dict[str, float]
    per_query: list[dict]
    config: dict

    def as_json(self) -> dict:
        return {**self.metrics, "config": self.config, "questions": self.per_query}


def run_queries(rag: Rag, dataset: Dataset, k: int = 20) -> Report:
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
    # questions no document answers have no page to find: counted here, scored (did it refuse?) with the answers
    metrics["n_unanswerable"] = len(dataset.queries) - len(queries)
    metrics["latency_p50_ms"] = round(1000 * percentile(latencies, 0.5), 2)
    metrics["latency_p95_ms"] = round(1000 * percentile(latencies, 0.95), 2)
    if rerank_latencies:
        metrics["rerank_p50_ms"] = round(1000 * percentile(rerank_latencies, 0.5), 2)
        metrics["rerank_p95_ms"] = round(1000 * percentile(rerank_latencies, 0.95), 2)
    return Report(metrics, per_query, rag.config.flat())


def evaluate(dataset_path: str | Path, config: Config, progress: bool = True, index_path: str | Path | None = None,
             limit: int = 0) -> Report:
    """Score retrieval. BEIR and chunked sets are indexed into a fresh temporary index; page questions use the
    index of ``config`` (or ``index_path``) as it is."""
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


def _cited_gold(answer: Any, query: Query, kind: str) -> list[bool]:
    if kind == "pages":
        return [any(same_file(c.source, key.rpartition("#")[0]) and key.endswith(f"#{c.page}") for key in query.gold)
                for c in answer.citations]
    return [c.chunk_id in query.gold for c in answer.citations]


def answer_queries(rag: Rag, dataset: Dataset, limit: int = 0, held_out: frozenset[str] = frozenset(),
                   progress: Progress = True) -> Report:
    """Ask every question and score the answers; ``held_out`` gold ids were kept out of the index on purpose."""
    rows, ttft, total, prompt_tokens, failed = [], [], [], [], []
    queries = dataset.queries[:limit] if limit else dataset.queries
    report = reporter(progress)
    rag.generator.count_tokens.ready.wait(300)  # every question's prompt is budgeted with the same counter
    for done, q in enumerate(queries):
        report(ANSWERING, done, len(queries))
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
        gold = q.answer or ""
        retrieved = " ".join(h.chunk.text for h in answer.passages)
        rows.append({
            "id": q.id, "question": q.text, "answer": answer.text, "gold": q.answer, "answerable": answerable,
            "abstained": answer.abstained,
            # the headline: the reply states the gold answer (numbers, number words, dashes and case normalised)
            "correct": (not answer.abstained and contains_answer(answer.text, gold)) if answerable else None,
            "cited_gold_page": (not answer.abstained and any(cited)) if answerable else None,
            # was the answer in what retrieval found, and did it survive into what the model read?
            "answer_retrieved": contains_answer(retrieved, gold) if answerable else None,
            "answer_kept": contains_answer(answer.evidence, gold) if answerable and answer.evidence else None,
            "f1": token_f1(answer.text, gold) if answerable else None,
            "containment": containment(answer.text, q.answer or "") if answerable else None,
            "citations": [f"{c.source} p.{c.page}" for c in answer.citations], "cited_gold": cited,
            "prompt_tokens": t.get("prompt_tokens", 0.0), "first_token_s": ttft[-1], "total_s": total[-1],
            "asked_again": bool(t.get("asked_again")),
            "withheld_draft": answer.withheld,  # what the answer checks held back, to tune them offline
            # seconds from the question to the passages and to the evidence: what the first token waited for
            # besides the model reading the prompt
            "retrieved_at_s": t.get("retrieve"), "evidence_at_s": t.get("evidence"),
        })
    report(ANSWERING, len(queries), len(queries))
    answerable = [r for r in rows if r["answerable"]]
    cited = [flag for r in answerable if not r["abstained"] for flag in r["cited_gold"]]
    abstained = [r for r in rows if r["abstained"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    hits = [r for r in abstained if not r["answerable"]]
    retrieved = [r for r in answerable if r["answer_retrieved"] and r["answer_kept"] is not None]
    m = {
        "n_questions": len(rows),
        "answer_accuracy": _share(r["correct"] for r in answerable),
        "cited_page_accuracy": _share(r["cited_gold_page"] for r in answerable),
        "false_abstention_rate": _share(r["abstained"] for r in answerable),
        "answer_sentence_kept": _share(r["answer_kept"] for r in retrieved),
        "answer_in_passages": _share(r["answer_retrieved"] for r in answerable),
        "answer_f1": round(sum(r["f1"] for r in answerable) / (len(answerable) or 1), 4),
        "answer_containment": round(sum(r["containment"] for r in answerable) / (len(answerable) or 1), 4),
        "citation_precision": round(sum(cited) / len(cited), 4) if cited else 0.0,
        "abstention_precision": round(len(hits) / len(abstained), 4) if abstained else 0.0,
        "abstention_recall": round(len(hits) / len(unanswerable), 4) if unanswerable else 0.0,
        "answered_share": round(sum(1 for r in answerable if not r["abstained"]) / (len(answerable) or 1), 4),
        "first_token_p50_s": round(percentile(ttft, 0.5), 2),
        "first_token_p95_s": round(percentile(ttft, 0.95), 2),
        "total_p50_s": round(percentile(total, 0.5), 2),
        "total_p95_s": round(percentile(total, 0.95), 2),
        "prompt_tokens_p50": percentile(prompt_tokens, 0.5),
        "asked_again_share": round(sum(r["asked_again"] for r in rows) / (len(rows) or 1), 4),  # replies of markers alone
        "failed": len(failed),  # questions with no answer at all (errors); the metrics above leave them out
    }
    return Report(m, rows + failed, rag.config.flat())


def _share(flags: Iterable[object]) -> float:
    values = [bool(f) for f in flags]
    return round(sum(values) / len(values), 4) if values else 0.0


def evaluate_answers(dataset_path: str | Path, config: Config, limit: int = 0, unanswerable_every: int = 0,
                     progress: Progress = True, index_path: str | Path | None = None) -> Report:
    """End-to-end answer quality. For chunked/BEIR sets, every ``unanswerable_every``-th question has its gold
    documents left out of the index, so it becomes unanswerable and tests abstention."""
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


def evaluate_index(rag: Rag, dataset: str | Path, answers: bool = False, progress: Progress = False) -> Report:
    """Score retrieval, or whole answers, on an open index with a page-level question file (the app's
    Evaluate tab)."""
    data = load_dataset(dataset)
    if data.kind != "pages":
        raise RagError(f"{dataset}: only page-level question files are scored on an existing index; "
                       f"use 'rag eval' for {data.kind} sets")
    if rag.index.count() == 0:
        raise RagError(f"the index at {rag.config.index.path} is empty: ingest the documents first")
    return answer_queries(rag, data, progress=progress) if answers else run_queries(rag, data)
