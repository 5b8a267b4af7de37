"""The one place generators are made: a config's backend and model -> a loaded, queued generator."""

from __future__ import annotations

import os
import re
from pathlib import Path

from rag.core.config import GenerateConfig
from rag.core.errors import ModelError
from rag.core.recent import Recent
from rag.llm.llamacpp import LlamaCpp
from rag.llm.openai_compat import OpenAICompatible
from rag.llm.protocol import Generator
from rag.llm.queue import Queued
from rag.llm.transformers_backend import Transformers
from rag.models.cpu import generator_dtype
from rag.models.packaged import PACKAGE_HINT, default_cache_dir, resolve_gguf

BACKENDS = ("auto", "llamacpp", "openai", "transformers")
LOADED = 3  # generators kept loaded at once: a model name tried in settings and left does not stay for good
_loaded: Recent[Queued] = Recent(LOADED)


def generator_for(config: GenerateConfig, cache_dir: Path | None = None) -> Queued:
    g = config
    return load_generator(g.backend, g.model, g.n_ctx, g.threads, cache_dir or default_cache_dir(), g.base_url, g.api_key,
                          g.concurrency, g.dtype, g.int8_writing)


def load_generator(
    backend: str, model: str, n_ctx: int, threads: int, cache_dir: Path | None = None, base_url: str = "", api_key: str = "",
    concurrency: int = 1, dtype: str = "auto", int8_writing: bool = True,
) -> Queued:
    """The generator for a config, loaded once per process and shared by every index that uses it (and so is
    its queue: ``concurrency`` requests at once, for the whole process)."""
    _check_backend(backend)
    if backend == "auto":
        backend = auto_backend(model)
    key = (backend, model, n_ctx, threads, base_url, concurrency, dtype, int8_writing)

    def make() -> Queued:  # requests holding a generator the cache let go of finish with it
        inner: Generator
        if backend == "llamacpp":
            inner = LlamaCpp(resolve_gguf(model, cache_dir), n_ctx=n_ctx, threads=threads)
        elif backend == "openai":
            inner = OpenAICompatible(base_url, model, api_key)
        else:
            inner = Transformers(packaged_or_given(model, cache_dir), threads, dtype, int8_writing)
        return Queued(inner, concurrency)

    return _loaded.get(key, make)


def auto_backend(model: str) -> str:
    """A packaged model runs in transformers where the CPU has AMX, which multiplies bf16 matrices in hardware, or
    AVX512-VNNI, which multiplies int8 ones: there torch reads the prompt about three (VNNI) to four (AMX) times
    faster than the prebuilt llama.cpp wheel, which uses AVX2 only (docs/benchmarks.md); elsewhere in llama.cpp.
    Any other GGUF file goes to llama.cpp (transformers reads only some architectures), a model folder or Hub id
    to transformers."""

    if model in PACKAGE_HINT:
        return "transformers" if generator_dtype("auto") in ("bf16", "int8") else "llamacpp"
    return "llamacpp" if model.endswith(".gguf") else "transformers"


def check_generator(config: GenerateConfig) -> None:
    """Refuses at once a generator setting that could not load, saying what would (the app checks settings when
    they are applied, not at the next question)."""
    g = config
    _check_backend(g.backend)
    if g.backend == "openai":
        if not g.base_url:
            raise ModelError("generate.backend=openai needs generate.base_url (e.g. http://127.0.0.1:11434/v1)")
        return
    path = Path(g.model).expanduser()
    if g.model in PACKAGE_HINT or path.is_file() or (path.is_dir() and g.backend != "llamacpp"):
        return
    if g.model.endswith(".gguf"):
        raise ModelError(f"there is no GGUF file at {path}")
    hub = os.environ.get("HF_HUB_OFFLINE", "1") == "0" and re.fullmatch(r"[\w.-]+/[\w.-]+", g.model)
    if hub and g.backend != "llamacpp":
        return
    raise ModelError(f"unknown model {g.model!r}: use a packaged model ({', '.join(PACKAGE_HINT)}), the path of a .gguf "
                     "file or of a model folder on this machine, or a Hugging Face id when downloads are allowed "
                     "(HF_HUB_OFFLINE=0)")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ModelError(f"generate.backend must be one of {', '.join(BACKENDS)}; got {backend!r}")


def runtime(config: GenerateConfig) -> str:
    """How a config's generator runs on this CPU, in words: "transformers, int8" or "llamacpp"."""
    backend = auto_backend(config.model) if config.backend == "auto" else config.backend
    return f"{backend}, {generator_dtype(config.dtype)}" if backend == "transformers" else backend


def packaged_or_given(model: str, cache_dir: Path | None) -> str:
    """A packaged GGUF's path for a packaged name (so every backend runs the default models); anything else as given."""

    return str(resolve_gguf(model, cache_dir)) if model in PACKAGE_HINT else model
