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


@pytest.mark.slow
def test_ingest_search_ask_delete_against_a_chroma_server(chroma_url: str, tmp_path: Path) -> None:
    from rag.pipeline import Rag

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe supply ferry Kittiwake leaves the harbour at 14:30 every Thursday.\n")
    (docs / "kitchen.txt").write_text("The kitchen opens at seven and closes at nine.\n")
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
    from rag.pipeline import Rag

    with pytest.raises(RagError, match="Chroma server"):
        Rag.open(config=make_config(tmp_path / "idx", **{"index.chroma_url": f"http://127.0.0.1:{free_port()}"}))
