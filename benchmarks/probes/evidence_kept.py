"""How often the evidence the model reads still holds the answer: no model runs, only retrieval, compression and
the model's own tokenizer. For every answerable question whose gold answer is in the retrieved passages, is it
still in the prompt? Prints one JSON line per setting (``--out FILE.json``: also writes them with the run's meta).

    python benchmarks/probes/evidence_kept.py sample_docs/questions.jsonl --docs sample_docs
    python benchmarks/probes/evidence_kept.py ../shared/data/docs_qa -o generate.evidence_share=0.4
    python benchmarks/probes/evidence_kept.py benchmarks/dev_answers/questions.jsonl --index /tmp/devidx  # already ingested
"""

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from rag.core.config import load_config
from rag.eval.datasets import load_dataset, prepared_documents
from rag.eval.meta import run_meta
from rag.eval.metrics import contains_answer
from rag.llm.tokens import TokenCounter, gguf_tokenizer
from rag.models.packaged import resolve_gguf
from rag.pipeline import Rag

SETTINGS = {
    "whole": {"generate.compress": "false"},
    "default": {},
    "share 0.4": {"generate.evidence_share": "0.4"},
    "share 0.5": {"generate.evidence_share": "0.5"},
    "floor 400": {"generate.evidence_tokens": "400"},
    "floor 600": {"generate.evidence_tokens": "600"},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--docs", help="folder to ingest for a page-question set")
    parser.add_argument("--index", help="an index already holding the documents (nothing is ingested)")
    parser.add_argument("--setting", action="append", help="only these of the settings compared (default: all)")
    parser.add_argument("-o", action="append", default=[])
    parser.add_argument("--out", help="write the settings' lines with the run's commit, CPU and models to this JSON file")
    args = parser.parse_args()
    base = load_config(None, dict(o.split("=", 1) for o in args.o), environ={})
    data = load_dataset(args.dataset)
    count = TokenCounter(lambda: gguf_tokenizer(resolve_gguf(base.generate.model)))
    count.ready.wait(300)
    with tempfile.TemporaryDirectory() as tmp, Rag.open(args.index or Path(tmp) / "index", base) as rag:
        if args.index:
            pass
        elif data.kind == "pages":
            rag.ingest(args.docs, progress=False)
        else:
            rag.add_prepared(prepared_documents(data, rag.config, rag.embedder.count_tokens), progress=False)
        questions = [q for q in data.queries if q.answerable and q.answer]
        rows = []
        for name, overrides in SETTINGS.items():
            if args.setting and name not in args.setting:
                continue
            view = rag.with_options(overrides)
            kept, found, tokens = 0, 0, []
            for q in questions:
                hits = view.retriever.search(q.text, view.config.generate.passages).hits[: view.config.generate.passages]
                if not contains_answer(" ".join(h.chunk.text for h in hits), q.answer):
                    continue
                prompt, _, _ = view.answerer.compose(q.text, hits, count)
                found += 1
                kept += contains_answer(prompt.messages[-1]["content"], q.answer)
                tokens.append(count(prompt.messages[-1]["content"]))
            rows.append({"setting": name, "questions": len(questions), "answer_in_passages": found, "answer_kept_n": kept,
                         "answer_kept": round(kept / (found or 1), 4), "prompt_tokens_p50": statistics.median(tokens or [0])})
            print(json.dumps(rows[-1]), flush=True)
    if args.out:
        meta = run_meta(base, program="benchmarks/probes/evidence_kept.py")
        Path(args.out).write_text(json.dumps({"meta": meta, "settings": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
