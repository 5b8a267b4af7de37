"""LLM-written situated context (``context.llm``): the language model as a (document, chunk) -> context callable."""

from __future__ import annotations

from collections.abc import Callable

from ingest.context import LLM_PROMPT, WriteContext
from rag.llm.protocol import CHARS_PER_TOKEN
from rag.llm.queue import Queued


def context_writer(generator: Callable[[], Queued], n_ctx: int) -> WriteContext:
    budget_chars = int((n_ctx - 700) * CHARS_PER_TOKEN)

    def write(document: str, chunk: str) -> str:
        # the document leads the prompt unchanged for every chunk, so llama.cpp reuses its cached prefix
        prompt = LLM_PROMPT.format(document=document[:budget_chars], chunk=chunk[:2000])
        return generator().complete([{"role": "user", "content": prompt}], max_tokens=80)

    return write
