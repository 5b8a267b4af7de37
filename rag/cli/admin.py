"""``rag bench`` and ``rag doctor``: the commands about the machine and the index rather than the documents."""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.core.config import Config


def cmd_bench(args: argparse.Namespace, config: Config) -> int:
    from rag.bench.bench import run

    sizes = [s for s in args.size or [1000] if s > 0]
    results = run(sizes, Path(args.out), Path(args.sample_docs), args.queries, not args.no_langchain, config, args.quality,
                  args.section_chars, args.argv, args.files, args.acronyms)
    print((Path(args.out) / "bench.md").read_text())
    print(f"report: {Path(args.out) / 'bench.json'}; plot: {Path(args.out) / 'latency.png'} ({len(results['sizes'])} sizes)")
    return 0


def cmd_doctor(args: argparse.Namespace, config: Config) -> int:
    from rag.llm.factory import runtime
    from rag.models.bf16_probe import precision_note
    from rag.models.cpu import cpu_model, speed_flags
    from rag.pipeline import Rag

    with Rag.open(config=config) as rag:
        problems = rag.doctor(repair=args.repair)
        for p in problems:
            print(p)
        repaired = "; repaired (run rag ingest again to re-add removed files)" if args.repair and problems else ""
        print(f"{len(problems)} problem(s) found{repaired}"
              f"; {rag.index.count()} chunks in {len(rag.documents())} documents")
        held = ("", "")
        ocr = rag.ocr_status()
        if args.models:
            embedder_gib, generator_gib, process_gib = rag.model_memory()
            held = (f"; holds {embedder_gib:.2f} GiB resident",
                    f"; holds {generator_gib:.2f} GiB resident (this process: {process_gib:.2f} GiB)")
    e = config.embed
    print(f"embedder: {e.model} in {precision_note(e.dtype, e.model, e.max_tokens)}{held[0]}")
    print(f"generator: {config.generate.model} on {runtime(config.generate)} (CPU {cpu_model()}: "
          f"{', '.join(speed_flags()) or 'none of the flags the speed defaults read'}){held[1]}")
    print(f"ocr: {ocr}")
    return 1 if problems and not args.repair else 0
