"""Corpus-level topics: cluster chunk vectors, label each cluster by its most distinctive words.

Labels are words, not model output, so they are cheap, deterministic and always present in the corpus.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from rag.analyzer import STOP_WORDS

_WORD = re.compile(r"[A-Za-z]{3,}(?:-[A-Za-z]+)*")
MIN_CHUNKS = 12


def topic_count(n_chunks: int, requested: int = 0) -> int:
    if requested > 0:
        return min(requested, n_chunks)
    return max(2, min(40, round(math.sqrt(n_chunks / 2))))


def cluster(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means on unit vectors (so close to clustering by cosine); returns a cluster index per row."""
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, n_init=3, random_state=seed)
    return model.fit_predict(vectors)


def label_clusters(texts: list[str], labels: np.ndarray, words: int = 3) -> dict[int, str]:
    """Each cluster's label: the words most over-represented in it against the whole corpus (c-TF-IDF)."""
    per_cluster: dict[int, Counter] = {}
    for text, label in zip(texts, labels):
        bag = per_cluster.setdefault(int(label), Counter())
        bag.update(w.lower() for w in _WORD.findall(text) if w.lower() not in STOP_WORDS)
    doc_freq = Counter(w for bag in per_cluster.values() for w in bag)
    n = len(per_cluster)
    out = {}
    for label, bag in per_cluster.items():
        total = sum(bag.values()) or 1
        scored = sorted(bag, key=lambda w: (-(bag[w] / total) * math.log(1 + n / doc_freq[w]), w))
        out[label] = " ".join(scored[:words])
    return out


def assign(ids: list[str], texts: list[str], vectors: np.ndarray, requested: int = 0) -> dict[str, str]:
    """Topic label per chunk id; an empty mapping for corpora too small to cluster."""
    if len(ids) < MIN_CHUNKS:
        return {}
    labels = cluster(vectors, topic_count(len(ids), requested))
    names = label_clusters(texts, labels)
    return {i: names[int(label)] for i, label in zip(ids, labels)}
