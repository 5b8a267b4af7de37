"""``rag bench``: ingestion and query speed side by side with LangChain's recipe, on a corpus it writes itself.

The corpus is generated from the sentences of ``sample_docs/`` (numbers re-drawn, identifiers added, so the
vocabulary grows with the size), or read from a BEIR folder. Each system runs in its own child process, so
peak RSS is its own. Writes ``bench.json``, ``bench.md`` and ``latency.png`` into ``--out``.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import random
import re
import resource
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from rag.core.config import Config
from rag.eval.meta import run_meta
from rag.eval.metrics import percentile

log = logging.getLogger(__name__)

SECTION_CHARS = 850  # close to chunk.size, so one section makes about one chunk in both systems
SECTIONS_PER_FILE = 10
RAW_SAMPLE = 2000  # chunks embedded again to measure the model's raw throughput


def _sentences(sample_docs: Path) -> list[str]:
    from ingest.loaders import load, supported
    from rag.core.sentences import split_sentences

    out: list[str] = []
    for path in sorted(sample_docs.rglob("*")):
        if path.is_file() and supported(path):
            for page in load(path, path.name).pages:
                out += [" ".join(s.split()) for s in split_sentences(page) if 6 <= len(s.split()) <= 60]
    return out


def write_corpus(folder: Path, chunks: int, sample_docs: Path, seed: int = 7, section_chars: int = SECTION_CHARS,
                 files: int = 0, acronyms: int = 0) -> list[str]:
    """Markdown files of about ``chunks`` sections of about ``section_chars`` characters (``SECTIONS_PER_FILE`` a
    file, or spread over ``files`` files); with ``acronyms``, each file defines one of that many distinct acronyms
    ("Harbour Tide Gauge (HTG)") and uses others. Returns known-item queries drawn from the text."""
    rng = random.Random(seed)
    pool = _sentences(sample_docs)
    glossary = _acronyms(acronyms, pool, rng)
    per_file = -(-chunks // files) if files else SECTIONS_PER_FILE
    folder.mkdir(parents=True, exist_ok=True)
    queries: list[str] = []
    for f in range(-(-chunks // per_file)):
        parts = [f"# Station record {f}\n"]
        for s in range(min(per_file, chunks - f * per_file)):
            text, ident = "", f"TMR-{rng.randrange(10_000, 99_999)}"
            if glossary:
                short, long = glossary[(f + s) % len(glossary)]
                other = rng.choice(glossary)[0]
                text = f"The {long} ({short}) is logged here. " if s == 0 else f"The {short} and the {other} were checked. "
            while len(text) < max(section_chars - 120, 1):
                sentence = re.sub(r"\d", lambda _: str(rng.randrange(10)), rng.choice(pool))
                text += sentence + " "
            text += f"Reference {ident}."
            parts.append(f"## Entry {f}.{s}\n\n{text.strip()}\n")
            last = f * per_file + s == chunks - 1
            if rng.random() < 0.05 or (last and not queries):  # a tiny corpus still gets a query
                words = text.split()
                start = rng.randrange(max(1, len(words) - 8))
                queries.append(" ".join(words[start : start + 7]))
        (folder / f"record-{f:05d}.md").write_text("\n".join(parts))
    return queries


def _acronyms(n: int, sentences: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """``n`` distinct acronyms with their long forms: three to five words of the sample text, capitalised."""
    words = sorted({w for s in sentences for w in re.findall(r"[a-z]{4,}", s)})
    found: dict[str, str] = {}
    while len(found) < n:
        long = [rng.choice(words).capitalize() for _ in range(rng.choice((3, 4, 5)))]
        found.setdefault("".join(w[0] for w in long), " ".join(long))
    return sorted(found.items())


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _percentiles(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(1000 * percentile(values, 0.5), 2), "p95_ms": round(1000 * percentile(values, 0.95), 2)}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_ours(corpus: str, index: str, queries: list[str], config: Config) -> dict[str, Any]:
    from rag.pipeline import Rag

    config = config.override({"embed.cache": "false", "index.path": index})
    rag = Rag.open(config=config)
    # a vector cache of this run's own (nothing from earlier runs is reused): ingestion fills it with the
    # passages' sentences, where the reranker looks them up (rerank.sentences_at_ingest)
    rag.embedder.cache_root = Path(f"{index}-vectors")
    rag.embedder.model  # load before timing, as LangChain's side does  # noqa: B018
    rag.embedder.encode_seconds = 0.0
    t = time.perf_counter()
    report = rag.ingest(corpus, progress=False)
    ingest_s = time.perf_counter() - t
    encode_s = rag.embedder.encode_seconds
    n_chunks = rag.index.count()
    # the model's own throughput on these chunks: a spread sample is enough, and keeps large runs affordable
    texts = [c.text for c in rag.index.iter_chunks()]
    texts = texts[:: max(1, len(texts) // RAW_SAMPLE)][:RAW_SAMPLE]
    t = time.perf_counter()
    rag.embedder.encode(texts, use_cache=False)
    raw_s = time.perf_counter() - t
    latency: dict[str, Any] = {}
    rag.index.bm25()  # built once after ingestion, not per query
    # the default reranker twice: first with every candidate new to it (maxsim looks up a passage's sentence
    # vectors the first time the passage is a candidate, or embeds them without rerank.sentences_at_ingest), then warm
    default = config.rerank.method
    for name, mode, rerank in (("bm25", "bm25", "none"), ("dense", "dense", "none"), ("hybrid", "hybrid", "none"),
                               ("hybrid+rerank (first pass)", "hybrid", default), ("hybrid+rerank", "hybrid", default)):
        view = rag.with_options({"retrieval.mode": mode, "rerank.method": rerank})
        rag.embedder.forget_queries()  # every mode pays for embedding its queries, as LangChain's retrievers do
        if "(first pass)" in name or rerank == "none":
            view.retriever.search("a question to warm up the query path", 10)
        times = []
        for q in queries:
            t = time.perf_counter()
            view.retriever.search(q, 10)
            times.append(time.perf_counter() - t)
        latency[name] = _percentiles(times)
    return {
        "chunks": n_chunks, "files": len(report.files), "ingest_s": round(ingest_s, 2),
        "ingest_chunks_per_s": round(n_chunks / ingest_s, 2), "embedding_s_in_ingest": round(encode_s, 2),
        "share_outside_embedding": round(1 - encode_s / ingest_s, 3), "raw_embed_chunks_per_s": round(len(texts) / raw_s, 2),
        "latency": latency, "index_mb": round(_du(Path(index)) / 2**20, 1),
        "vector_cache_mb": round(_du(Path(f"{index}-vectors")) / 2**20, 1), "peak_rss_mb": _peak_rss_mb(),
    }


def _langchain_embeddings() -> Any:
    from langchain_core.embeddings import Embeddings

    from rag.models.embedder import Embedder

    class MiniLM(Embeddings):  # the same model and weights as ours
        def __init__(self) -> None:
            self.model = Embedder("minilm", 256, 32, "fp32", 0, query_onnx=False).model

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.model.encode(texts, batch_size=32, normalize_embeddings=True).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.model.encode([text], normalize_embeddings=True)[0].tolist()

    return MiniLM()


def run_langchain(corpus: str, index: str, queries: list[str], chunk_chars: int = SECTION_CHARS + 50) -> dict[str, Any]:
    """The usual notebook recipe: loaders, RecursiveCharacterTextSplitter, Chroma.from_documents, and an
    EnsembleRetriever of BM25Retriever and the Chroma retriever."""
    from langchain_chroma import Chroma
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_community.retrievers import BM25Retriever
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = _langchain_embeddings()
    t = time.perf_counter()
    docs = []
    for path in sorted(Path(corpus).rglob("*")):
        if path.suffix == ".pdf":
            docs += PyPDFLoader(str(path)).load()
        elif path.suffix in (".md", ".txt"):
            docs += TextLoader(str(path), encoding="utf-8").load()
    splits = RecursiveCharacterTextSplitter(chunk_size=chunk_chars, chunk_overlap=chunk_chars * 2 // 15).split_documents(docs)
    store = Chroma.from_documents(splits, embeddings, persist_directory=index)
    ingest_s = time.perf_counter() - t
    t = time.perf_counter()
    bm25 = BM25Retriever.from_documents(splits, k=10)
    bm25_build_s = time.perf_counter() - t
    ensemble = EnsembleRetriever(retrievers=[bm25, store.as_retriever(search_kwargs={"k": 10})], weights=[0.5, 0.5])
    latency = {}
    for name, retriever in (("bm25", bm25), ("dense", store.as_retriever(search_kwargs={"k": 10})), ("hybrid", ensemble)):
        retriever.invoke(queries[0])
        times = []
        for q in queries:
            t = time.perf_counter()
            retriever.invoke(q)
            times.append(time.perf_counter() - t)
        latency[name] = _percentiles(times)
    return {"chunks": len(splits), "ingest_s": round(ingest_s, 2), "ingest_chunks_per_s": round(len(splits) / ingest_s, 2),
            "bm25_build_s": round(bm25_build_s, 2), "latency": latency, "index_mb": round(_du(Path(index)) / 2**20, 1),
            "peak_rss_mb": _peak_rss_mb()}


def quality_ours(dataset: str, config: Config) -> dict[str, Any]:
    from rag.eval.runner import evaluate

    metrics = evaluate(dataset, config, progress=False).metrics
    return {k: metrics[k] for k in QUALITY_KEYS}


def quality_langchain(dataset: str) -> dict[str, Any]:
    """The LangChain recipe's retrieval quality on the same chunks: EnsembleRetriever(BM25Retriever, Chroma)."""
    import tempfile

    from langchain_chroma import Chroma
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_core.documents import Document

    from rag.eval.datasets import load_dataset
    from rag.eval.metrics import gold_flags, score_ranking

    data = load_dataset(dataset)
    docs = [Document(page_content=c["content"], metadata={"chunk_id": c["chunk_id"]}) for d in data.documents for c in d["chunks"]]
    with tempfile.TemporaryDirectory() as tmp:
        store = Chroma.from_documents(docs, _langchain_embeddings(), persist_directory=tmp)
        ensemble = EnsembleRetriever(retrievers=[BM25Retriever.from_documents(docs, k=10), store.as_retriever(search_kwargs={"k": 10})],
                                     weights=[0.5, 0.5])
        per_query = []
        for q in data.queries:
            ids = [doc.metadata["chunk_id"] for doc in ensemble.invoke(q.text)[:10]]
            per_query.append(score_ranking(gold_flags([i if i in q.gold else None for i in ids]), len(q.gold)))
    return {k: round(sum(m[k] for m in per_query) / len(per_query), 4) for k in QUALITY_KEYS}


QUALITY_KEYS = ("ndcg@10", "recall@10", "mrr@10", "pass@10")


def _in_child(fn: Any, *args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def run(sizes: list[int], out: Path, sample_docs: Path, n_queries: int = 50, langchain: bool = True,
        config: Config | None = None, quality: str = "", section_chars: int = SECTION_CHARS,
        argv: list[str] | None = None, files: int = 0, acronyms: int = 0) -> dict[str, Any]:
    """``config`` (defaults when None) is what our side runs with: the command line's --config and -o."""
    config = config or Config()
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    results: dict[str, Any] = {"meta": run_meta(config, argv), "sizes": [], "section_chars": section_chars,
                               "files": files, "acronyms": acronyms}
    if quality:  # retrieval quality of both systems on a chunked or BEIR set, on the same chunks
        log.warning("bench: quality on %s", quality)
        results["quality"] = {"dataset": quality, "ours": _in_child(quality_ours, quality, config)}
        if langchain:
            results["quality"]["langchain"] = _in_child(quality_langchain, quality)
    for size in sizes:
        shutil.rmtree(work, ignore_errors=True)
        corpus = work / "corpus"
        queries = write_corpus(corpus, size, sample_docs, section_chars=section_chars, files=files, acronyms=acronyms)
        queries = (queries * (n_queries // max(1, len(queries)) + 1))[:n_queries]
        row: dict[str, Any] = {"size": size, "queries": len(queries)}
        log.warning("bench: %d chunks, ours...", size)
        row["ours"] = _in_child(run_ours, str(corpus), str(work / "ours"), queries, config)
        # saved after each system, so a long run that dies later keeps what it measured
        (out / "bench.json").write_text(json.dumps({**results, "sizes": [*results["sizes"], row]}, indent=2) + "\n")
        if langchain:
            log.warning("bench: %d chunks, LangChain recipe...", size)
            try:
                # the splitter's size follows the sections, so both systems make about one chunk per section
                row["langchain"] = _in_child(run_langchain, str(corpus), str(work / "langchain"), queries, section_chars + 50)
            except ImportError as exc:
                row["langchain"] = {"skipped": f"LangChain comparison needs the bench extras ({exc})"}
        results["sizes"].append(row)
    shutil.rmtree(work, ignore_errors=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "bench.md").write_text(markdown(results))
    plot(results, out / "latency.png")
    return results


def markdown(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    cpu = meta.get("cpu", {})
    lines = [f"Generated sections of about {results.get('section_chars', SECTION_CHARS)} characters. "
             f"CPU: {cpu.get('model', '?')}, {cpu.get('cores', '?')} cores ({', '.join(cpu.get('flags', []))}); "
             f"embedder in {meta.get('models', {}).get('embed_precision', '?')}.", "",
             "| chunks | system | ingest chunks/s | raw embed chunks/s | outside embedding | BM25 p50 ms | dense p50 ms | "
             "hybrid p50 / p95 ms | hybrid+rerank p50 ms, first pass / warm | index MB | vector cache MB | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in results["sizes"]:
        for system in ("ours", "langchain"):
            r = row.get(system)
            if not r or "skipped" in r:
                continue
            lat = r["latency"]
            lines.append(
                f"| {row['size']} | {NAMES[system]} | {r['ingest_chunks_per_s']} | "
                f"{r.get('raw_embed_chunks_per_s', '')} | {r.get('share_outside_embedding', '')} | {lat['bm25']['p50_ms']} | "
                f"{lat['dense']['p50_ms']} | {lat['hybrid']['p50_ms']} / {lat['hybrid']['p95_ms']} | "
                f"{_p50(lat, 'hybrid+rerank (first pass)')} / {_p50(lat, 'hybrid+rerank')} | {r['index_mb']} | "
                f"{r.get('vector_cache_mb', '')} | {r['peak_rss_mb']} |"
            )
    quality = results.get("quality")
    if quality:
        lines += ["", f"Retrieval quality on {quality['dataset']} (same chunks, k=10):", "",
                  "| system | " + " | ".join(QUALITY_KEYS) + " |", "|---" * (len(QUALITY_KEYS) + 1) + "|"]
        lines += [f"| {NAMES[system]} | " + " | ".join(str(round(quality[system][k], 4)) for k in QUALITY_KEYS) + " |"
                  for system in ("ours", "langchain") if system in quality]
    return "\n".join(lines) + "\n"


NAMES = {"ours": "situated-rag", "langchain": "LangChain recipe"}


def _p50(latency: dict[str, Any], name: str) -> str:
    return str(latency[name]["p50_ms"]) if name in latency else ""


def plot(results: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for system, label in (("ours", "situated-rag hybrid"), ("langchain", "LangChain EnsembleRetriever")):
        points = [(row["size"], row[system]["latency"]["hybrid"]["p50_ms"]) for row in results["sizes"]
                  if system in row and "latency" in row[system]]
        if points:
            ax.plot(*zip(*points), marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("hybrid query latency p50 (ms)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
