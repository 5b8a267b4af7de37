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

from rag.cli.admin import cmd_bench, cmd_doctor
from rag.cli.parser import build_parser, config_from
from rag.core.config import Config
from rag.core.errors import RagError

if TYPE_CHECKING:
    from rag.core.types import IngestReport
    from rag.pipeline import Rag

log = logging.getLogger("rag")

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
