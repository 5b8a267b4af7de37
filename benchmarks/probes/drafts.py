"""Every question's answer with what it rests on, saved to tune the answer checks offline: the passages the model
read (whole chunks), the evidence, the shown text and any withheld draft. Asking the model is the slow part; a
check can then be tried on the saved drafts in seconds (``load_drafts`` gives back the ``Hit`` objects).

    python benchmarks/probes/drafts.py benchmarks/dev_answers/questions.jsonl --index /tmp/devidx --out /tmp/dev.jsonl
    python benchmarks/probes/drafts.py sample_docs/questions.jsonl --docs sample_docs --out /tmp/sample.jsonl
"""

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

from rag.core.config import load_config
from rag.core.types import Chunk, Hit
from rag.eval.datasets import load_dataset
from rag.eval.metrics import contains_answer
from rag.pipeline import Rag


def load_drafts(path: str | Path) -> list[dict]:
    """The saved rows, each with ``hits``: its passages as ``Hit`` objects, in prompt order."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    for row in rows:
        row["hits"] = [Hit(Chunk(**{k: tuple(v) if isinstance(v, list) else v for k, v in p["chunk"].items()}),
                           p["score"], p["stage"], p["scores"]) for p in row["passages"]]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--docs", help="folder to ingest for a page-question set")
    parser.add_argument("--index", help="an index already holding the documents (nothing is ingested)")
    parser.add_argument("--out", required=True)
    parser.add_argument("-o", action="append", default=[])
    args = parser.parse_args()
    config = load_config(None, dict(o.split("=", 1) for o in args.o), environ={})
    data = load_dataset(args.dataset)
    with tempfile.TemporaryDirectory() as tmp, Rag.open(args.index or Path(tmp) / "index", config) as rag, \
            open(args.out, "w") as out:
        if not args.index:
            rag.ingest(args.docs, progress=False)
        rag.generator.count_tokens.ready.wait(300)  # every prompt budgeted with the model's own counter, as in `rag eval`
        for q in data.queries:
            answer = rag.ask(q.text)
            gold = q.answer or ""
            row = {"id": q.id, "question": q.text, "gold": gold, "answerable": q.answerable, "gold_pages": sorted(q.gold),
                   "text": answer.text, "withheld": answer.withheld, "abstained": answer.abstained,
                   "correct": bool(q.answerable and not answer.abstained and contains_answer(answer.text, gold)),
                   "citations": [f"{c.source} p.{c.page}" for c in answer.citations], "evidence": answer.evidence,
                   "passages": [dataclasses.asdict(h) for h in answer.passages], "timings": answer.timings}
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(q.id, "right" if row["correct"] else "abstained" if answer.abstained else "wrong", answer.text[:100], flush=True)


if __name__ == "__main__":
    main()
