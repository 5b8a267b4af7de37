"""Writing speed and memory of the transformers backend with and without int8 writing (generate.int8_writing).

    .venv/bin/python benchmarks/probes/writing_timing.py --writing bf16|int8 [--model qwen2.5-coder-1.5b]

Loads the model and streams the same 60-token reply twice; prints the seconds to the first piece and to the
end, the process's resident memory after the reply, and the reply's start. Run it once per way of writing, one
after the other. Measured numbers: docs/benchmarks.md, "Timing probes".
"""

import argparse
import os
import time

import psutil

from rag.llm.factory import packaged_or_given
from rag.llm.transformers_backend import Transformers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--writing", choices=["bf16", "int8"], required=True)
    args = parser.parse_args()
    text = ("Passage [1]: The station keeps 18,000 litres of drinking water and the desalination plant makes 4,000 "
            "litres a day. The ferry Kittiwake leaves at 14:30 on Thursdays. ")
    messages = [{"role": "user", "content": text * 6 + "\nExplain in detail everything the passage says, in five sentences."}]
    llm = Transformers(packaged_or_given(args.model, None), int8_writing=args.writing == "int8")
    llm.load()
    for _ in range(2):
        llm._previous = None  # no cached prefix: the whole prompt is read each time
        start = time.perf_counter()
        pieces = llm.stream(messages, 60)
        first = next(pieces)
        took_first = time.perf_counter() - start
        reply = first + "".join(pieces)
        took = time.perf_counter() - start
        rss = psutil.Process(os.getpid()).memory_info().rss / 1e9
        print(f"{args.writing} writing: first piece {took_first:.2f} s, 60 tokens {took:.2f} s, "
              f"RSS {rss:.2f} GB | {reply[:70]!r}")


if __name__ == "__main__":
    main()
