"""State shared between threads and between views of one index: filters, the corpus's acronyms, per-session
settings, loaded models."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from rag.llm.factory import LOADED, _loaded, load_generator


def _hammer(threads: int, calls: int, work) -> list[BaseException]:  # noqa: ANN001
    errors: list[BaseException] = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a race shows
    try:
        def run(n: int) -> None:
            try:
                for i in range(calls):
                    work(n, i)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
        pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    finally:
        sys.setswitchinterval(old)
    return errors


def test_concurrent_filtered_searches_get_their_own_filters_ids(sample_rag) -> None:  # noqa: ANN001
    from rag.retrieval.filters import Filters

    filters = [Filters.of({"source": "*buoy*"}), Filters.of({"source": "*.md"}), Filters.of({"pages": (2, 99)})]
    expected = [frozenset(c.id for c in sample_rag.index.iter_chunks() if f.matches(c)) for f in filters]
    assert len(set(expected)) == 3
    wrong: list[int] = []

    def work(n: int, i: int) -> None:
        which = (n + i) % 3  # the one-entry cache is replaced on almost every call
        if sample_rag.retriever.allowed_ids(filters[which]) != expected[which]:
            wrong.append(which)

    assert _hammer(4, 150, work) == [] and wrong == []


def test_searches_while_a_sync_learns_acronyms(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(60):
        words = [f"Zan{i}", f"Hulek{i}", f"Finix{i}", f"Kev{i}"]
        short = "".join(w[0] for w in words) + f"{i:02d}"
        (docs / f"note-{i:02d}.txt").write_text(f"{' '.join(words)} ({short}) is checked every {i + 2} days.\n")
    rag = make_rag(**{"rerank.method": "none", "index.write_batch": "4"})
    (docs / "first.txt").write_text("Remote Telemetry Unit (RTU) reports hourly.\n")
    rag.ingest([docs / "first.txt"], progress=False)
    done = threading.Event()
    errors: list[BaseException] = []

    def search() -> None:
        while not done.is_set():
            try:
                rag.search("How often does the RTU or ZHFK report?", 3)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    reader = threading.Thread(target=search)
    reader.start()
    try:
        report = rag.ingest(docs, progress=False)
    finally:
        done.set()
        reader.join()
    assert errors == [] and not report.failed
    snapshot = rag.acronyms.current
    rag.acronyms.learn({"QQX": "Quiet Quay Exit"})
    assert "QQX" not in snapshot and rag.acronyms.current["QQX"] == "Quiet Quay Exit"  # published, not mutated


def test_session_settings_make_one_view_each(sample_rag) -> None:  # noqa: ANN001
    a = sample_rag.with_options({"rerank.mix": 0.5, "retrieval.k": 5})
    b = sample_rag.with_options({"retrieval.k": "5", "rerank.mix": "0.5"})
    assert a is b and a.index is sample_rag.index and a.acronyms is sample_rag.acronyms
    assert a.config.rerank.mix == 0.5 and a.search("buoy", 2)
    assert sample_rag.with_options({"rerank.method": "none"}).retriever.reranker is None


def test_models_named_in_settings_do_not_stay_loaded() -> None:
    made = [load_generator("openai", f"model-{n}", 4096, 0, base_url="http://127.0.0.1:9/v1") for n in range(LOADED + 3)]
    assert len(_loaded) <= LOADED
    assert load_generator("openai", f"model-{LOADED + 2}", 4096, 0, base_url="http://127.0.0.1:9/v1") is made[-1]
