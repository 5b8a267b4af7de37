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
