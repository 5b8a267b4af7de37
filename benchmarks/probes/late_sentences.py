"""Could the reranker's sentence vectors come free from the chunk's own forward pass? "Late chunking" pools each
sentence's token outputs from the chunk's embedding pass instead of embedding the sentence alone, which would
cost ingestion nothing. This scores retrieval (maxsim reranking) both ways, and half of each, on a chunked or
BEIR set.

    .venv/bin/python benchmarks/probes/late_sentences.py ../shared/data/docs_qa [--out FILE.json]
    .venv/bin/python benchmarks/probes/late_sentences.py benchmarks/sample_beir --out FILE.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from rag.core.analyzer import tokenize
from rag.core.config import load_config
from rag.core.sentences import sentence_spans
from rag.core.types import Hit
from rag.eval.datasets import load_dataset, prepared_documents
from rag.eval.meta import run_meta
from rag.eval.runner import run_queries
from rag.models.embedder import Embedder, embedder_for
from rag.pipeline import Rag
from rag.retrieval.sentence_scores import SentenceIndex, Sentences


class LateSentences(SentenceIndex):
    """Sentence vectors pooled from the chunk's token outputs (``share`` of them, the rest the sentence alone)."""

    def __init__(self, embedder: Embedder, lexical: float, share: float):
        super().__init__(embedder.encode, embedder.encode_query, lexical)
        self.embedder, self.share = embedder, share

    def of(self, hits: list[Hit]) -> list[Sentences]:
        for h in hits:
            key = (h.chunk.id, h.chunk.content_sha or h.chunk.text)
            if key not in self._memo:
                self._memo[key] = self._late(h.chunk.text)
        return [self._memo[(h.chunk.id, h.chunk.content_sha or h.chunk.text)] for h in hits]

    def _late(self, text: str) -> Sentences:
        model = self.embedder.model
        spans = sentence_spans(text)
        offsets = model.tokenizer(text, return_offsets_mapping=True, truncation=True,
                                  max_length=model.max_seq_length)["offset_mapping"]
        tokens = model.encode([text], output_value="token_embeddings", convert_to_numpy=False)[0].float().numpy()
        alone = self.embedder.encode([text[a:b] for a, b in spans])
        rows = []
        for j, (a, b) in enumerate(spans):
            inside = [i for i, (s, e) in enumerate(offsets) if e > s and s < b and e > a]
            if not inside:  # past the embedder's length: only the sentence alone exists
                rows.append(alone[j])
                continue
            pooled = tokens[inside].mean(0)
            row = self.share * pooled / np.linalg.norm(pooled) + (1 - self.share) * alone[j]
            rows.append(row / np.linalg.norm(row))
        return Sentences(spans, [frozenset(tokenize(text[a:b])) for a, b in spans], np.stack(rows))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--out")
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    rows = []
    for name, share in (("sentences alone (default)", None), ("late chunking", 1.0), ("half each", 0.5)):
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config(None, {"index.path": f"{tmp}/index"}, environ={})
            e = config.embed
            embedder = embedder_for(e.model, e.max_tokens, e.batch_size, e.dtype, e.threads, e.cache, e.query_onnx)
            sentences = None if share is None else LateSentences(embedder, config.rerank.lexical, share)
            with Rag(config, sentences=sentences) as rag:
                rag.add_prepared(prepared_documents(data, rag.config, rag.embedder.count_tokens), progress=False)
                metrics = run_queries(rag, data).metrics
            rows.append({"sentence vectors": name, **{k: metrics[k] for k in ("ndcg@10", "mrr@10", "recall@10")}})
            print(json.dumps(rows[-1]), flush=True)
    if args.out:
        meta = run_meta(load_config(None, {}, environ={}), program="benchmarks/probes/late_sentences.py")
        Path(args.out).write_text(json.dumps({"meta": meta, "dataset": args.dataset, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
