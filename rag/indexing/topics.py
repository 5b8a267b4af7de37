"""Corpus-level topics: cluster chunk vectors, label each cluster by its most distinctive words.

Labels are words, not model output, so they are cheap, deterministic and always present in the corpus.
Clustering runs over the whole corpus only when it is new or its size has changed by more than a quarter
since the last fit; in between, new chunks join the nearest stored centroid (a sync that adds a few files
costs a few dot products, not a k-means over every vector).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.core.analyzer import STOP_WORDS

_WORD = re.compile(r"[A-Za-z]{3,}(?:-[A-Za-z]+)*")
MIN_CHUNKS = 12


def topic_count(n_chunks: int, requested: int = 0) -> int:
    if requested > 0:
        return min(requested, n_chunks)
    return max(2, min(40, round(math.sqrt(n_chunks / 2))))


REFIT_CHANGE = 0.25  # refit when the corpus grew or shrank by more than this share since the last fit


@dataclass(frozen=True)
class TopicModel:
    centroids: np.ndarray  # (k, dim)
    names: list[str]  # label of each centroid
    fitted_on: int  # corpus size at the fit
    requested: int  # metadata.topics at the fit

    def nearest(self, vectors: np.ndarray) -> list[str]:
        return [self.names[int(i)] for i in np.argmax(vectors @ self.centroids.T, axis=1)] if len(vectors) else []

    def fits(self, n_chunks: int, requested: int) -> bool:
        """Whether this model may label a corpus of ``n_chunks`` (else cluster again)."""
        return requested == self.requested and abs(n_chunks - self.fitted_on) <= REFIT_CHANGE * self.fitted_on

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, centroids=self.centroids, names=np.array(self.names, dtype=str),
                 meta=np.array([self.fitted_on, self.requested]))
        os.replace(tmp, path)

    @staticmethod
    def load(path: Path) -> TopicModel | None:
        try:
            with np.load(path, allow_pickle=False) as data:
                return TopicModel(data["centroids"], [str(n) for n in data["names"]], int(data["meta"][0]), int(data["meta"][1]))
        except (OSError, KeyError, ValueError):
            return None


def cluster(vectors: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means on unit vectors (so close to clustering by cosine): a cluster index per row, and the centroids."""
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, n_init=3, random_state=seed)
    labels = model.fit_predict(vectors)
    centroids = model.cluster_centers_ / np.maximum(np.linalg.norm(model.cluster_centers_, axis=1, keepdims=True), 1e-12)
    return labels, centroids.astype(np.float32)


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


def fit(ids: list[str], texts: list[str], vectors: np.ndarray, requested: int = 0) -> tuple[dict[str, str], TopicModel | None]:
    """Topic label per chunk id and the model that gave them; nothing for corpora too small to cluster."""
    if len(ids) < MIN_CHUNKS:
        return {}, None
    labels, centroids = cluster(vectors, topic_count(len(ids), requested))
    names = label_clusters(texts, labels)
    model = TopicModel(centroids, [names.get(j, "") for j in range(len(centroids))], len(ids), requested)
    return {i: names[int(label)] for i, label in zip(ids, labels)}, model

