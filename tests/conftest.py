"""Shared fixtures: real models from the packages, real Chroma, documents written into temp dirs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rag.core.config import Config, load_config  # noqa: E402
from rag.pipeline import Rag  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = ROOT / "sample_docs"
TEST_MODEL = "qwen2.5-coder-0.5b"  # the faster packaged generator; the default 1.5B is exercised by `make run`
# the same backend on every machine (generate.backend=auto picks by CPU), so that the model's answers the tests
# read do not depend on where they run; test_llm_backends runs the transformers backend itself
TEST_BACKEND = "llamacpp"
os.environ.setdefault("RAG_GENERATE_BACKEND", TEST_BACKEND)  # for the CLI and the documented examples
# passages' sentences are embedded when a search first needs them, not at ingestion: most tests ingest and search
# a handful of passages. test_rerank checks ingestion's own embedding of them.
os.environ.setdefault("RAG_RERANK_SENTENCES_AT_INGEST", "false")
# the tests' prompts keep less evidence than the default (tuned for the 1.5B on long manuals): the test model reads
# every prompt, and the tests' questions are answered by one short passage
TEST_EVIDENCE_TOKENS = "400"
os.environ.setdefault("RAG_GENERATE_EVIDENCE_TOKENS", TEST_EVIDENCE_TOKENS)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_config(index: Path, **overrides: str) -> Config:
    values = {"index.path": str(index), "generate.model": TEST_MODEL, "generate.backend": TEST_BACKEND,
              "generate.max_tokens": "96", "rerank.sentences_at_ingest": "false",
              "generate.evidence_tokens": TEST_EVIDENCE_TOKENS, **overrides}
    return load_config(None, values, environ={})


def write_pdf(path: Path, pages: list[list[str]], title: str = "") -> Path:
    """A real text-layer PDF: one list of lines per page; lines starting with '#' are bold headings."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    if title:
        pdf.set_title(title)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            heading = line.startswith("#")
            pdf.set_font("Helvetica", "B" if heading else "", 14 if heading else 11)
            pdf.multi_cell(0, 7, line.lstrip("# "), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


@pytest.fixture(scope="session")
def sample_rag(tmp_path_factory: pytest.TempPathFactory) -> Rag:
    """The bundled sample_docs/ ingested once for the whole session (copied, so tests may not touch the repo)."""
    base = tmp_path_factory.mktemp("sample")
    docs = base / "sample_docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    rag = Rag.open(config=make_config(base / "index"))
    report = rag.ingest(docs, progress=False)
    assert not report.failed, report.failed
    yield rag
    rag.close()


@pytest.fixture
def make_rag(tmp_path: Path):
    opened: list[Rag] = []

    def _make(**overrides: str) -> Rag:
        rag = Rag.open(config=make_config(tmp_path / f"index{len(opened)}", **overrides))
        opened.append(rag)
        return rag

    yield _make
    for rag in opened:
        rag.close()
