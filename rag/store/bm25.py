"""The keyword index: one bm25s index per field, scores summed with per-field boosts (a light BM25F).

Fields are the chunk text, its situated context (title, section, summary), and the generated metadata
(keyphrases, acronym expansions). The index is derived from Chroma, saved as a folder of JSON and ``.npy``
files (never a pickle) and stamped so a stale copy is rebuilt instead of trusted.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from rag.core import analyzer
from rag.core.types import Chunk

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import


FIELDS = ("text", "context", "keyphrases", "acronyms")


def bm25_fields(chunk: Chunk) -> dict[str, str]:
    """The text each field of ``FIELDS`` indexes for a chunk."""
    return {
        "text": chunk.text,
        "context": " ".join(filter(None, (chunk.title, chunk.section, chunk.context))),
        "keyphrases": " ; ".join(chunk.keyphrases),
        "acronyms": " ; ".join(a.replace("=", " ") for a in chunk.acronyms),
    }


@dataclass
class Bm25Index:
    ids: list[str]
    fields: dict[str, bm25s.BM25]
    stamp: dict

    @classmethod
    def build(cls, ids: list[str], per_chunk: list[dict[str, str]], k1: float, b: float, stamp: dict) -> Bm25Index:
        """``per_chunk[i]``: the field texts of chunk ``ids[i]`` (see ``bm25_fields``)."""
        fields = {}
        for name in FIELDS:
            tokens = [analyzer.tokenize(f.get(name, "")) for f in per_chunk]
            if not any(tokens):
                continue
            model = bm25s.BM25(k1=k1, b=b, method="lucene")
            model.index(tokens, show_progress=False)
            fields[name] = model
        return cls(list(ids), fields, dict(stamp))

    def scores(self, query: str, boosts: dict[str, float]) -> np.ndarray:
        """BM25 score of every chunk (row order of ``ids``) for ``query``."""
        total = np.zeros(len(self.ids), dtype=np.float32)
        tokens = analyzer.tokenize(query)
        for name, model in self.fields.items():
            weight = boosts.get(name, 1.0)
            ids = model.get_tokens_ids(tokens)
            if weight and ids:
                total += weight * model.get_scores_from_ids(ids)
        return total

    def knows(self, token: str) -> bool:
        """Whether any chunk's fields hold this analyzed token."""
        return any(token in model.vocab_dict for model in self.fields.values())

    def search(
        self,
        query: str,
        k: int,
        boosts: dict[str, float],
        allowed: set[str] | None = None,
        extra: str = "",
        extra_weight: float = 0.0,
    ) -> list[tuple[str, float]]:
        """Top ``k`` chunks; ``extra`` (e.g. acronym expansions) is scored as a second query worth ``extra_weight``."""
        if not self.ids:
            return []
        scores = self.scores(query, boosts)
        if extra and extra_weight:
            scores = scores + extra_weight * self.scores(extra, boosts)
        if allowed is not None:
            scores = np.where(np.fromiter((i in allowed for i in self.ids), dtype=bool, count=len(self.ids)), scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, model in self.fields.items():
            model.save(str(tmp / name), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids))
        (tmp / "stamp.json").write_text(json.dumps({**self.stamp, "fields": sorted(self.fields)}))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> Bm25Index | None:
        """Load a saved index, or ``None`` when there is none or it is unreadable (the caller rebuilds)."""
        if not folder.exists():
            return None
        try:
            stamp = json.loads((folder / "stamp.json").read_text())
            ids = json.loads((folder / "ids.json").read_text())
            fields = {
                name: bm25s.BM25.load(str(folder / name), allow_pickle=False, show_progress=False)
                for name in stamp.get("fields", [])
            }
        except (OSError, ValueError, KeyError) as exc:
            log.warning("BM25 index at %s is unreadable (%s); it will be rebuilt", folder, exc)
            return None
        return cls(ids, fields, stamp)
