"""How fast each way of running the generator reads a prompt and writes an answer on this CPU.

    .venv/bin/python benchmarks/probes/generator_speed.py [--model qwen2.5-coder-1.5b] [--out FILE.json]

Runs each way in its own process, one after the other: llama.cpp (the prebuilt wheel), and transformers in fp32,
int8 (where the CPU has VNNI) and bf16 (where it computes bf16 in hardware). Each loads the model (a conversion
saved by an earlier run is reused; run the probe twice to time the saved copy), then answers the same three
prompts of about 650 tokens, each with a different first line so that no prompt cache helps, writing 48 tokens.
Prints and stores the load time, the time to the first piece, prompt tokens per second, written tokens per second
and resident memory, with the commit, date and CPU (`rag/eval/meta.py`). Numbers: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_docs" / "onboarding-guide.md"
WRITE = 48


def measure(backend: str, dtype: str, model: str) -> dict:
    import psutil

    from rag.llm.factory import load_generator

    start = time.perf_counter()
    llm = load_generator(backend, model, 4096, 0, dtype=dtype)
    llm.load()
    loaded = time.perf_counter() - start
    text = SAMPLE.read_text()[:2600]
    runs = []
    for n in range(3):
        messages = [{"role": "system", "content": f"Run {n}. Answer from the passage only, in detail."},
                    {"role": "user", "content": f"[1]\n{text}\n\nQuestion: What should a new arrival bring and do?\nAnswer:"}]
        start = time.perf_counter()
        pieces = llm.stream(messages, WRITE)
        next(pieces)
        first = time.perf_counter() - start
        list(pieces)
        total = time.perf_counter() - start
        prompt, written = llm.last_usage.get("prompt_tokens", 0), llm.last_usage.get("completion_tokens", WRITE)
        runs.append({"first_piece_s": round(first, 2), "total_s": round(total, 2), "prompt_tokens": prompt,
                     "prompt_tokens_per_s": round(prompt / first, 1),
                     "written_tokens_per_s": round(max(written - 1, 1) / max(total - first, 1e-6), 1)})
    rss = psutil.Process(os.getpid()).memory_info().rss / 1e9
    return {"backend": backend, "dtype": dtype, "load_s": round(loaded, 1), "rss_gb": round(rss, 2), "runs": runs}


def ways() -> list[tuple[str, str]]:
    from rag.models.cpu import bf16_supported, int8_supported

    found = [("llamacpp", "auto"), ("transformers", "fp32")]
    found += [("transformers", "int8")] if int8_supported() else []
    found += [("transformers", "bf16")] if bf16_supported() else []
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generator-speed.json"))
    parser.add_argument("--one", nargs=2, metavar=("BACKEND", "DTYPE"), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one, args.model)))
        return
    from rag.core.config import load_config
    from rag.eval.meta import run_meta

    results = []
    for backend, dtype in ways():
        done = subprocess.run([sys.executable, __file__, "--model", args.model, "--one", backend, dtype], cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{backend} {dtype}: failed\n{done.stderr[-1500:]}")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        median = sorted(r["first_piece_s"] for r in result["runs"])[1]
        print(f"{backend:12} {dtype:5} load {result['load_s']:6.1f} s  first piece p50 {median:5.2f} s  "
              f"prompt {result['runs'][1]['prompt_tokens_per_s']:6.1f} tok/s  writing "
              f"{result['runs'][1]['written_tokens_per_s']:5.1f} tok/s  RSS {result['rss_gb']:.2f} GB")
    config = load_config(None, {"generate.model": args.model}, environ={})
    meta = run_meta(config, program="benchmarks/probes/generator_speed.py")
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
