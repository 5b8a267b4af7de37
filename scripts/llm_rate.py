"""How fast the packaged models read a prompt and write an answer on this machine, through ``rag.llm.backends``.

    python scripts/llm_rate.py qwen2.5-coder-1.5b qwen2.5-coder-0.5b

Each prompt starts with a different number, so nothing is reused from llama.cpp's cache; the first prompt
also pays for loading the model. Prints prompt tokens (as llama.cpp reports them) over the seconds to the
first streamed piece, and streamed pieces per second after it (a piece is about one token).
"""

import sys
import time

from rag.llm.factory import load_generator
from rag.models.packaged import default_cache_dir

FILLER = "The station keeps 18,000 litres of drinking water and the desalination plant makes 4,000 litres a day. " * 60


def measure(model: str, sizes: tuple[int, ...] = (400, 800, 800)) -> None:
    generator = load_generator("llamacpp", model, 4096, 0, default_cache_dir())
    for i, approx_tokens in enumerate(sizes):
        messages = [{"role": "user", "content": f"{i} {FILLER[: approx_tokens * 4]}\nSummarise in one sentence."}]
        start, first, pieces = time.perf_counter(), 0.0, 0
        for _ in generator.stream(messages, 48, 0.0):
            first = first or time.perf_counter() - start
            pieces += 1
        writing = time.perf_counter() - start - first
        tokens = generator.last_usage.get("prompt_tokens", 0)
        print(f"{model}: prompt {tokens} tokens, first piece after {first:.2f} s ({tokens / first:.1f} tokens/s read); "
              f"{pieces} pieces in {writing:.2f} s ({pieces / writing:.1f}/s written)")


if __name__ == "__main__":
    for name in sys.argv[1:] or ["qwen2.5-coder-1.5b"]:
        measure(name)
