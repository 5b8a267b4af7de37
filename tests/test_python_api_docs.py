"""Every Python example in docs/python-api.md runs, type-checks, and the API behaves as documented."""

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DOCS, TEST_MODEL

DOC = ROOT / "docs" / "python-api.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("api-docs")
    shutil.copytree(SAMPLE_DOCS, folder / "sample_docs")
    path = folder / "examples.py"
    # each example is self-contained; run them in order in one process so the models load once
    blocks = [f"def example_{i}() -> None:\n" + "".join(f"    {line}\n" if line else "\n" for line in block.splitlines())
              for i, block in enumerate(examples())]
    calls = "".join(f"example_{i}()\n" for i in range(len(blocks)))
    path.write_text("\n\n".join(blocks) + "\n\n" + calls)
    return path


def test_docs_have_the_promised_examples() -> None:
    text = "\n".join(examples())
    for needle in ("rag.ingest(", "filters=", "rag.ask(", "rag.stream(", "as_retriever(", "| format_docs"):
        assert needle in text


@pytest.mark.slow
def test_examples_run(script: Path) -> None:
    env = {**os.environ, "RAG_GENERATE_MODEL": TEST_MODEL, "RAG_GENERATE_MAX_TOKENS": "64", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "8 added" in out
    assert "buoy-equipment-specification.pdf p.4" in out
    assert "cited:" in out and "sources:" in out


@pytest.mark.slow
def test_examples_type_check(script: Path) -> None:
    # installed packages are taken as untyped: the check reads this project's API (found from ROOT) in a second,
    # not torch's and transformers' stubs in forty
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-site-packages", "--follow-imports=silent", "--ignore-missing-imports",
         "--no-error-summary", str(script)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_retriever_matches_search_and_keeps_metadata(sample_rag) -> None:  # noqa: ANN001
    query = "maximum bottom time on a dive"
    hits = sample_rag.search(query, 5)
    docs = sample_rag.as_retriever(k=5).invoke(query)
    assert [d.id for d in docs] == [h.chunk.id for h in hits]
    for doc, hit in zip(docs, hits):
        assert doc.page_content == hit.chunk.text
        assert doc.metadata["source"] == hit.chunk.source
        assert doc.metadata["page"] == hit.chunk.page_start
        assert (doc.metadata["char_start"], doc.metadata["char_end"]) == (hit.chunk.char_start, hit.chunk.char_end)
        assert doc.metadata["score"] == hit.score


def test_retriever_in_an_lcel_chain(sample_rag) -> None:  # noqa: ANN001
    from langchain_core.runnables import RunnableLambda

    chain = sample_rag.as_retriever(k=2) | RunnableLambda(lambda docs: " || ".join(d.metadata["source"] for d in docs))
    out = chain.invoke("uplink_window_min")
    assert out.split(" || ")[0].endswith("operations-manual.pdf")


def test_filters_narrow_results(sample_rag) -> None:  # noqa: ANN001
    everything = sample_rag.search("buoy", 20)
    assert {h.chunk.source.rsplit(".", 1)[-1] for h in everything} > {"pdf"}
    pdf = sample_rag.search("buoy", 20, filters={"source": "*.pdf"})
    assert pdf and all(h.chunk.source.endswith(".pdf") for h in pdf)
    pages = sample_rag.search("buoy", 20, filters={"source": "*specification.pdf", "pages": (2, 3)})
    assert pages and all(2 <= h.chunk.page_start <= 3 for h in pages)
    topic = next(t for h in everything for t in h.chunk.topics)
    assert all(topic in h.chunk.topics for h in sample_rag.search("buoy", 20, filters={"topic": topic}))
    phrase = everything[0].chunk.keyphrases[0]
    by_phrase = sample_rag.search("buoy", 20, filters={"keyphrase": phrase})
    assert by_phrase and all(any(phrase.lower() in k.lower() for k in h.chunk.keyphrases) for h in by_phrase)
    with pytest.raises(Exception, match="unknown filter"):
        sample_rag.search("buoy", 5, filters={"colour": "red"})


@pytest.mark.slow
def test_concurrent_asks_are_not_interleaved(sample_rag) -> None:  # noqa: ANN001
    questions = {
        "What is the default value of uplink_window_min?": "20",
        "Which instrument has part number TMR-4471?": "CTD",
    }
    answers: dict[str, str] = {}

    def ask(q: str) -> None:
        answers[q] = sample_rag.ask(q).text

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert set(answers) == set(questions)
    for q, needle in questions.items():
        assert needle in answers[q], (q, answers[q])
