"""The ``rag`` command: ingest, search, ask, list, delete, serve, eval."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.bench.bench import SECTION_CHARS
from rag.core.config import Config, load_config
from rag.core.errors import RagError

if TYPE_CHECKING:
    from rag.core.types import IngestReport
    from rag.pipeline import Rag

log = logging.getLogger("rag")


def _common(p: argparse.ArgumentParser, several: bool = False) -> None:
    if several:
        p.add_argument("--index", metavar="PATH", action="append", default=[],
                       help="index folder (default: index.path from config, .rag_index); repeat it, or name a folder "
                            "of indexes, to serve several as collections")
    else:
        p.add_argument("--index", metavar="PATH", help="index folder (default: index.path from config, .rag_index)")
    p.add_argument("--config", metavar="FILE", help="TOML config file (default: $RAG_CONFIG or ./rag.toml)")
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. -o retrieval.mode=bm25 (repeatable)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Local, private retrieval-augmented generation over your files.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index a folder or files (a sync: only new, changed and deleted files are touched)")
    p.add_argument("paths", nargs="+", help="folders or files")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--follow-links", action="store_true", help="index files that links point to outside the folder")
    p.add_argument("--watch", action="store_true", help="keep running and re-sync whenever the files change (Ctrl-C stops)")
    p.add_argument("--interval", type=float, default=2.0, help="--watch: seconds between checks for changes")
    _common(p)

    p = sub.add_parser("search", help="retrieval only: ranked passages with source, page and score")
    p.add_argument("query")
    p.add_argument("--k", type=_positive, default=10)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)

    p = sub.add_parser("ask", help="answer a question from the indexed documents, with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON when done")
    _common(p)

    p = sub.add_parser("list", help="indexed documents with status and chunk counts")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("delete", help="remove a document from the index")
    p.add_argument("source", help="source as shown by 'rag list', or the file's path")
    _common(p)

    p = sub.add_parser("bench", help="ingestion and query speed against the LangChain recipe on a generated corpus")
    p.add_argument("--size", type=int, action="append", help="chunks in the generated corpus (repeatable; default 1000)")
    p.add_argument("--out", default="bench-out", help="folder for bench.json, bench.md and latency.png")
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--no-langchain", action="store_true", help="measure this project only")
    p.add_argument("--quality", metavar="DATASET", default="",
                   help="also score retrieval of both systems on this chunked or BEIR set (e.g. docs_qa); --size 0 for only this")
    p.add_argument("--section-chars", type=int, default=SECTION_CHARS,
                   help="length of a generated section, about one chunk (LangChain's splitter size follows)")
    p.add_argument("--sample-docs", default=str(Path(__file__).resolve().parent.parent / "sample_docs"),
                   help="where the generator takes its sentences from")
    _common(p)

    p = sub.add_parser("doctor", help="check that the manifest, Chroma and BM25 agree; --repair fixes what it can")
    p.add_argument("--repair", action="store_true")
    p.add_argument("--models", action="store_true", help="also load the models and print the memory each holds")
    _common(p)

    p = sub.add_parser("serve", help="start the Gradio app")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.add_argument("--ingest", metavar="DIR", action="append", default=[], help="sync this folder before serving")
    p.add_argument("--no-auth", action="store_true", help="allow serving beyond 127.0.0.1 without a password (not advised)")
    _common(p, several=True)

    p = sub.add_parser("eval", help="score retrieval on a BEIR folder, a chunked-documents folder or a questions.jsonl")
    p.add_argument("dataset")
    p.add_argument("--json", metavar="OUT", help="write the metrics as one JSON object to OUT")
    p.add_argument("--per-query", metavar="OUT", help="write per-question results (JSON lines) to OUT")
    p.add_argument("--answers", action="store_true", help="score answers end to end (runs the LLM on every question)")
    p.add_argument("--limit", type=int, default=0, help="only the first N questions")
    p.add_argument("--unanswerable-every", type=int, default=0, metavar="N",
                   help="with --answers on chunked/BEIR sets: leave the gold documents of every N-th question out of the index")
    _common(p)
    return parser


def config_from(args: argparse.Namespace) -> Config:
    overrides: dict[str, str] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise RagError(f"-o expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value.strip()
    if args.index:  # serve's --index may be repeated: the first is the default collection
        overrides["index.path"] = args.index[0] if isinstance(args.index, list) else args.index
    if getattr(args, "host", None):
        overrides["ui.host"] = args.host
    if getattr(args, "port", None):
        overrides["ui.port"] = str(args.port)
    if getattr(args, "follow_links", False):
        overrides["index.follow_links"] = "true"
    return load_config(args.config, overrides)


def _quiet_libraries(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("bm25s", "chromadb", "httpx", "sentence_transformers", "transformers"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except ImportError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # stored with results, so they can be rerun
    _quiet_libraries(args.verbose)
    try:
        config = config_from(args)
        return COMMANDS[args.command](args, config)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    from rag.pipeline import Rag

    with Rag.open(config=config) as rag:
        if args.watch:
            return _watch(rag, args)
        report = rag.ingest(args.paths, progress=not args.quiet)
        for f in report.files:
            if f.status in ("failed", "skipped"):
                print(f"{f.status}: {f.path}: {f.reason}", file=sys.stderr)
        print(f"{report.summary()}; {rag.index.count()} chunks in {config.index.path}")
        chunks = list(rag.index.iter_chunks())
        topics = {t for c in chunks for t in c.topics}
        with_phrases = sum(1 for c in chunks if c.keyphrases)
        print(f"generated metadata: keyphrases on {with_phrases} chunks, {len(rag.acronyms.current)} acronyms, {len(topics)} topics")
        acronyms = rag.acronyms.current
        if acronyms:
            shown = ", ".join(f"{short} = {long}" for short, long in list(sorted(acronyms.items()))[:8])
            print(f"acronyms known: {len(acronyms)} ({shown}{', ...' if len(acronyms) > 8 else ''})")
    return 1 if report.failed else 0


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from rag.pipeline import Rag

    with Rag.open(config=config) as rag:
        _require_documents(rag)
        hits = rag.search(args.query, args.k)
    if args.json:
        print(json.dumps([hit_json(i, h) for i, h in enumerate(hits, 1)], indent=2))
        return 0
    for i, h in enumerate(hits, 1):
        c = h.chunk
        text = " ".join(c.text.split())
        print(f"{i:>2}. {c.source} p.{c.page_start}  score {h.score:.4f}  {c.section}")
        print(f"    {text[:300]}{'...' if len(text) > 300 else ''}")
    return 0


def hit_json(rank: int, h) -> dict:  # noqa: ANN001
    c = h.chunk
    return {"rank": rank, "id": c.id, "source": c.source, "page": c.page_start, "page_end": c.page_end,
            "char_start": c.char_start, "char_end": c.char_end, "section": c.section, "score": h.score,
            "scores": h.scores, "text": c.text, "context": c.context, "keyphrases": list(c.keyphrases),
            "acronyms": list(c.acronyms), "topics": list(c.topics)}


def _require_documents(rag) -> None:  # noqa: ANN001
    if rag.index.count() == 0:
        raise RagError(f"the index at {rag.config.index.path} is empty: run 'rag ingest DIR' first")


def cmd_ask(args: argparse.Namespace, config: Config) -> int:
    from rag.core.types import AnswerDone, Failed, Token
    from rag.pipeline import Rag

    with Rag.open(config=config) as rag:
        _require_documents(rag)
        answer, told = None, False
        for event in rag.stream(args.question):
            if isinstance(event, Token) and not told and not args.json and sys.stderr.isatty():
                # the draft is checked before anything is shown: only the final answer is printed, never one
                # that is taken back afterwards
                print("checking the answer against the passages...", end="\r", file=sys.stderr, flush=True)
                told = True
            elif isinstance(event, Failed):
                raise RagError(event.message)
            elif isinstance(event, AnswerDone):
                answer = event.answer
    if answer is None:
        raise RagError("the answer stream ended without an answer")
    if told:
        print(" " * 48, end="\r", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(answer_json(answer), indent=2))
        return 0
    print(answer.text)
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"  [{c.n}] {c.source} p.{c.page}: \"{_short(c.quote)}\"")
    elif answer.passages:
        print("\nClosest passages:")
        for i, h in enumerate(answer.passages[:3], 1):
            print(f"  [{i}] {h.chunk.source} p.{h.chunk.page_start}")
    return 0


def answer_json(answer) -> dict:  # noqa: ANN001
    return {
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [c.__dict__ for c in answer.citations],
        "passages": [hit_json(i, h) for i, h in enumerate(answer.passages, 1)],
        "timings": answer.timings,
    }


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    from rag.pipeline import Rag

    with Rag.open(config=config) as rag:
        docs = rag.documents()
    if args.json:
        print(json.dumps([d.__dict__ for d in docs], indent=2))
        return 0
    if not docs:
        print(f"no documents in {config.index.path}")
    for d in docs:
        extra = f"  ({d.error})" if d.error else ""
        print(f"{d.status:<8} {d.chunks:>5} chunks  {d.source}{extra}")
    return 0


def cmd_delete(args: argparse.Namespace, config: Config) -> int:
    from rag.pipeline import Rag

    with Rag.open(config=config) as rag:
        if not rag.delete(args.source):
            raise RagError(f"no indexed document matches {args.source!r} (see 'rag list')")
        kept = any(d.status == "excluded" and args.source in (d.source, d.path) for d in rag.documents())
    print(f"deleted {args.source}" + ("; the file stays, and syncs of its folder leave it out until you ingest the "
                                      "file itself" if kept else ""))
    return 0


def cmd_bench(args: argparse.Namespace, config: Config) -> int:
    from rag.bench.bench import run

    sizes = [s for s in args.size or [1000] if s > 0]
    results = run(sizes, Path(args.out), Path(args.sample_docs), args.queries, not args.no_langchain, config, args.quality,
                  args.section_chars, args.argv)
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
        if args.models:
            embedder_gib, generator_gib, process_gib = rag.model_memory()
            held = (f"; holds {embedder_gib:.2f} GiB resident",
                    f"; holds {generator_gib:.2f} GiB resident (this process: {process_gib:.2f} GiB)")
    e = config.embed
    print(f"embedder: {e.model} in {precision_note(e.dtype, e.model, e.max_tokens)}{held[0]}")
    print(f"generator: {config.generate.model} on {runtime(config.generate)} (CPU {cpu_model()}: "
          f"{', '.join(speed_flags()) or 'none of the flags the speed defaults read'}){held[1]}")
    return 1 if problems and not args.repair else 0


def _watch(rag: Rag, args: argparse.Namespace) -> int:
    from rag.indexing.watch import watch

    def show(report: IngestReport) -> None:
        for f in report.files:
            if f.status in ("failed", "skipped"):
                print(f"{f.status}: {f.path}: {f.reason}", file=sys.stderr)
        print(f"{time.strftime('%H:%M:%S')} {report.summary()}; {rag.index.count()} chunks", flush=True)

    print(f"watching {', '.join(args.paths)} every {args.interval:g} s (Ctrl-C stops)", flush=True)
    watch(lambda roots: rag.ingest(roots, progress=not args.quiet), args.paths, args.interval, on_sync=show)
    return 0


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from rag.pipeline import Rag
    from ui.app import LOOPBACK, check_exposure, serve

    check_exposure(config.ui.host, config.ui.username, config.ui.password, args.no_auth)  # fail before loading anything
    if args.no_auth and config.ui.host not in LOOPBACK:
        print(f"warning: serving on {config.ui.host} without a login: anyone who can reach this machine can read "
              "your documents and ask questions", file=sys.stderr, flush=True)
    rags = Rag.open_all(args.index or [config.index.path], config)
    rag = rags[0]
    if args.ingest:  # into the first collection
        print(rag.ingest(args.ingest).summary())
    for each in rags:  # a new node of a shared Chroma server reads every chunk once: here, not at a first search
        each.prepare()
    # loaded before the page opens, so the first question does not wait for it; a model that will not load is
    # reported here and the page still serves search and the documents
    g = config.generate
    print(f"loading the language model ({g.model}, backend {g.backend}) ...", flush=True)
    start = time.perf_counter()
    try:
        rag.warm_up()
        print(f"language model ready ({type(rag.generator.inner).__name__}) in {time.perf_counter() - start:.0f} s", flush=True)
    except RagError as exc:
        print(f"warning: {exc}; questions will fail until this is fixed", file=sys.stderr, flush=True)
    serve(rags, no_auth=args.no_auth)
    return 0


def cmd_eval(args: argparse.Namespace, config: Config) -> int:
    from rag.eval.runner import evaluate, evaluate_answers

    if args.answers:
        report = evaluate_answers(args.dataset, config, args.limit, args.unanswerable_every, index_path=args.index)
    else:
        report = evaluate(args.dataset, config, progress=True, index_path=args.index, limit=args.limit)
    for name, value in report.metrics.items():
        print(f"{name:>16}: {value}")
    if args.json:
        from rag.eval.meta import run_meta

        Path(args.json).write_text(json.dumps({"meta": run_meta(config, args.argv), **report.as_json()}, indent=2) + "\n")
        print(f"metrics written to {args.json}")
    if args.per_query:
        with open(args.per_query, "w") as f:
            for row in report.per_query:
                f.write(json.dumps(row) + "\n")
    return 0


COMMANDS = {"bench": cmd_bench, "doctor": cmd_doctor, "ingest": cmd_ingest, "search": cmd_search, "ask": cmd_ask,
            "list": cmd_list, "delete": cmd_delete,
            "serve": cmd_serve, "eval": cmd_eval}

if __name__ == "__main__":
    sys.exit(main())
