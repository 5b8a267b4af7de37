"""``llm``: the local LLM ranks short snippets of the candidates (listwise); slow on a CPU, measured honestly."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from rag.core.types import Hit
from rag.rerank.mix import mix_and_sort

LLM_RANK = (
    "Here are numbered passages and a question. List the numbers of the passages that help answer the question, "
    "most helpful first, separated by commas. Reply with the numbers only."
)


class LlmReranker:
    """Listwise: the LLM reads the top ``window`` candidates as short snippets and returns an order."""

    def __init__(self, complete: Callable[[list[dict[str, str]]], str], window: int = 10, snippet_chars: int = 300, mix: float = 0.5):
        self.complete = complete
        self.window = window
        self.snippet_chars = snippet_chars
        self.mix = mix

    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        head = hits[: self.window]
        passages = "\n".join(f"[{i}] {' '.join(h.chunk.text.split())[: self.snippet_chars]}" for i, h in enumerate(head, 1))
        reply = self.complete([{"role": "system", "content": LLM_RANK},
                               {"role": "user", "content": f"{passages}\n\nQuestion: {query}\nPassage numbers:"}])
        order = []
        for m in re.finditer(r"\d+", reply):
            n = int(m.group())
            if 1 <= n <= len(head) and n - 1 not in order:
                order.append(n - 1)
        scores = np.zeros(len(hits))
        for rank, i in enumerate(order):
            scores[i] = len(head) - rank  # listed passages above unlisted ones, in the LLM's order
        return mix_and_sort(hits, scores, self.mix, k)
