"""Hybrid retrieval over the bundled sample documents, with the real MiniLM and a real Chroma."""

import pytest


def test_keyword_only_match(sample_rag) -> None:  # noqa: ANN001
    # an identifier that only the keyword side can match exactly
    hits = sample_rag.search("uplink_window_min", 5)
    assert "uplink_window_min" in hits[0].chunk.text
    assert "bm25" in hits[0].scores


def test_paraphrase_only_match(tmp_path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pets.md").write_text("# Pet care\n\nThe canine must be walked twice daily, morning and evening.\n")
    (docs / "garden.md").write_text("# Garden\n\nWater the tomatoes every second day in summer.\n")
    (docs / "cars.md").write_text("# Cars\n\nRotate the tyres every ten thousand kilometres.\n")
    rag = make_rag()
    rag.ingest(docs, progress=False)
    query = "How often should my dog go out for exercise?"
    # the keyword side shares no term with the answer passage...
    pets = rag.search("canine", 1)[0].chunk
    assert pets.id not in dict(rag.index.bm25().search(query, 10, rag.retriever.boosts))
    # ...yet hybrid retrieval ranks it first through the dense side
    top = rag.search(query, 3)[0]
    assert "canine" in top.chunk.text
    assert "dense" in top.scores


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_modes_return_deduplicated_hits_cut_to_k(sample_rag, mode: str) -> None:  # noqa: ANN001
    from rag.retrieval.retriever import Retriever

    retriever = Retriever(sample_rag.index, sample_rag.embedder.encode_query, sample_rag.config.retrieval.__class__(mode=mode),
                          sample_rag.config.bm25, sample_rag.acronyms)
    hits = retriever.search("generator fuel injector replaced", 7).hits
    assert len(hits) == 7
    assert len({h.chunk.id for h in hits}) == 7
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_acronym_expansion_in_query(sample_rag) -> None:  # noqa: ANN001
    acronyms = sample_rag.acronyms.current
    assert acronyms.get("RTU") == "Remote Telemetry Unit"
    from rag.retrieval.acronyms import acronym_expansions

    assert "Remote Telemetry Unit" in acronym_expansions("How often does the RTU report?", acronyms)
    assert acronym_expansions("Who is the Station Duty Officer?", acronyms) == ["SDO"]


def test_onnx_query_vectors_match_pytorch(sample_rag, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import numpy as np

    from rag.models.embedder import Embedder, OnnxQueries

    monkeypatch.setenv("RAG_HOME", str(tmp_path))  # a fresh export, not one left by another run
    onnx = Embedder(query_onnx=True)
    torch_only = sample_rag.embedder.__class__(query_onnx=False)
    for query in ("salinity drift", "Which pump failed after the storm on the north jetty, and who replaced it?"):
        assert np.abs(onnx.encode_query(query) - torch_only.encode_query(query)).max() < 1e-5
    assert isinstance(onnx._onnx, OnnxQueries)
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 1
    assert onnx.encode_query("x" * 5000).shape == (onnx.dim,)  # longer than the model reads: truncated, as PyTorch does
    assert np.abs(onnx.encode_query("x" * 5000) - torch_only.encode_query("x" * 5000)).max() < 1e-5


def test_bf16_vectors_match_fp32_ones_and_auto_follows_this_cpus_measurement(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import numpy as np

    from rag.models.bf16_probe import Bf16Probe, keep, measure, probe_texts, stored
    from rag.models.cpu import bf16_supported, cpu_model
    from rag.models.embedder import Embedder

    monkeypatch.setenv("RAG_HOME", str(tmp_path))  # no measurement kept by another run
    texts = [*probe_texts(4), "Which pump failed after the storm on the north jetty?", "salinity drift", "B3 | 2 August 2023"]
    fp32, bf16 = Embedder(dtype="fp32", query_onnx=False), Embedder(dtype="bf16", query_onnx=False)
    cosines = np.sum(fp32.encode(texts) * bf16.encode(texts), axis=1)
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert cosines.min() >= 0.999  # rankings the same to the third decimal either way

    probe = measure(fp32.model, texts)
    assert probe.min_cosine >= 0.999 and probe.fp32_per_s > 0 and probe.bf16_per_s > 0
    assert probe.bf16 == (probe.bf16_per_s >= 1.15 * probe.fp32_per_s)
    auto = Embedder(dtype="auto", query_onnx=False)
    auto.encode(["x"])
    if bf16_supported():  # measured once, kept, and followed
        assert auto.probe is not None and stored("minilm", 256) == auto.probe
        assert auto.precision == ("bf16" if auto.probe.bf16 else "fp32")
    else:  # nothing to measure: no bf16 hardware
        assert auto.probe is None and auto.precision == "fp32" and not (tmp_path / "probes").exists()
    keep(Bf16Probe(10.0, 30.0, 0.9995, cpu_model(), ()), "other", 128)
    assert stored("other", 128) == Bf16Probe(10.0, 30.0, 0.9995, cpu_model(), ())
    keep(Bf16Probe(10.0, 30.0, 0.9995, "another CPU", ()), "other", 128)  # a cache folder carried to another machine
    assert stored("other", 128) is None
