"""Write a BEIR-format retrieval set from sample_docs/: passages are our chunks, queries are the answerable
questions of sample_docs/questions.jsonl, and a passage is relevant when it lies on the question's gold page
and shares the most answer terms there.

    python scripts/make_beir_sample.py [OUT]   (default benchmarks/sample_beir)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.chunking import chunk_document  # noqa: E402
from ingest.loaders import load, supported  # noqa: E402
from rag.core.analyzer import tokenize  # noqa: E402


def main(out: Path) -> None:
    docs = ROOT / "sample_docs"
    chunks = []
    for path in sorted(docs.iterdir()):
        if supported(path) and path.name != "README.md":
            chunks += chunk_document(load(path, path.name), size=900, overlap=120)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w") as f:
        for c in chunks:
            f.write(json.dumps({"_id": c.id, "title": f"{c.title} - {c.section}".strip(" -"), "text": c.text}) + "\n")
    queries, qrels = [], []
    for line in (docs / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        if not q.get("answerable", True):
            continue
        on_page = [c for c in chunks if c.source == q["source"] and c.page_start <= q["page"] <= c.page_end]
        terms = set(tokenize(q["answer"]))
        best = max(on_page, key=lambda c: len(terms & set(tokenize(c.text))))
        queries.append({"_id": q["id"], "text": q["question"]})
        qrels.append(f"{q['id']}\t{best.id}\t1")
    (out / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (out / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")
    print(f"{len(chunks)} passages, {len(queries)} queries -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "benchmarks" / "sample_beir")
