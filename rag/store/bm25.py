"""The keyword index: one bm25s index per field, scores summed with per-field boosts (a light BM25F).

Fields are the chunk text, its situated context (title, section, summary), and the generated metadata
(keyphrases, acronym expansions). The index is derived from Chroma, saved as a folder of JSON and ``.npy``
files (never a pickle) and stamped so a stale copy is rebuilt instead of trusted.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
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
    # what a later update needs without reading every chunk again: each chunk's document, and per field the chunks'
    # analyzed tokens as ids into that field's vocabulary, end to end, with each chunk's count (one array, not one
    # per chunk: an array's own header costs more than a short field's tokens); empty for an index saved before
    doc_ids: list[str] = field(default_factory=list)
    tokens: dict[str, np.ndarray] = field(default_factory=dict)
    lengths: dict[str, np.ndarray] = field(default_factory=dict)
    vocab: dict[str, list[str]] = field(default_factory=dict)
    how: str = "built"  # "built" from every chunk, or "updated" with the chunks of the documents that changed

    @classmethod
    def build(cls, chunks: list[Chunk], k1: float, b: float, stamp: dict) -> Bm25Index:
        """The index of ``chunks`` (their fields as ``bm25_fields`` gives them)."""
        empty = {name: np.zeros(0, dtype=np.int32) for name in FIELDS}
        index = cls([], {}, dict(stamp), [], dict(empty), dict(empty), {name: [] for name in FIELDS})
        index._append(chunks)
        index._fit(k1, b)
        return index

    @property
    def updatable(self) -> bool:
        return (len(self.doc_ids) == len(self.ids) and set(self.lengths) == set(FIELDS)
                and all(len(n) == len(self.ids) for n in self.lengths.values()))

    def updated(self, changed: set[str], chunks: list[Chunk], k1: float, b: float, stamp: dict) -> Bm25Index:
        """This index with the chunks of the documents ``changed`` replaced by ``chunks`` (their chunks now, none for
        a deleted document): only those are read and analyzed, the rest keep their tokens."""
        keep = np.fromiter((d not in changed for d in self.doc_ids), dtype=bool, count=len(self.doc_ids))
        index = Bm25Index([i for i, k in zip(self.ids, keep) if k], {}, dict(stamp), [d for d, k in zip(self.doc_ids, keep) if k],
                          {name: t[np.repeat(keep, self.lengths[name])] for name, t in self.tokens.items()},
                          {name: n[keep] for name, n in self.lengths.items()},
                          {name: list(words) for name, words in self.vocab.items()}, "updated")
        index._append(chunks)
        index._fit(k1, b)
        return index

    def _append(self, chunks: list[Chunk]) -> None:
        self.ids += [c.id for c in chunks]
        self.doc_ids += [c.doc_id for c in chunks]
        texts = [bm25_fields(c) for c in chunks]
        for name in FIELDS:
            words = self.vocab.setdefault(name, [])
            number = {w: i for i, w in enumerate(words)}
            ids: list[int] = []
            counts = []
            for t in texts:
                tokens = analyzer.tokenize(t.get(name, ""))
                for w in tokens:
                    if w not in number:
                        number[w] = len(words)
                        words.append(w)
                ids += (number[w] for w in tokens)
                counts.append(len(tokens))
            self.tokens[name] = np.concatenate([self.tokens[name], np.array(ids, dtype=np.int32)])
            self.lengths[name] = np.concatenate([self.lengths[name], np.array(counts, dtype=np.int32)])

    def _fit(self, k1: float, b: float) -> None:
        """The bm25s model of each field from the kept token ids; tokens no chunk holds any more leave the vocabulary
        (``knows`` answers for the chunks there are)."""
        self.fields = {}
        for name in FIELDS:
            used = np.unique(self.tokens[name])
            if not len(used):
                continue
            if len(used) < len(self.vocab[name]):
                remap = np.full(len(self.vocab[name]), -1, dtype=np.int32)
                remap[used] = np.arange(len(used), dtype=np.int32)
                self.tokens[name] = remap[self.tokens[name]]
                self.vocab[name] = [self.vocab[name][i] for i in used]
            flat = self.tokens[name].tolist()
            ends = np.cumsum(self.lengths[name]).tolist()
            rows = [flat[a:z] for a, z in zip([0, *ends[:-1]], ends)]
            model = bm25s.BM25(k1=k1, b=b, method="lucene")
            model.index((rows, {w: i for i, w in enumerate(self.vocab[name])}), show_progress=False)
            self.fields[name] = model

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
        if self.updatable:
            (tmp / "doc_ids.json").write_text(json.dumps(self.doc_ids))
            for name in FIELDS:
                (tmp / f"{name}.vocab.json").write_text(json.dumps(self.vocab[name]))
                np.save(tmp / f"{name}.tokens.npy", self.tokens[name])
                np.save(tmp / f"{name}.lengths.npy", self.lengths[name])
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
            doc_ids, tokens, lengths, vocab = [], {}, {}, {}
            if (folder / "doc_ids.json").exists():  # kept since updates came in; older copies are rebuilt when stale
                doc_ids = json.loads((folder / "doc_ids.json").read_text())
                for name in FIELDS:
                    vocab[name] = json.loads((folder / f"{name}.vocab.json").read_text())
                    tokens[name] = np.load(folder / f"{name}.tokens.npy", allow_pickle=False)
                    lengths[name] = np.load(folder / f"{name}.lengths.npy", allow_pickle=False)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("BM25 index at %s is unreadable (%s); it will be rebuilt", folder, exc)
            return None
        return cls(ids, fields, stamp, doc_ids, tokens, lengths, vocab)
