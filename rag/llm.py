"""Local LLM backends behind one small protocol: ``stream(messages) -> Iterator[str]`` and ``complete``.

The default runs GGUF files with llama.cpp through xllamacpp (a prebuilt CPU wheel). Its streaming call blocks
and reports chunks through a callback, so a worker thread hands them to a generator over a queue.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path
from typing import Iterator, Protocol

from rag.errors import ModelError

log = logging.getLogger(__name__)

Message = dict[str, str]


class Generator(Protocol):
    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]: ...

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str: ...


class LlamaCpp:
    """A GGUF model served in-process by llama.cpp. Thread safe; ``n_parallel`` requests run at once."""

    def __init__(self, gguf: Path, n_ctx: int = 4096, threads: int = 0, n_parallel: int = 1):
        self.gguf = gguf
        self.n_ctx = n_ctx
        self.threads = threads or min(os.cpu_count() or 2, 8)
        self.n_parallel = n_parallel
        self._server = None
        self._lock = threading.Lock()
        self.last_usage: dict = {}

    def _load(self):  # noqa: ANN202 - xllamacpp has no stubs
        with self._lock:
            if self._server is None:
                try:
                    import xllamacpp as xlc
                except ImportError:
                    raise ModelError("the llama.cpp backend needs the package xllamacpp (pip install xllamacpp)") from None
                params = xlc.CommonParams()
                params.model.path = str(self.gguf)
                params.n_ctx = self.n_ctx * self.n_parallel
                params.n_parallel = self.n_parallel
                params.cpuparams.n_threads = self.threads
                params.cpuparams_batch.n_threads = self.threads
                params.warmup = False
                params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
                try:
                    self._server = xlc.Server(params)
                except Exception as exc:  # the binding raises RuntimeError/ValueError variants
                    raise ModelError(f"llama.cpp could not load {self.gguf}: {exc}") from None
                log.info("loaded %s (n_ctx %d, %d threads)", self.gguf.name, self.n_ctx, self.threads)
        return self._server

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str:
        server = self._load()
        result = server.handle_chat_completions(
            {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "cache_prompt": True}
        )
        if "error" in result:
            raise ModelError(f"generation failed: {result['error']}")
        self.last_usage = result.get("usage", {})
        return result["choices"][0]["message"]["content"] or ""

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]:
        server = self._load()
        chunks: queue.Queue = queue.Queue()
        done = object()

        def on_chunk(chunk: dict) -> None:
            chunks.put(chunk)

        def work() -> None:
            try:
                server.handle_chat_completions(
                    {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "stream": True,
                     "cache_prompt": True, "stream_options": {"include_usage": True}},
                    on_chunk,
                )
            except Exception as exc:  # surfaced in the consumer's thread
                chunks.put(exc)
            finally:
                chunks.put(done)

        threading.Thread(target=work, daemon=True, name="llm-stream").start()
        while (item := chunks.get()) is not done:
            if isinstance(item, Exception):
                raise ModelError(f"generation failed: {item}")
            if "error" in item:
                raise ModelError(f"generation failed: {item['error']}")
            if item.get("usage"):
                self.last_usage = item["usage"]
            for choice in item.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield text


_loaded: dict[tuple, LlamaCpp] = {}
_loaded_lock = threading.Lock()


def load_generator(backend: str, model: str, n_ctx: int, threads: int, cache_dir: Path | None = None) -> Generator:
    """The generator for a config, loaded once per process and shared by every index that uses it."""
    from rag.models import resolve_gguf

    if backend != "llamacpp":
        raise ModelError(f"generate.backend must be 'llamacpp' (got {backend!r})")
    key = (backend, model, n_ctx, threads)
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = LlamaCpp(resolve_gguf(model, cache_dir), n_ctx=n_ctx, threads=threads)
        return _loaded[key]
