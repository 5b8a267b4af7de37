"""The store on a real Chroma: filters built from long lists are sent in slices Chroma accepts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.core.types import Chunk
from rag.store.index import DocRecord, Index


def _chunk(n: int, text: str) -> Chunk:
    return Chunk(id=f"d{n}:0", doc_id=f"d{n}", text=text, source=f"doc{n}.txt", title="", section="", page_start=1,
                 page_end=1, char_start=0, char_end=len(text))


def test_thousands_of_terms_and_documents_in_one_filter(tmp_path: Path) -> None:
    index = Index(tmp_path / "index")
    try:
        rng = np.random.default_rng(0)
        items = []
        for n in range(1500):  # as many documents as acronyms: "ZHFK3 is ..." in each
            chunk = _chunk(n, f"ZHFK{n} is the pump on line {n}.")
            vector = rng.normal(size=(1, 8)).astype(np.float32)
            items.append((DocRecord(chunk.doc_id, chunk.source, "", "", 0, 0.0, "ok", "", 0, "", {}), [chunk],
                          [vector / np.linalg.norm(vector)]))
        index.write_documents(items)
        terms = [f"ZHFK{n} " for n in range(0, 3000, 2)]  # 1,500 terms, half of them in no chunk
        found = {c.id for c in index.iter_chunks(containing=terms)}
        assert found == {f"d{n}:0" for n in range(0, 1500, 2)}
        docs = {f"d{n}" for n in range(1500)}
        assert len(list(index.iter_chunks(doc_ids=sorted(docs)))) == 1500
        ids, _, _, vectors = index.vectors(docs)
        assert len(ids) == 1500 and vectors.shape == (1500, 8)
        index.update_metadata({f"d{n}:0": {"topics": "pumps"} for n in range(1500)})
        assert index.chunk_vectors([f"d{n}:0" for n in range(600)]).keys() == {f"d{n}:0" for n in range(600)}
    finally:
        index.close()
