"""The same ingest/search/ask path against a Chroma server (`chroma run`) through HttpClient."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, make_config


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory):
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([exe, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def _folder(path: Path, files: dict[str, str]) -> Path:
    """A folder of documents: ``files`` maps names to their text."""
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def _node(folder: Path, chroma_url: str):  # noqa: ANN202 - a Rag
    """One machine: its own local index folder, on the shared server."""
    from rag.pipeline import Rag

    return Rag.open(config=make_config(folder, **{"index.chroma_url": chroma_url}))


@pytest.mark.slow
def test_ingest_search_ask_delete_against_a_chroma_server(chroma_url: str, tmp_path: Path) -> None:
    from rag.pipeline import Rag

    docs = _folder(tmp_path / "docs", {
        "ferry.md": "# Ferry\n\nThe supply ferry Kittiwake leaves the harbour at 14:30 every Thursday.\n",
        "kitchen.txt": "The kitchen opens at seven and closes at nine.\n"})
    config = make_config(tmp_path / "idx", **{"index.chroma_url": chroma_url})
    with Rag.open(config=config) as rag:
        report = rag.ingest(docs, progress=False)
        assert len(report.by_status("added")) == 2
        assert not (tmp_path / "idx" / "chroma").exists()  # vectors live in the server, not on local disk
        assert rag.search("when does the ferry leave", 1)[0].chunk.source == "docs/ferry.md"
        assert [f.status for f in rag.ingest(docs, progress=False).files] == ["unchanged", "unchanged"]
        answer = rag.ask("When does the supply ferry leave?")
        assert "14:30" in answer.text and answer.citations[0].source == "docs/ferry.md"
        assert rag.delete("docs/ferry.md")
        assert all(h.chunk.source != "docs/ferry.md" for h in rag.search("ferry", 5))


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    from rag.core.errors import RagError

    with pytest.raises(RagError, match="Chroma server"):
        _node(tmp_path / "idx", f"http://127.0.0.1:{free_port()}")


@pytest.mark.slow
def test_two_nodes_share_one_server_documents_and_all(chroma_url: str, tmp_path: Path) -> None:
    """Two machines, each with its own local folder, on one server: what one writes, deletes or repairs, the other
    sees, and neither takes the other's chunks for orphans."""
    from rag.core.progress import KEYWORDS

    docs = _folder(tmp_path / "harbour", {
        "lighthouse.md": "# Lighthouse\n\nThe Skarvik lighthouse lamp is a LED beacon seen 18 nautical miles away.\n",
        "pump.txt": "The bilge pump Zephyr-9 is serviced every 250 running hours.\n"})
    a, b = _node(tmp_path / "node-a", chroma_url), _node(tmp_path / "node-b", chroma_url)
    try:
        a.ingest(docs, progress=False)
        seen: list[tuple[str, int, int]] = []
        b.prepare(progress=lambda *report: seen.append(report))  # what `rag serve` does before it listens
        assert seen[-1] == (KEYWORDS, b.index.count(), b.index.count())  # B's keyword index, from every chunk once
        assert {"harbour/lighthouse.md", "harbour/pump.txt"} <= {d.source for d in b.documents()}
        assert b.search("Skarvik lighthouse", 1)[0].chunk.source == "harbour/lighthouse.md"  # B's keyword index
        for query in ("Skarvik lighthouse", "pump service interval", "LED beacon"):  # an empty folder serves as A does
            assert [(h.chunk.id, round(h.score, 6)) for h in b.search(query, 5)] == \
                [(h.chunk.id, round(h.score, 6)) for h in a.search(query, 5)]
        by_meaning = b.with_options({"retrieval.mode": "dense"})
        assert by_meaning.search("how far away can the light of the tower be seen", 1)[0].chunk.source == "harbour/lighthouse.md"
        assert not [p for p in b.doctor(repair=True) if "unknown document" in p]  # A's chunks are no orphans on B
        assert a.search("Skarvik lighthouse", 1)[0].chunk.source == "harbour/lighthouse.md"
        assert b.delete("harbour/pump.txt")
        assert {d.source: d.status for d in a.documents()}["harbour/pump.txt"] == "excluded"  # A's listing knows
        assert all(h.chunk.source != "harbour/pump.txt" for h in a.search("Zephyr-9 bilge pump", 5))
        assert [f.status for f in a.ingest(docs / "pump.txt", progress=False).files] == ["added"]  # back, from A
        assert b.search("Zephyr-9 bilge pump", 1)[0].chunk.source == "harbour/pump.txt"
    finally:
        a.close()
        b.close()


@pytest.mark.slow
def test_two_nodes_sync_one_folder_at_once_and_one_is_killed(chroma_url: str, tmp_path: Path) -> None:
    """A (a subprocess) and B sync the same folder at the same time; A is killed halfway. B never shows a document A
    left half-written, its next sync finishes A's work, and every chunk is there exactly once."""
    import os
    import signal
    import threading

    from tests.conftest import ROOT
    from tests.test_crash import _corpus

    docs = _corpus(tmp_path / "reports", n=10)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_EMBED_CACHE": "false"}
    a = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(docs), "--index", str(tmp_path / "node-a"), "--quiet",
                          "-o", f"index.chroma_url={chroma_url}", "-o", "index.write_batch=20"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mine = {f"reports/{p.name}" for p in docs.iterdir()}
    with _node(tmp_path / "node-b", chroma_url) as b:

        def kill_a_halfway() -> None:
            deadline = time.time() + 300
            while a.poll() is None and time.time() < deadline:
                if sum(d.source in mine and d.status == "ok" for d in b.documents()) >= 3:
                    a.send_signal(signal.SIGKILL)
                    return
                time.sleep(0.05)

        deadline = time.time() + 300
        while a.poll() is None and not any(d.source in mine for d in b.documents()) and time.time() < deadline:
            time.sleep(0.05)  # until A has begun writing
        killer = threading.Thread(target=kill_a_halfway)
        killer.start()
        b.ingest(docs, progress=False)  # while A writes too
        killer.join()
        a.wait()
        half = {d.doc_id for d in b.documents() if d.status == "indexing"}
        for n in range(10):
            assert not [h for h in b.search(f"pump P-{n}5 report {n}", 10) if h.chunk.doc_id in half]
        b.ingest(docs, progress=False)  # takes over whatever A left: its process is gone
        documents = [d for d in b.documents() if d.source in mine]
        assert sorted(d.source for d in documents) == sorted(mine)
        assert all(d.status == "ok" for d in documents)
        chunks = list(b.index.iter_chunks([d.doc_id for d in documents]))
        assert len(chunks) == len({c.id for c in chunks}) == sum(d.chunks for d in documents)
        assert len({(c.source, c.char_start) for c in chunks}) == len(chunks)  # no content twice
        assert b.doctor() == []
        assert b.search("pump P-57", 1)[0].chunk.source == "reports/report-05.md"
    with _node(tmp_path / "node-a", chroma_url) as a_again:
        assert a_again.doctor() == []
        assert a_again.search("pump P-57", 1)[0].chunk.source == "reports/report-05.md"


@pytest.mark.slow
def test_a_write_in_progress_on_another_node_is_left_to_it_until_its_writer_is_gone(chroma_url: str, tmp_path: Path) -> None:
    import socket

    from rag.store import shared_manifest

    docs = _folder(tmp_path / "buoys", {"b3.md": "# Buoy B3\n\nBuoy B3 was deployed on 2 August 2023 at the north mooring.\n"})
    with _node(tmp_path / "node-b", chroma_url) as b:
        b.ingest(docs, progress=False)
        (doc,) = [d for d in b.documents() if d.source == "buoys/b3.md"]
        records = b.index.manifest._docs  # what another node's write in progress leaves in the server
        live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        try:
            for writer, updated, alive in [(f"{socket.gethostname()}:{live.pid}:0", time.time(), True),
                                           ("node-far-away:4242:0", time.time(), True),
                                           ("node-far-away:4242:0", time.time() - shared_manifest.LEASE_S - 1, False)]:
                records.update(ids=[doc.doc_id], metadatas=[{"status": "indexing", "writer": writer, "updated": updated}])
                b.index.manifest.bump()  # as a write does when it begins
                assert all(h.chunk.doc_id != doc.doc_id for h in b.search("Buoy B3 deployed", 5))  # hidden while written
                problems = b.doctor(repair=True)
                kept = [d for d in b.documents() if d.source == "buoys/b3.md"]
                assert bool(kept) == alive, (writer, problems)
                assert bool(list(b.index.iter_chunks([doc.doc_id]))) == alive  # a live writer's chunks stay
        finally:
            live.kill()
        assert [f.status for f in b.ingest(docs, progress=False).files] == ["added"]  # taken over after the writer left
        assert b.search("Buoy B3 deployed", 1)[0].chunk.source == "buoys/b3.md"
        assert b.doctor() == []


@pytest.mark.slow
def test_a_node_brings_its_keyword_index_up_to_date_with_only_what_changed(chroma_url: str, tmp_path: Path) -> None:
    import numpy as np

    from rag.store.bm25 import Bm25Index

    docs = _folder(tmp_path / "logbook", {
        "winch.md": "# Winch\n\nThe anchor winch Halvard-2 is greased every month.\n",
        "crane.md": "# Crane\n\nThe deck crane Brimsey lifts at most 2 tonnes.\n",
        "radio.md": "# Radio\n\nThe VHF radio Skua-7 is tested every Monday at 09:00.\n"})
    a, b = _node(tmp_path / "node-a", chroma_url), _node(tmp_path / "node-b", chroma_url)
    try:
        a.ingest(docs, progress=False)
        assert b.search("Brimsey crane", 1)[0].chunk.source == "logbook/crane.md"
        (docs / "winch.md").write_text("# Winch\n\nThe anchor winch Halvard-2 is greased every week since the refit.\n")
        (docs / "radio.md").unlink()
        (docs / "pump.md").write_text("# Pump\n\nThe fire pump Tarnvik-9 is run for ten minutes every Friday.\n")
        a.ingest(docs, progress=False)
        assert b.search("Tarnvik-9 fire pump", 1)[0].chunk.source == "logbook/pump.md"
        caught_up = b.index.bm25()
        assert caught_up.how == "updated"  # only the changed documents were read again
        assert not caught_up.knows("skua")  # the deleted file's words are gone
        full = Bm25Index.build(list(b.index.iter_chunks()), 1.2, 0.75, caught_up.stamp)
        boosts = b.retriever.boosts
        for query in ("anchor winch greased week", "Skua-7 radio", "fire pump Friday", "crane tonnes"):
            mine = dict(zip(caught_up.ids, caught_up.scores(query, boosts).tolist()))
            assert mine.keys() == set(full.ids)
            assert np.allclose([mine[i] for i in full.ids], full.scores(query, boosts), atol=1e-6)
    finally:
        a.close()
        b.close()


def test_documents_a_node_kept_in_its_local_manifest_move_to_the_server(chroma_url: str, tmp_path: Path) -> None:
    """An index used with a Chroma server before the manifest moved there kept its documents locally: they join the
    server's list once, and leave the local file (else one deleted by another node would come back)."""
    from rag.store.manifest import DocRecord, Manifest

    folder = tmp_path / "node-old"
    folder.mkdir()
    old = Manifest(folder / "manifest.sqlite3")
    old.upsert([DocRecord("olddoc0001", "old/notes.md", "/data/old/notes.md", "ab" * 32, 120, 1.0, "ok", "", 0, "Notes",
                          {"recipe": "r1"})], "ok")
    old.close()
    with _node(folder, chroma_url) as node:
        (moved,) = [d for d in node.documents() if d.doc_id == "olddoc0001"]
        assert (moved.source, moved.sha256, moved.meta) == ("old/notes.md", "ab" * 32, {"recipe": "r1"})
        assert node.index.manifest.local.documents() == []
