"""What one chunk costs in each part of an index: the server's share (Chroma: text, metadata, vectors) and each
node's caches (the BM25 files on disk, the BM25 index in memory), measured on indexes already built. The numbers
per chunk are what docs/deployment.md scales to a million chunks.

    python benchmarks/probes/index_sizes.py /tmp/devidx /tmp/beiridx --out benchmarks/results/index-sizes.json
"""

import argparse
import gc
import json
import tempfile
import tracemalloc
from pathlib import Path

from rag.core.config import load_config
from rag.eval.meta import run_meta
from rag.store.bm25 import Bm25Index
from rag.store.index import Index


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def measure(folder: Path) -> dict:
    index = Index(folder)
    chunks, windows = index.store.sizes()
    every = list(index.iter_chunks())
    chars = sum(len(c.text) for c in every)
    gc.collect()
    tracemalloc.start()  # what the index holds once built (resident size would count the build's freed temporaries too)
    bm25 = Bm25Index.build(every, index.k1, index.b, index.bm25_stamp())  # as this version builds it, whatever is saved
    gc.collect()
    memory, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with tempfile.TemporaryDirectory() as tmp:
        bm25.save(Path(tmp) / "bm25")
        bm25_disk = _bytes(Path(tmp) / "bm25")
    index.close()
    del bm25
    per = max(chunks, 1)
    return {"index": str(folder), "chunks": chunks, "extra_windows": windows, "mean_chunk_chars": round(chars / per),
            "chroma_bytes_per_chunk": round(_bytes(folder / "chroma") / per),
            "bm25_disk_bytes_per_chunk": round(bm25_disk / per),
            "bm25_memory_bytes_per_chunk": round(memory / per), "bm25_build_peak_bytes_per_chunk": round(peak / per),
            "manifest_bytes_per_chunk": round(sum(f.stat().st_size for f in folder.glob("manifest.sqlite3*")) / per)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("indexes", nargs="+")
    parser.add_argument("--out")
    args = parser.parse_args()
    rows = []
    for folder in args.indexes:
        rows.append(measure(Path(folder)))
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        meta = run_meta(load_config(None, {}, environ={}), program="benchmarks/probes/index_sizes.py")
        Path(args.out).write_text(json.dumps({"meta": meta, "indexes": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
