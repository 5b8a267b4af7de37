"""Concurrency and sync: searches during re-ingestion, large files streamed in parts, --watch, 8 chats at once."""

from __future__ import annotations

import queue
import re
import threading
import tracemalloc
from pathlib import Path

import pytest

from ingest.loaders import iter_text_parts, load_text
from tests.fake_openai import app_over_fake, fake_openai

FACTS = ["pumps", "valves", "filters", "cables", "ladders", "hatches", "winches", "anchors"]


def _versioned_doc(version: str) -> str:
    """Eight sections; every chunk names the document's version, so a search can tell old from new."""
    return "\n\n".join(f"# Part {i}\n\nRevision {version} of the checklist for {fact}: inspect the {fact} weekly "
                       f"and log revision {version} in the {fact} register. " * 3 for i, fact in enumerate(FACTS))


def test_searches_see_a_reingested_document_whole(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    target = docs / "checklist.md"
    target.write_text(_versioned_doc("alpha"))
    rag = make_rag(**{"rerank.method": "none"})
    expected = rag.ingest(docs, progress=False).files[0].chunks
    assert expected >= len(FACTS)
    stop = threading.Event()
    seen: list[tuple[int, frozenset[str]]] = []

    def read() -> None:
        while not stop.is_set():
            hits = rag.search("revision checklist inspect weekly", k=50, filters={"source": "*checklist.md"})
            versions = frozenset(m for h in hits for m in re.findall(r"Revision (\w+)", h.chunk.text))
            seen.append((len(hits), versions))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for n in range(6):
            target.write_text(_versioned_doc(["beta", "alpha"][n % 2]))
            assert rag.ingest(docs, progress=False).files[0].status == "updated"
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert seen
    # every search saw the whole document in exactly one version: never a mix, never a part
    assert all(count == expected and len(versions) == 1 for count, versions in seen), {s for s in seen}


def test_large_text_file_is_streamed_in_parts(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    lines = [f"Logbook entry {n}: the tide gauge at pier {n % 7} read {n % 13} metres." for n in range(400)]
    lines.append("Final entry: the lighthouse keeper on Skerryvore retired in the spring.")
    big = docs / "logbook.txt"
    big.write_text("Harbour logbook\r\n\r\n" + "\r\n\r\n".join(lines) + "\r\n", encoding="utf-8")
    rag = make_rag(**{"chunk.stream_mb": "0.01", "chunk.stream_part_chars": "5000"})
    report = rag.ingest(docs, progress=False)
    result = report.files[0]
    assert result.status == "added" and result.chunks > 5
    whole = load_text(big, "logbook.txt").pages[0]
    chunks = sorted(rag.index.iter_chunks(), key=lambda c: int(c.id.split(":")[1]))
    assert [int(c.id.split(":")[1]) for c in chunks] == list(range(result.chunks))
    assert all(whole[c.char_start : c.char_end] == c.text for c in chunks)  # offsets are file-wide
    assert chunks[0].title == "Harbour logbook" and rag.documents()[0].status == "ok"
    assert "Skerryvore" in rag.search("Who retired from the Skerryvore lighthouse?", k=1)[0].chunk.text


def test_streamed_binary_file_fails_before_touching_the_index(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("The boiler room key hangs behind the blue door.\n")
    rag = make_rag(**{"chunk.stream_mb": "0.01"})
    rag.ingest(docs, progress=False)
    (docs / "notes.txt").write_bytes(bytes(range(256)) * 100)
    result = rag.ingest(docs, progress=False).files[0]
    assert result.status == "failed" and "binary" in result.reason
    assert "blue door" in rag.search("boiler room key", k=1)[0].chunk.text  # the indexed version is kept


def test_reading_a_200_mb_file_holds_one_part_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    paragraph = ("Pressure readings of the ballast pumps were logged every hour by the night shift. " * 8 + "\n\n").encode()
    block = paragraph * (4 * 2**20 // len(paragraph))
    with path.open("wb") as f:
        for _ in range(50):
            f.write(block)
    assert path.stat().st_size > 190 * 2**20
    tracemalloc.start()
    try:
        total = 0
        for offset, part in iter_text_parts(path, "huge.txt", part_chars=1_000_000):
            assert offset == total
            total += len(part.pages[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == path.stat().st_size
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB while reading {total / 2**20:.0f} MiB"


def test_watch_resyncs_when_files_change(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    from rag.indexing.watch import watch

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Galley\n\nThe galley stove is lit at five in the morning.\n")
    rag = make_rag()
    reports: queue.Queue = queue.Queue()
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(lambda roots: rag.ingest(roots, progress=False), [docs], 0.2, stop, reports.put))
    watcher.start()
    try:
        assert [f.status for f in reports.get(timeout=120).files] == ["added"]
        (docs / "b.md").write_text("# Mooring\n\nMooring lines are doubled when the wind passes forty knots.\n")
        assert {(f.path, f.status) for f in reports.get(timeout=120).files} >= {("docs/b.md", "added")}
        assert "forty knots" in rag.search("When are mooring lines doubled?", k=1)[0].chunk.text
        (docs / "a.md").unlink()
        assert ("docs/a.md", "removed") in {(f.path, f.status) for f in reports.get(timeout=120).files}
        assert [d.source for d in rag.documents()] == ["docs/b.md"]
    finally:
        stop.set()
        watcher.join()


@pytest.mark.slow
def test_eight_simultaneous_chats_get_their_own_answers(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    from gradio_client import Client

    docs = tmp_path / "docs"
    docs.mkdir()
    words = ["amber", "birch", "cobalt", "dune", "ember", "fjord", "garnet", "heron"]
    for n, word in enumerate(words):
        (docs / f"crate{n}.md").write_text(f"# Crate {word}\n\nThe code word stencilled on the {word} crate is {word.upper()}.\n")

    def echo(body: dict) -> list[str]:  # answers the question it was asked from its words, one word per piece
        question = body["messages"][-1]["content"].rsplit("Question:", 1)[-1].split("\n")[0].strip()
        word = question.split(" crate")[0].rsplit(" ", 1)[-1]
        return [w + " " for w in f"The code word stencilled on the {word} crate is {word.upper()}.".split()] + ["[1]"]

    with app_over_fake(make_rag, docs, echo, delay=0.05) as (llm, url):
        client = Client(url, verbose=False)
        jobs = {word: client.submit(f"What code word is on the {word} crate?", [], api_name="/chat") for word in words}
        results = {word: job.result(timeout=300) for word, job in jobs.items()}
    for word, (history, sources, _box) in results.items():
        content = history[-1]["content"]  # Gradio hands back structured message content
        text = content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)
        assert f"on the {word} crate is {word.upper()}" in text and f"crate{words.index(word)}.md" in text
        assert f"crate{words.index(word)}.md" in sources.split('id="source-2"')[0]  # its own document is the top source
    assert len([s for s in llm.seen if s.get("stream")]) == 8
    assert llm.most_in_flight == 1  # the model served one chat at a time; the others waited in line


def test_a_question_behind_another_is_told_it_waits_for_the_model(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    from rag.core.types import AnswerDone, Waiting

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe supply ferry leaves the harbour at 14:30 every Thursday.\n")
    with fake_openai(lambda body: ["The ferry ", "leaves ", "at ", "14:30 ", "[1]."], delay=0.4) as llm:
        rag = make_rag(**{"generate.backend": "openai", "generate.base_url": llm.url, "generate.model": "any"})
        rag.ingest(docs, progress=False)
        rag.search("ferry")  # the query embedder is loaded before the race below
        first = threading.Thread(target=rag.ask, args=("When does the ferry leave?",))
        first.start()
        for _ in range(600):  # until the model holds the first question
            if llm.in_flight:
                break
            threading.Event().wait(0.05)
        events = list(rag.stream("At what time does the supply ferry leave?"))
        first.join()
    assert [e for e in events if isinstance(e, Waiting)] == [Waiting(1)]
    assert isinstance(events[-1], AnswerDone) and "14:30" in events[-1].answer.text
