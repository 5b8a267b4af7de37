"""Whether an embedding model runs faster in bf16 on this CPU: measured once per machine and model, kept in the
model cache, read on every later load.

Flags say whether a CPU computes bf16 in hardware (AMX, AVX512-BF16); they do not say whether a model of this size
gains from it: on one AMX machine MiniLM embedded 3.5x faster in bf16, on an avx512_bf16 machine 2x, on an
AVX2-only one bf16 was slower. So the flags decide whether to measure, and the measurement decides.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.models.cpu import bf16_supported, cpu_model, speed_flags
from rag.models.packaged import default_cache_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

MIN_SPEEDUP = 1.15  # below this the measurement's own noise could decide
MIN_COSINE = 0.999  # bf16 vectors this close to fp32 ones rank passages the same (docs/benchmarks.md)


@dataclass(frozen=True)
class Bf16Probe:
    fp32_per_s: float  # texts embedded per second
    bf16_per_s: float
    min_cosine: float  # the least similar bf16/fp32 vector pair of the probe texts
    cpu: str
    flags: tuple[str, ...]

    @property
    def bf16(self) -> bool:
        return self.min_cosine >= MIN_COSINE and self.bf16_per_s >= MIN_SPEEDUP * self.fp32_per_s

    def describe(self) -> str:
        chosen = "bf16" if self.bf16 else "fp32"
        return (f"{chosen} (measured on this CPU: fp32 {self.fp32_per_s:.0f} texts/s, bf16 {self.bf16_per_s:.0f} texts/s, "
                f"vectors at cosine >= {self.min_cosine:.4f})")


def probe_texts(n: int = 32) -> list[str]:
    """Passage-like texts of a few hundred characters each, varied so that batches hold several lengths."""
    subjects = ["The pump", "A sensor", "The board", "Each buoy", "The council", "This method", "The cache", "A patient"]
    verbs = ["is serviced every", "reports its state after", "was replaced within", "is checked once in"]
    out = []
    for i in range(n):
        sentences = [f"{subjects[(i + k) % len(subjects)]} {verbs[(i * 3 + k) % len(verbs)]} {10 + 7 * i + k} hours of use."
                     for k in range(2 + i % 6)]
        out.append(" ".join(sentences))
    return out


def measure(model: SentenceTransformer, texts: list[str] | None = None, batch_size: int = 32) -> Bf16Probe:
    """Texts per second of ``model`` in fp32 and of a bf16 copy, on the same texts, each after one warm-up pass."""
    import torch

    texts = texts or probe_texts()
    twin = copy.deepcopy(model).to(torch.bfloat16)

    def rate(m: SentenceTransformer) -> tuple[float, np.ndarray]:
        m.encode(texts[:4], batch_size=batch_size, show_progress_bar=False)  # first call builds kernels and caches
        started = time.perf_counter()
        vectors = m.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
        vectors = np.asarray(vectors, dtype=np.float32)
        return len(texts) / max(time.perf_counter() - started, 1e-9), vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    fp32_rate, fp32 = rate(model)
    bf16_rate, bf16 = rate(twin)
    del twin
    cosine = float(np.min(np.sum(fp32 * bf16, axis=1)))
    return Bf16Probe(round(fp32_rate, 1), round(bf16_rate, 1), round(cosine, 5), cpu_model(), tuple(speed_flags()))


def probe_path(name: str, max_tokens: int) -> Path:
    import torch

    flags = "-".join(f for f in speed_flags() if "bf16" in f) or "none"
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in f"{Path(name).name}-{max_tokens}")
    return default_cache_dir() / "probes" / f"bf16-{safe}-{flags}-torch{torch.__version__}.json"


def stored(name: str, max_tokens: int) -> Bf16Probe | None:
    """The measurement kept for this model on this machine, if there is one (and it was made on this CPU)."""
    try:
        data = json.loads(probe_path(name, max_tokens).read_text())
        probe = Bf16Probe(**{k: data[k] for k in ("fp32_per_s", "bf16_per_s", "min_cosine", "cpu")}, flags=tuple(data["flags"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return probe if probe.cpu == cpu_model() else None


def bf16_pays(model: SentenceTransformer, name: str, max_tokens: int) -> Bf16Probe | None:
    """The probe that decides ``embed.dtype=auto`` for ``model``: None where the CPU has no bf16 hardware (fp32,
    nothing measured); else the kept measurement, made now (a few seconds, once per machine) when there is none."""
    if not bf16_supported():
        return None
    found = stored(name, max_tokens)
    if found is not None:
        return found
    probe = measure(model)
    keep(probe, name, max_tokens)
    log.info("embedding model %s: %s", name, probe.describe())
    return probe


def keep(probe: Bf16Probe, name: str, max_tokens: int) -> None:
    path = probe_path(name, max_tokens)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.partial")
        tmp.write_text(json.dumps({**asdict(probe), "date": time.strftime("%Y-%m-%d")}, indent=1))
        os.replace(tmp, path)  # two processes measuring at once: the last one's whole file wins
    except OSError as exc:  # a read-only cache only means measuring again next time
        log.info("could not keep the bf16 measurement in %s: %s", path, exc)


def precision_note(dtype: str, name: str, max_tokens: int) -> str:
    """What ``embed.dtype`` means on this machine, and why (for ``rag doctor`` and stored results)."""
    if dtype != "auto":
        return f"{dtype} (set by embed.dtype)"
    if not bf16_supported():
        return "fp32 (this CPU has no bf16 hardware)"
    probe = stored(name, max_tokens)
    return probe.describe() if probe else "not measured yet on this CPU (measured when the model first loads)"
