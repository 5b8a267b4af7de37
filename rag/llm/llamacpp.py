"""A GGUF model served in-process by llama.cpp (xllamacpp, a prebuilt CPU wheel). Its streaming call blocks and
reports chunks through a callback, so a worker thread hands them to a generator over a queue."""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from rag.core.errors import ModelError
from rag.llm.protocol import Message
from rag.llm.streams import STREAM_THREAD, chunk_texts
from rag.llm.tokens import TokenCounter, gguf_tokenizer

log = logging.getLogger(__name__)


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
        self.count_tokens = TokenCounter(lambda: gguf_tokenizer(gguf))

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

    def load(self) -> None:
        self._load()

    @property
    def loaded(self) -> bool:
        return self._server is not None

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
        abandoned = threading.Event()

        def on_chunk(chunk: dict) -> bool:
            chunks.put(chunk)
            return abandoned.is_set()  # True stops llama.cpp's generation at this token

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

        worker = threading.Thread(target=work, daemon=True, name=STREAM_THREAD)
        worker.start()
        try:
            while (item := chunks.get()) is not done:
                if isinstance(item, Exception):
                    raise ModelError(f"generation failed: {item}")
                if "error" in item:
                    raise ModelError(f"generation failed: {item['error']}")
                if item.get("usage"):
                    self.last_usage = item["usage"]
                yield from chunk_texts(item)
        finally:
            abandoned.set()  # a reader that went away (Stop, a closed tab, Ctrl-C) ends the generation, not only the reading
            if threading.current_thread() is not worker:
                worker.join()  # at the next token: the model is free for the next request when this returns
