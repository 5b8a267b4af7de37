"""Ingestion killed with SIGKILL at several points, then re-run: every file exactly once, all parts consistent."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.cli import main
from tests.conftest import ROOT


def _corpus(folder: Path, n: int = 14) -> Path:
    folder.mkdir()
    for i in range(n):
        body = "\n\n".join(f"Section {j} of report {i}: pump P-{i}{j} runs {j * 7} hours between services." * 3 for j in range(8))
        (folder / f"report-{i:02d}.md").write_text(f"# Report {i}\n\n{body}\n")
    return folder


def _ok_docs(index: Path) -> int:
    try:
        with sqlite3.connect(f"file:{index / 'manifest.sqlite3'}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM documents WHERE status = 'ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _ingest_and_kill(docs: Path, index: Path, after_docs: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_EMBED_CACHE": "false"}
    # small write batches (a few documents each), so the kill lands between and inside batches
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(docs), "--index", str(index), "--quiet",
                             "-o", "index.write_batch=20"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while proc.poll() is None and _ok_docs(index) < after_docs and time.time() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("after_docs", [0, 3, 9])
def test_sigkill_then_rerun_gives_exactly_once(tmp_path: Path, after_docs: int) -> None:
    docs = _corpus(tmp_path / "docs")
    index = tmp_path / "idx"
    _ingest_and_kill(docs, index, after_docs)
    assert main(["ingest", str(docs), "--index", str(index), "--quiet"]) == 0
    assert main(["doctor", "--index", str(index)]) == 0

    from rag.pipeline import Rag

    with Rag.open(index) as rag:
        documents = rag.documents()
        assert sorted(d.source for d in documents) == sorted(f"docs/{p.name}" for p in docs.iterdir())
        assert all(d.status == "ok" for d in documents)
        chunks = list(rag.index.iter_chunks())
        ids = [c.id for c in chunks]
        assert len(ids) == len(set(ids)) == sum(d.chunks for d in documents)
        texts = [(c.source, c.char_start, c.text) for c in chunks]
        assert len(texts) == len(set(texts))  # no content twice
        assert sorted(rag.index.bm25().ids) == sorted(ids)
        assert rag.search("pump P-57", 1)[0].chunk.source == "docs/report-05.md"


@pytest.mark.slow
def test_two_ingests_of_one_index_take_turns(tmp_path: Path) -> None:
    import threading

    from rag.store.writer_lock import WriterLock

    docs = _corpus(tmp_path / "docs", n=12)
    index = tmp_path / "idx"
    index.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "rag.cli", "ingest", str(docs), "--index", str(index), "--quiet", "-o", "index.write_batch=20"]
    held, release = threading.Event(), threading.Event()

    def writer() -> None:  # another writer (this process) holds the index while `rag ingest` starts
        with WriterLock(index / "write.lock").hold():
            held.set()
            release.wait(300)

    holder = threading.Thread(target=writer)
    holder.start()
    held.wait(60)
    waiting = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "another writer holds the index" in (waiting.stdout.readline() if waiting.stdout else "")
    finally:
        release.set()
        holder.join()
    out, _ = waiting.communicate(timeout=600)
    assert waiting.returncode == 0 and "12 added" in out
    # two at once, on a fresh index: whichever comes second waits, then finds the work done
    again = tmp_path / "idx2"
    runs = [subprocess.Popen([*command[:-5], "--index", str(again), *command[-3:]], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)]
    outs = [r.communicate(timeout=600)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0] and sum("12 added" in o for o in outs) == 1
    assert main(["doctor", "--index", str(again)]) == 0

    from rag.pipeline import Rag

    with Rag.open(again) as rag:
        ids = [c.id for c in rag.index.iter_chunks()]
        assert len(ids) == len(set(ids)) == sum(d.chunks for d in rag.documents())
        assert all(rag.search(f"pump P-{i}3", 1) for i in range(0, 12, 4))


def test_a_run_stopped_before_the_corpus_step_is_finished_by_the_next(tmp_path: Path) -> None:
    """What a kill right after the last file leaves: chunks written, the corpus step (topics, acronyms) not run."""

    from rag.pipeline import Rag
    from rag.store.manifest import CORPUS_PENDING
    from tests.conftest import make_config

    docs = _corpus(tmp_path / "docs", n=14)
    with Rag.open(config=make_config(tmp_path / "idx")) as rag:
        rag.ingest(docs, progress=False)
        assert all(c.topics for c in rag.index.iter_chunks())
        # the job marks the step pending before it writes, and a kill leaves the mark with the chunks as written
        rag.index.set_state(CORPUS_PENDING, "1")
        bare = {c.id: {"topics": ""} for c in rag.index.iter_chunks()}
        rag.index.update_metadata(bare)
        problems = rag.doctor()
        assert any("corpus metadata" in p for p in problems)
        report = rag.ingest(docs, progress=False)
        assert {f.status for f in report.files} == {"unchanged"}
        assert all(c.topics for c in rag.index.iter_chunks()) and not rag.index.state(CORPUS_PENDING)
        assert not [p for p in rag.doctor() if "corpus" in p]
