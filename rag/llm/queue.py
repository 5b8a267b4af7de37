"""A generator that serves at most ``concurrency`` requests at once; the others wait in line."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass

from rag.llm.protocol import Generator, Message
from rag.llm.tokens import TokenCounter


class Queued:
    """A generator that serves at most ``concurrency`` requests at once; the others wait in line.

    Eight chats on a 2-core machine must not run eight prompts through one model together: retrieval runs
    side by side, generation takes turns. ``last_usage`` is per thread, so concurrent callers read their own.
    """

    def __init__(self, inner: Generator, concurrency: int = 1):
        self.inner = inner
        self.count_tokens: TokenCounter = getattr(inner, "count_tokens", None) or TokenCounter()
        self.concurrency = max(1, concurrency)
        self._gate = threading.BoundedSemaphore(self.concurrency)
        self._usage = threading.local()
        self._busy = 0  # requests generating or waiting for their turn
        self._count = threading.Lock()

    @property
    def last_usage(self) -> dict:
        return getattr(self._usage, "value", {})

    def load(self) -> None:
        self.inner.load()

    @property
    def loaded(self) -> bool:
        return self.inner.loaded

    def ahead(self) -> int:
        """How many requests a new one would wait behind (0: the model has room for it now)."""
        with self._count:
            return self._busy - self.concurrency + 1 if self._busy >= self.concurrency else 0

    @contextmanager
    def _turn(self) -> Iterator[None]:
        with self._count:
            self._busy += 1
        try:
            with self._gate:
                yield
        finally:
            with self._count:
                self._busy -= 1

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str:
        with self._turn():
            text = self.inner.complete(messages, max_tokens, temperature)
            self._usage.value = dict(getattr(self.inner, "last_usage", {}))
        return text

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]:
        # a worker holds the gate, not this generator: a consumer that stops reading (a closed browser tab, a
        # caller that breaks out early) must not keep the queue locked while its generator sits unfinished
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def produce() -> None:
            with self._turn():
                try:
                    with closing(self.inner.stream(messages, max_tokens, temperature)) as inner:  # closed: it stops
                        for piece in inner:
                            if stop.is_set():
                                break
                            pieces.put(piece)
                    pieces.put(_Finished(dict(getattr(self.inner, "last_usage", {}))))
                except Exception as exc:  # noqa: BLE001 - handed to the consumer's thread
                    pieces.put(exc)

        threading.Thread(target=produce, daemon=True, name="llm-queue").start()
        try:
            while True:
                item = pieces.get()
                if isinstance(item, _Finished):
                    self._usage.value = item.usage
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            stop.set()


@dataclass(frozen=True)
class _Finished:
    usage: dict
