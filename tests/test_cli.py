"""The `rag` command, run in-process through its entry point."""

import json
from pathlib import Path

import pytest

from rag.cli import main
from tests.conftest import TEST_MODEL


def _beir(folder: Path) -> Path:
    folder.mkdir()
    docs = {"d1": "The lighthouse lamp is cleaned every Monday.", "d2": "Bread is baked with rye flour.",
            "d3": "The ferry leaves the harbour at noon.", "d4": "Solar panels charge the station batteries."}
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()))
    queries = {"q1": "When is the lighthouse lamp cleaned?", "q2": "What time does the ferry depart?"}
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()))
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    return folder


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_eval_beir_writes_named_metrics(tmp_path: Path, mode: str) -> None:
    out = tmp_path / "m.json"
    assert main(["eval", str(_beir(tmp_path / "beir")), "--json", str(out), "-o", f"retrieval.mode={mode}"]) == 0
    metrics = json.loads(out.read_text())
    for key in ("ndcg@10", "recall@1", "recall@3", "recall@5", "recall@10", "recall@20", "mrr@10", "pass@5", "pass@10", "pass@20",
                "latency_p50_ms", "latency_p95_ms"):
        assert key in metrics
    assert metrics["n_queries"] == 2
    assert metrics["config"]["retrieval.mode"] == mode
    assert metrics["recall@1"] == 1.0


def test_ingest_search_list_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Boats\n\nThe RIB Osprey carries six people.\n")
    (docs / "b.txt").write_text("The kitchen opens at seven.\n")
    (docs / "bad.pdf").write_bytes(b"not a pdf")
    index = str(tmp_path / "idx")
    assert main(["ingest", str(docs), "--index", index, "--quiet"]) == 1  # one file failed
    captured = capsys.readouterr()
    assert "2 added" in captured.out and "1 failed" in captured.out
    assert "bad.pdf" in captured.err and "corrupt" in captured.err
    assert main(["search", "how many people does Osprey carry", "--index", index, "--json", "--k", "2"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0]["source"] == "docs/a.md" and results[0]["page"] == 1 and results[0]["rank"] == 1
    assert main(["list", "--index", index]) == 0
    listing = capsys.readouterr().out
    assert "docs/a.md" in listing and "failed" in listing
    assert main(["delete", "docs/a.md", "--index", index]) == 0
    assert "the file stays" in capsys.readouterr().out
    assert main(["list", "--index", index, "--json"]) == 0
    listed = {d["source"]: (d["status"], d["chunks"]) for d in json.loads(capsys.readouterr().out)}
    assert listed["docs/a.md"] == ("excluded", 0)  # deleted by the user: a re-sync leaves it out
    assert main(["search", "how many people does Osprey carry", "--index", index, "--json", "--k", "2"]) == 0
    assert all(r["source"] != "docs/a.md" for r in json.loads(capsys.readouterr().out))


def test_errors_are_clear_and_exit_nonzero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "anything", "--index", str(tmp_path / "empty")]) == 2
    assert "is empty" in capsys.readouterr().err
    assert main(["eval", str(tmp_path), "-o", "retrieval.mode=fast"]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_ask_prints_answer_and_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe supply ferry Kittiwake leaves the harbour at 14:30 every Thursday.\n")
    index = str(tmp_path / "idx")
    assert main(["ingest", str(docs), "--index", index, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["ask", "When does the supply ferry leave?", "--index", index, "-o", f"generate.model={TEST_MODEL}"]) == 0
    out = capsys.readouterr().out
    assert "14:30" in out
    assert "docs/ferry.md p.1" in out
    # nothing in the documents comes near: the model is not asked, and the reply still says so
    assert main(["ask", "Who won the football world cup in 1998?", "--index", index, "-o", f"generate.model={TEST_MODEL}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("I could not find this in the documents")
    assert "Closest passages" in out
    assert main(["doctor", "--index", index, "--models", "-o", f"generate.model={TEST_MODEL}"]) == 0
    embedder, generator, ocr = capsys.readouterr().out.splitlines()[-3:]
    assert embedder.startswith("embedder: minilm in ") and "GiB resident" in embedder
    assert generator.startswith(f"generator: {TEST_MODEL} on ") and "GiB resident (this process: " in generator
    assert ocr.startswith("ocr: Tesseract 5.") and ", eng (models in " in ocr


def _serve_until_listening(indexes: list[Path], model: str) -> str:
    """What `rag serve` prints up to the line that says it listens; the server is stopped then."""
    import socket
    import subprocess
    import sys
    import threading

    from tests.conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    named = [arg for index in indexes for arg in ("--index", str(index))]
    command = [sys.executable, "-m", "rag", "serve", *named, "--port", str(port), "-o", f"generate.model={model}"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(600, proc.kill)  # a server that never comes up fails the test instead of hanging it
    watchdog.start()
    lines = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "serving on" in line:
                break
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(60)
    return "".join(lines)


@pytest.mark.slow
def test_serve_loads_the_model_before_it_listens_and_still_serves_when_the_model_will_not_load(tmp_path: Path) -> None:
    out = _serve_until_listening([tmp_path / "idx"], TEST_MODEL)
    assert "serving on" in out
    assert out.index("language model ready") < out.index("serving on"), out[-2000:]
    missing = tmp_path / "missing.gguf"
    # several indexes are served as collections: one named, and each index in a folder of indexes
    from rag import Rag
    from tests.conftest import make_config

    Rag.open(config=make_config(tmp_path / "clients" / "acme")).close()
    out = _serve_until_listening([tmp_path / "idx", tmp_path / "clients"], str(missing))
    assert "warning:" in out and str(missing) in out, out[-2000:]
    assert "serving on" in out  # search and the documents still work
    assert f"collections idx: {tmp_path / 'idx'}, acme: {tmp_path / 'clients' / 'acme'}" in out


def test_serve_on_a_taken_port_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--index", str(tmp_path / "idx"), "--port", str(port), "-o", f"generate.model={TEST_MODEL}"]) == 2
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{port}" in err and "--port" in err
