"""Generated metadata: acronyms (both orders, nesting, false positives), keyphrases, situated context."""

from pathlib import Path

import numpy as np
import pytest

from ingest.context import build_context, truncate_tokens
from ingest.metadata import acronyms_in, find_acronyms, keyphrases
from rag.core.types import Chunk


def test_acronyms_both_orders_and_nesting() -> None:
    text = (
        "Data goes through the Remote Telemetry Unit (RTU) first. "
        "The CTD (conductivity, temperature and depth) probe is lowered weekly. "
        "The Ground Control Station (GCS (formerly base)) logs it. "
        "Faults go to the Station Duty Officer (SDO, see Section 2)."
    )
    assert find_acronyms(text) == {
        "RTU": "Remote Telemetry Unit",
        "CTD": "conductivity, temperature and depth",
        "GCS": "Ground Control Station",
        "SDO": "Station Duty Officer",
    }


@pytest.mark.parametrize(
    "text",
    [
        "The pressure rises as shown (see Figure 2) in the chart.",
        "Each unit costs a lot (USD 40) per month.",
        "Readings were stable (e.g. in May) overall.",
        "The value doubled (2x) last year.",
        "We met Tom (TB) at noon.",  # letters that do not spell the words before it
    ],
)
def test_acronym_false_positives(text: str) -> None:
    assert find_acronyms(text) == {}


def test_acronyms_carried_to_chunks_using_the_short_form() -> None:
    known = {"RTU": "Remote Telemetry Unit", "SDO": "Station Duty Officer"}
    assert acronyms_in("Reset the RTU, then call.", known) == ("RTU=Remote Telemetry Unit",)
    assert acronyms_in("SDOs and RTUs", known) == ()  # whole words only
    known |= {"TCP/IP": "Transmission Control Protocol/Internet Protocol", "IP": "Internet Protocol", "R&D": "Research and Development"}
    assert [a.split("=")[0] for a in acronyms_in("a TCP/IP stack for R&D, and RTU-2", known)] == ["R&D", "RTU", "TCP/IP"]
    assert acronyms_in("IP only", known) == ("IP=Internet Protocol",)  # the longest form at a word wins, alone too


def test_a_query_gains_every_expansion_it_uses_and_every_short_form_it_spells_out() -> None:
    from rag.retrieval.acronyms import acronym_expansions

    known = {"TCP/IP": "Transmission Control Protocol/Internet Protocol", "IP": "Internet Protocol",
             "RTU": "Remote Telemetry Unit"}
    assert acronym_expansions("Reset the RTU over TCP/IP", known) == [
        "Transmission Control Protocol/Internet Protocol", "Internet Protocol", "Remote Telemetry Unit"]  # "IP" inside too
    assert acronym_expansions("Where is the remote telemetry unit?", known) == ["RTU"]
    assert acronym_expansions("RTUs and xRTU", known) == []


def test_keyphrases_occur_in_the_text() -> None:
    text = ("The desalination plant produces potable water for the station. Membrane filters in the desalination "
            "plant are replaced every ninety days, and the potable water tank is chlorinated weekly.")
    phrases = keyphrases(text, 5)
    assert 1 <= len(phrases) <= 5
    for phrase in phrases:
        assert phrase.lower() in text.lower()
    assert any("desalination" in p.lower() for p in phrases)


def _count(text: str) -> int:
    return len(text.split())


def test_context_respects_budget_and_never_replaces_the_chunk() -> None:
    chunk = Chunk(id="d:0", doc_id="d", text="The chunk itself.", source="a.md", title="Manual", section="2 Limits")
    summary = " ".join(["summary"] * 200)
    context = build_context(chunk, summary, "before " * 50, "after " * 50, budget=12, count=_count)
    assert _count(context) <= 12
    assert context.startswith("Manual > 2 Limits")
    assert truncate_tokens("one two three", 0, _count) == ""


def test_window_texts_always_hold_the_whole_chunk(sample_rag) -> None:  # noqa: ANN001
    from rag.indexing.vectors import window_texts

    embedder = sample_rag.embedder
    long_text = " ".join(f"Word{i}" for i in range(600))
    chunk = Chunk(id="d:0", doc_id="d", text=long_text, source="a.md", context="Manual > Limits | " + "context " * 40)
    windows = window_texts(chunk, embedder, True, overlap=16)
    assert len(windows) > 1
    for w in windows:
        assert w.startswith(chunk.context)
        assert embedder.count_tokens(w) <= embedder.max_tokens - 2
    covered = "".join(w[len(chunk.context) + 1 :] for w in windows)
    for word in ("Word0", "Word300", "Word599"):
        assert word in covered


def test_residual_vectors_are_unit_norm_and_differ_from_chunk_only(sample_rag) -> None:  # noqa: ANN001
    from rag.indexing.vectors import chunk_vectors

    chunk = Chunk(id="d:0", doc_id="d", text="Replace the membrane filters every ninety days.", source="a.md",
                  context="Desalination plant manual > Maintenance | The plant makes potable water.")
    plain = chunk_vectors([chunk], sample_rag.embedder, "none")[0]
    residual = chunk_vectors([chunk], sample_rag.embedder, "residual", alpha=0.5)[0]
    assert np.allclose(np.linalg.norm(residual, axis=1), 1.0, atol=1e-5)
    assert float(plain[0] @ residual[0]) < 0.999
    same = chunk_vectors([chunk], sample_rag.embedder, "residual", alpha=1.0)[0]
    assert np.allclose(same, plain, atol=1e-5)


def test_expansion_only_query_finds_acronym_only_chunk(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "glossary.md").write_text("# Glossary\n\nThe Harbour Tidal Gauge (HTG) measures sea level.\n")
    (docs / "log.md").write_text("# Log\n\n## March\n\nThe HTG was recalibrated after the storm on 4 March.\n\n"
                                 "## April\n\nThe kitchen freezer was defrosted and cleaned.\n")
    (docs / "other.md").write_text("# Tides\n\nSea level rises twice a day with the tide near the harbour.\n")
    rag = make_rag()
    rag.ingest(docs, progress=False)
    hits = rag.search("When was the harbour tidal gauge recalibrated?", 3)
    found = [h for h in hits[:2] if "recalibrated" in h.chunk.text]  # the definition itself may rank first
    assert found
    assert "HTG=Harbour Tidal Gauge" in found[0].chunk.acronyms
    assert found[0].scores["bm25"] > 0  # matched on the keyword side only through the expansion


def test_reingest_recomputes_contexts_acronyms_and_titles(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    body = "\n\n".join(f"## Part {i}\n\nThe RTU in bay {i} reports every {i + 5} minutes." for i in range(6))
    doc = docs / "manual.md"
    doc.write_text(f"# Harbour Manual\n\nThe Remote Telemetry Unit (RTU) sends data.\n\n{body}\n")
    rag = make_rag(**{"chunk.size": "200", "chunk.overlap": "0"})
    rag.ingest(docs, progress=False)
    before = list(rag.index.iter_chunks())
    assert len(before) > 3
    assert all(c.title == "Harbour Manual" for c in before)
    assert all("RTU=Remote Telemetry Unit" in c.acronyms for c in before if "RTU" in c.text)
    doc.write_text(f"# Quay Handbook\n\nThe Radio Transfer Unit (RTU) sends data.\n\n{body}\n")
    rag.ingest(docs, progress=False)
    after = list(rag.index.iter_chunks())
    assert all(c.title == "Quay Handbook" for c in after)  # a document-level change reaches every chunk
    assert all("Harbour Manual" not in c.context for c in after)
    assert all("RTU=Radio Transfer Unit" in c.acronyms for c in after if "RTU" in c.text)
    assert rag.acronyms.current["RTU"] == "Radio Transfer Unit"


def test_a_later_glossary_reaches_earlier_documents_and_leaves_with_them(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "log.md").write_text("# Log\n\nThe HTG was recalibrated after the storm on 4 March.\n")
    (docs / "menu.md").write_text("# Menu\n\nSoup is served at noon in the galley.\n")
    rag = make_rag()
    rag.ingest(docs, progress=False)
    assert all(not c.acronyms for c in rag.index.iter_chunks())
    (docs / "glossary.md").write_text("# Glossary\n\nThe Harbour Tidal Gauge (HTG) measures sea level.\n")
    rag.ingest(docs, progress=False)  # only the glossary is new; the log's chunk gains the definition
    by_source = {c.source: c for c in rag.index.iter_chunks()}
    assert by_source["docs/log.md"].acronyms == ("HTG=Harbour Tidal Gauge",)
    assert by_source["docs/menu.md"].acronyms == ()
    rag.delete("docs/glossary.md")
    assert next(c for c in rag.index.iter_chunks() if c.source == "docs/log.md").acronyms == ()
    assert "HTG" not in rag.acronyms.current


def test_new_chunks_join_stored_topics_until_the_corpus_grows(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    from rag.indexing.topics import TopicModel

    docs = tmp_path / "docs"
    docs.mkdir()
    subjects = ["pump pressure valves", "galley menu soup", "tide gauge sea level"]
    for n in range(24):
        (docs / f"note{n}.md").write_text(f"# Note {n}\n\nThis note is about {subjects[n % 3]} and more {subjects[n % 3]}.\n")
    rag = make_rag()
    rag.ingest(docs, progress=False)
    model = TopicModel.load(rag.index.path / "topics.npz")
    assert model is not None and model.fitted_on == 24
    labels = {c.source: c.topics for c in rag.index.iter_chunks()}
    (docs / "note24.md").write_text("# Note 24\n\nThis note is about galley menu soup and more galley menu soup.\n")
    rag.ingest(docs, progress=False)  # 25 chunks: within a quarter of 24, so no new clustering
    assert TopicModel.load(rag.index.path / "topics.npz").fitted_on == 24
    after = {c.source: c.topics for c in rag.index.iter_chunks()}
    assert {s: t for s, t in after.items() if s != "docs/note24.md"} == labels
    assert after["docs/note24.md"] == labels["docs/note1.md"]  # joined the galley notes' topic
    for n in range(25, 40):
        (docs / f"note{n}.md").write_text(f"# Note {n}\n\nThis note is about {subjects[n % 3]}.\n")
    rag.ingest(docs, progress=False)
    assert TopicModel.load(rag.index.path / "topics.npz").fitted_on == 40  # grown by more than a quarter: refit
