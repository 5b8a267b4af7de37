"""The ``rag`` command's arguments, and the configuration they make."""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.bench.bench import SECTION_CHARS
from rag.core.config import Config, load_config
from rag.core.errors import RagError


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
    p.add_argument("--files", type=int, default=0, help="spread each corpus over this many files (default: 10 sections a file)")
    p.add_argument("--acronyms", type=int, default=0, help="distinct acronyms the files define and use (default none)")
    p.add_argument("--sample-docs", default=str(Path(__file__).resolve().parents[2] / "sample_docs"),
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
