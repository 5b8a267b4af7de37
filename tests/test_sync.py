"""Re-ingestion is a sync: unchanged files do no work, changed files replace their chunks, deleted ones go."""

import os
from pathlib import Path

from rag import Rag
from rag.core.progress import INDEXED, UNITS
from tests.conftest import make_config, write_pdf


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "pumps.md").write_text("# Pumps\n\nThe bilge pump P-7 moves 40 litres per minute.\n")
    (folder / "notes.txt").write_text("Meeting notes: the generator was serviced on Tuesday.\n")
    write_pdf(folder / "rules.pdf", [["# 1 Rules", "Helmets are required in the workshop."]])
    return folder


def _chunk_texts(rag) -> list[str]:  # noqa: ANN001
    return sorted(c.text for c in rag.index.iter_chunks())


def test_reingest_unchanged_does_no_work(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = _corpus(tmp_path / "docs")
    rag = make_rag()
    first = rag.ingest(docs, progress=False)
    assert {f.path: f.status for f in first.files if f.status != "skipped"} == {
        "docs/notes.txt": "added", "docs/pumps.md": "added", "docs/rules.pdf": "added"}
    before = _chunk_texts(rag)
    generation = rag.index.generation
    second = rag.ingest(docs, progress=False)
    assert [f.status for f in second.files] == ["unchanged"] * 3
    assert rag.index.generation == generation  # nothing was written
    assert _chunk_texts(rag) == before
    os.utime(docs / "notes.txt", (1, 1))  # touched, same content: hashed again but not re-indexed
    assert [f.status for f in rag.ingest(docs, progress=False).files] == ["unchanged"] * 3
    assert rag.index.generation == generation


def test_files_chunked_another_way_are_processed_again(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    # an index made with other chunking settings (or an older version of the loaders) is not left stale
    docs = _corpus(tmp_path / "docs")
    (docs / "pumps.md").write_text("# Pumps\n\n" + "The bilge pump P-7 moves 40 litres per minute. " * 12 + "\n")
    first = make_rag()
    first.ingest(docs, progress=False)
    chunks_before = len(_chunk_texts(first))
    first.close()
    smaller = Rag.open(config=make_config(Path(first.config.index.path), **{"chunk.size": "200", "chunk.overlap": "20"}))
    try:
        report = smaller.ingest(docs, progress=False)
        assert sorted(f.status for f in report.files) == ["updated"] * 3
        assert len(_chunk_texts(smaller)) > chunks_before
        assert [f.status for f in smaller.ingest(docs, progress=False).files] == ["unchanged"] * 3
    finally:
        smaller.close()


def test_changed_file_replaces_only_its_chunks(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = _corpus(tmp_path / "docs")
    rag = make_rag()
    rag.ingest(docs, progress=False)
    others = [t for t in _chunk_texts(rag) if "P-7" not in t]
    (docs / "pumps.md").write_text("# Pumps\n\nThe bilge pump P-9 moves 55 litres per minute.\n")
    report = rag.ingest(docs, progress=False)
    assert {f.path: f.status for f in report.files}["docs/pumps.md"] == "updated"
    texts = _chunk_texts(rag)
    assert not any("P-7" in t for t in texts)
    assert any("P-9" in t for t in texts)
    assert [t for t in texts if "P-9" not in t] == others
    assert rag.search("P-9 litres", 1)[0].chunk.source == "docs/pumps.md"


def test_deleted_file_is_removed(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = _corpus(tmp_path / "docs")
    rag = make_rag()
    rag.ingest(docs, progress=False)
    (docs / "rules.pdf").unlink()
    report = rag.ingest(docs, progress=False)
    assert {f.path: f.status for f in report.files}["docs/rules.pdf"] == "removed"
    assert "docs/rules.pdf" not in {d.source for d in rag.documents()}
    assert not any("Helmets" in t for t in _chunk_texts(rag))
    assert all(h.chunk.source != "docs/rules.pdf" for h in rag.search("helmets workshop", 10))


def test_failed_file_is_reported_and_the_rest_indexed(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = _corpus(tmp_path / "docs")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    rag = make_rag()
    report = rag.ingest(docs, progress=False)
    failed = report.failed
    assert [f.path for f in failed] == ["docs/broken.pdf"]
    assert "corrupt" in failed[0].reason
    assert len(report.by_status("added")) == 3


def test_file_that_vanishes_between_scan_and_read(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    from ingest.sync import SourceFile

    docs = _corpus(tmp_path / "docs")
    rag = make_rag()
    ghost = docs / "ghost.md"
    pending: list = []
    gone = rag._job()._prepare_file(SourceFile(ghost, "docs/ghost.md", 10, 1.0), "added", None, pending, False, None)
    assert (gone.status, gone.reason) == ("failed", "file disappeared while reading")
    assert [d.status for d in rag.documents() if d.source == "docs/ghost.md"] == ["failed"]


def test_batches_embedded_while_the_next_files_are_read_give_the_same_index(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    import numpy as np

    docs = _corpus(tmp_path / "docs")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    for i in range(4):
        (docs / f"log-{i}.md").write_text(f"# Log {i}\n\nValve V-{i} was greased after {i + 3} days of service.\n")
    whole, piecewise = make_rag(), make_rag(**{"index.write_batch": "1"})  # one file per batch: every batch overlaps
    reports = [rag.ingest(docs, progress=False) for rag in (whole, piecewise)]
    statuses = [{f.path: f.status for f in r.files} for r in reports]
    assert statuses[0] == statuses[1]
    assert len(reports[1].by_status("added")) == 7 and [f.path for f in reports[1].failed] == ["docs/broken.pdf"]
    assert _chunk_texts(whole) == _chunk_texts(piecewise)
    ids = sorted(c.id for c in whole.index.iter_chunks())
    a, b = whole.index.chunk_vectors(ids), piecewise.index.chunk_vectors(ids)
    assert all(np.allclose(a[i], b[i], atol=1e-5) for i in ids)
    assert piecewise.search("valve V-2 greased", 1)[0].chunk.source == "docs/log-2.md"


def test_a_deleted_document_stays_deleted_until_its_file_is_ingested_itself(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = _corpus(tmp_path / "docs")
    rag = make_rag(**{"rerank.method": "none"})
    rag.ingest(docs, progress=False)
    assert rag.delete("docs/pumps.md")
    assert (docs / "pumps.md").exists()  # the user's file stays where it is
    listed = {d.source: (d.status, d.chunks) for d in rag.documents()}
    assert listed["docs/pumps.md"] == ("excluded", 0)
    again = {f.path: (f.status, f.reason) for f in rag.ingest(docs, progress=False).files}  # a re-sync of the folder
    assert again["docs/pumps.md"][0] == "skipped" and "deleted by the user" in again["docs/pumps.md"][1]
    assert not any("P-7" in h.chunk.text for h in rag.search("bilge pump P-7", 5))
    assert {f.path: f.status for f in rag.ingest(docs / "pumps.md", progress=False).files} == {"docs/pumps.md": "added"}
    assert any("P-7" in h.chunk.text for h in rag.search("bilge pump P-7", 5))


def test_deleting_an_upload_deletes_its_file(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    rag = make_rag(**{"rerank.method": "none"})
    rag.uploads.mkdir(parents=True)
    (rag.uploads / "zephyr-pump.md").write_text("# Zephyr-9\n\nThe Zephyr-9 pump is serviced every 250 running hours.\n")
    rag.ingest(rag.uploads, progress=False)
    assert rag.delete("uploads/zephyr-pump.md")
    assert not (rag.uploads / "zephyr-pump.md").exists()
    (rag.uploads / "galley.md").write_text("# Galley\n\nThe galley closes at 21:00.\n")  # the next upload syncs the folder
    rag.ingest(rag.uploads, progress=False)
    assert [d.source for d in rag.documents()] == ["uploads/galley.md"]


def test_an_ingest_reports_its_progress_step_by_step_to_the_caller(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = _corpus(tmp_path / "docs")
    seen: list[tuple[str, int, int]] = []
    rag = make_rag(**{"rerank.sentences_at_ingest": "true"})
    rag.ingest(docs, progress=lambda step, done, total: seen.append((step, done, total)))
    steps = list(dict.fromkeys(step for step, _, _ in seen))
    # one after the other: the app shows them in one bar
    assert steps == ["reading files", "embedding passages", "embedding sentences", INDEXED]
    for step in steps[:-1]:
        reports = [(done, total) for s, done, total in seen if s == step]
        assert [done for done, _ in reports] == sorted(done for done, _ in reports)
        assert reports[0][0] == 0 and reports[-1][0] == reports[-1][1] > 0
    # chunks written are counted as batches are written, against a total known only at the end
    indexed = [(done, total) for s, done, total in seen if s == INDEXED]
    assert all(total == 0 for _, total in indexed[:-1])
    assert seen[-1] == (INDEXED, rag.index.count(), rag.index.count())
    assert all(UNITS[step] in ("file", "chunk") for step in steps)  # the terminal bar shows files/s, then chunks/s
