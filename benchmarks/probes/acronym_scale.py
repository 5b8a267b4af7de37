"""What a query's acronym expansions cost with thousands of known acronyms: the product's word-by-word matching
(rag/core/shortforms.py) against a regex per acronym (what it replaced: past ``re``'s 512-pattern cache, every
query compiled them all). Both must give the same expansions on every query.

    python benchmarks/probes/acronym_scale.py --acronyms 3000 --out benchmarks/results/acronym-scale.json
"""

import argparse
import json
import random
import re
import time
from pathlib import Path

from rag.bench.bench import _acronyms, _sentences
from rag.core.config import load_config
from rag.eval.meta import run_meta
from rag.retrieval.acronyms import acronym_expansions

ROOT = Path(__file__).resolve().parents[2]


def regex_per_acronym(query: str, acronyms: dict[str, str]) -> list[str]:
    additions, lowered = [], query.lower()
    for short, long in acronyms.items():
        has_short = re.search(rf"(?<!\w){re.escape(short)}(?!\w)", query)
        if has_short and long.lower() not in lowered:
            additions.append(long)
        elif not has_short and long.lower() in lowered:
            additions.append(short)
    return additions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acronyms", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = random.Random(7)
    known = dict(_acronyms(args.acronyms, _sentences(ROOT / "sample_docs"), rng))
    items = list(known.items())
    queries = []
    for _ in range(args.queries):
        short, long = rng.choice(items)
        queries.append(rng.choice([f"What does the {short} record?", f"Where is the {long} kept?",
                                   f"Compare the {short} and the {rng.choice(items)[0]}.", "A question with no acronym in it"]))
    same = sum(regex_per_acronym(q, known) == acronym_expansions(q, known) for q in queries)
    timings = {}
    for name, fn in (("regex per acronym", regex_per_acronym), ("word by word (product)", acronym_expansions)):
        started = time.perf_counter()
        for q in queries:
            fn(q, known)
        timings[name] = round(1000 * (time.perf_counter() - started) / len(queries), 3)
    result = {"acronyms": len(known), "queries": len(queries), "same_expansions": same, "ms_per_query": timings}
    print(json.dumps(result))
    if args.out:
        meta = run_meta(load_config(None, {}, environ={}), program="benchmarks/probes/acronym_scale.py")
        args.out.write_text(json.dumps({"meta": meta, **result}, indent=1) + "\n")


if __name__ == "__main__":
    main()
