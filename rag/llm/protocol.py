"""What every generator offers: ``load``, ``stream(messages)`` and ``complete``, with its token counter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

Message = dict[str, str]


class Generator(Protocol):
    def load(self) -> None: ...  # what the first request would otherwise wait for

    @property
    def loaded(self) -> bool: ...  # whether a request would start without loading first

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]: ...

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str: ...


CHARS_PER_TOKEN = 3.2  # conservative for English prose with Qwen's tokenizer (an estimate errs on the long side)


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


# transformers 5 imports its classes lazily, on first use, and two threads doing that at once can fail with
# "cannot import name 'AutoModelForCausalLM'" (seen 1 run in 6 with the tokenizer thread and the model loader under
