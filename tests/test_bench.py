"""`rag bench --size 40` on a small generated corpus runs end to end, with the given config, and writes a well-formed report."""

import json
import re
from pathlib import Path

import pytest

from rag.cli import main


@pytest.mark.slow
def test_bench_small_corpus_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    toml = tmp_path / "rag.toml"
    toml.write_text("[rerank]\ncandidates = 12\n")
    assert main(["bench", "--size", "40", "--queries", "5", "--out", str(out), "--config", str(toml)]) == 0
    report = json.loads((out / "bench.json").read_text())
    assert report["meta"]["config"]["rerank.candidates"] == 12  # --config reaches our side, not only -o
    assert report["meta"]["cpu"]["cores"] and report["meta"]["command"].startswith("rag bench")
    (row,) = report["sizes"]
    assert row["size"] == 40 and row["queries"] == 5
    ours = row["ours"]
    assert 28 <= ours["chunks"] <= 56
    assert 0 < ours["share_outside_embedding"] < 1
    for name in ("bm25", "dense", "hybrid", "hybrid+rerank (first pass)", "hybrid+rerank"):
        assert ours["latency"][name]["p50_ms"] <= ours["latency"][name]["p95_ms"]
    lc = row["langchain"]
    assert lc["chunks"] > 0 and lc["latency"]["hybrid"]["p50_ms"] > 0
    table = (out / "bench.md").read_text()
    assert "| 40 | situated-rag |" in table and "| 40 | LangChain recipe |" in table
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_sections_follow_section_chars(tmp_path: Path) -> None:
    from rag.bench.bench import write_corpus

    sample = Path(__file__).resolve().parent.parent / "sample_docs"
    write_corpus(tmp_path / "short", 20, sample, section_chars=300)
    write_corpus(tmp_path / "long", 20, sample)
    def mean_section(folder: Path) -> float:
        sections = [s for f in folder.glob("*.md") for s in re.split(r"^## Entry", f.read_text(), flags=re.M)[1:]]
        assert len(sections) == 20
        return sum(len(s) for s in sections) / len(sections)
    assert 250 <= mean_section(tmp_path / "short") <= 450 < 700 <= mean_section(tmp_path / "long")


def test_bench_corpus_of_many_small_files_defining_acronyms(tmp_path: Path) -> None:
    from rag.bench.bench import write_corpus

    write_corpus(tmp_path, 60, Path(__file__).resolve().parent.parent / "sample_docs", files=30, acronyms=12)
    files = sorted(tmp_path.glob("*.md"))
    assert len(files) == 30
    defined = [re.search(r"The ([A-Z][a-z]+(?: [A-Z][a-z]+){2,4}) \(([A-Z]{3,5})\) is logged here", f.read_text()) for f in files]
    assert all(defined)
    pairs = {m.group(2): m.group(1) for m in defined}
    assert len(pairs) == 12 and all("".join(w[0] for w in long.split()) == short for short, long in pairs.items())
