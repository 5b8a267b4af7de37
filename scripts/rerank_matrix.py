"""Every reranker x fusion method on one evaluation set, indexed once (the table in docs/benchmarks.md).

    python scripts/rerank_matrix.py DATASET OUT.json [--llm] [-o section.key=value ...]

Each row equals `rag eval DATASET -o retrieval.fusion=F -o rerank.method=M -o rerank.mix=X`; running them in one
process just avoids re-indexing. maxsim rows run the questions twice and report the first pass as "cold" (its
sentence vectors come from the on-disk embedding cache when it is warm) and the second as warm (memoised).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.core.config import load_config  # noqa: E402
from rag.eval.datasets import load_dataset, prepared_documents  # noqa: E402
from rag.eval.meta import run_meta  # noqa: E402
from rag.eval.runner import run_queries  # noqa: E402
from rag.pipeline import Rag  # noqa: E402

KEYS = ["n_queries", "ndcg@10", "recall@10", "mrr@10", "pass@10", "latency_p50_ms", "latency_p95_ms", "rerank_p50_ms", "rerank_p95_ms"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("out")
    parser.add_argument("--llm", action="store_true", help="also the LLM listwise reranker on the first 20 questions")
    parser.add_argument("--sweep", action="store_true", help="only maxsim over mix x lexical, and the baseline")
    parser.add_argument("-o", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = load_dataset(args.dataset)
    config = load_config(None, dict(o.split("=", 1) for o in args.o), environ={})
    rag = Rag.open(Path(tempfile.mkdtemp()) / "index", config)
    rag.add_prepared(prepared_documents(data, rag.config, rag.embedder.count_tokens), progress=False)
    rows = []

    def row(name: str, fusion: str = "convex", method: str = "none", limit: int = 0, **rerank: float) -> None:
        view = rag.with_options({"retrieval.fusion": fusion, "rerank.method": method, **{f"rerank.{k}": v for k, v in rerank.items()}})
        subset = dataclasses.replace(data, queries=data.queries[:limit]) if limit else data
        cold = run_queries(view, subset).metrics if method == "maxsim" else {}
        m = run_queries(view, subset).metrics
        result = {"name": name, "fusion": fusion, "rerank": method, **rerank, **{k: m.get(k) for k in KEYS}}
        if cold:
            result["cold_rerank_p50_ms"] = cold.get("rerank_p50_ms")
        rows.append(result)
        print(json.dumps(result), flush=True)

    if args.sweep:
        row("none")
        for mix in (0.1, 0.2, 0.3, 0.5):
            for lexical in (0.0, 0.3, 0.6):
                row(f"maxsim mix {mix} lexical {lexical}", "convex", "maxsim", mix=mix, lexical=lexical)
        Path(args.out).write_text(json.dumps({"meta": run_meta(config, sys.argv, "python"), "rows": rows}, indent=1) + "\n")
        return
    for fusion in ("rrf", "convex"):
        row("none", fusion)
        row("prf", fusion, "prf", mix=0.5)
        row("maxsim", fusion, "maxsim", mix=0.2)
    row("prf mix.3", "convex", "prf", mix=0.3)
    row("prf w.5", "convex", "prf", weight=0.5, mix=0.5)
    row("maxsim mix.3", "convex", "maxsim", mix=0.3)
    row("maxsim mix.5", "convex", "maxsim", mix=0.5)
    row("maxsim mix.7", "convex", "maxsim", mix=0.7)
    if args.llm:
        row("none (first 20)", "convex", "none", limit=20)
        row("llm (first 20)", "convex", "llm", limit=20, mix=0.3)
    Path(args.out).write_text(json.dumps({"meta": run_meta(config, sys.argv, "python"), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
