"""End to end: retrieval, the real packaged GGUF model through llama.cpp, citations."""

import pytest

from rag.core.types import AnswerDone, RetrievalDone, Token


@pytest.mark.slow
def test_ask_answers_with_a_page_citation(sample_rag) -> None:  # noqa: ANN001
    answer = sample_rag.ask("What is the maximum significant wave height at which someone may board a buoy?")
    assert not answer.abstained
    assert "0.8" in answer.text
    cited = {(c.source, c.page) for c in answer.citations}
    assert ("sample_docs/buoy-equipment-specification.pdf", 4) in cited
    for c in answer.citations:
        hit = next(h for h in answer.passages if h.chunk.id == c.chunk_id)
        # the quoted span lies inside the cited chunk, at the offsets the citation gives
        assert hit.chunk.char_start <= c.char_start < c.char_end <= hit.chunk.char_end
        assert c.quote in hit.chunk.text


@pytest.mark.slow
def test_stream_yields_retrieval_then_tokens_then_answer(sample_rag) -> None:  # noqa: ANN001
    events = list(sample_rag.stream("What was replaced on generator G2 under work order WO-1192?"))
    assert isinstance(events[0], RetrievalDone) and events[0].hits
    assert isinstance(events[-1], AnswerDone)
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert tokens
    assert "".join(tokens).strip() == events[-1].answer.text
    assert events[-1].answer.timings["first_token"] <= events[-1].answer.timings["total"]


def test_unrelated_question_abstains_without_the_llm(sample_rag) -> None:  # noqa: ANN001
    answer = sample_rag.ask("Quantum chromodynamics of gluon plasma")
    assert answer.abstained
    assert answer.text == sample_rag.config.generate.abstain_text
    assert answer.passages  # the closest passages are still listed
    assert "first_token" not in answer.timings  # the model was not asked


@pytest.mark.slow
def test_unanswerable_question_abstains(sample_rag) -> None:  # noqa: ANN001
    # the corpus never states a budget; the answer must say so rather than invent one
    answer = sample_rag.ask("What is the annual operating budget of Tarnwick Marine Research Station?")
    assert answer.abstained
    assert answer.text.startswith(sample_rag.config.generate.abstain_text)
    assert not answer.citations


@pytest.mark.slow
def test_follow_up_is_rewritten_into_a_standalone_question(sample_rag) -> None:  # noqa: ANN001
    history = [
        {"role": "user", "content": "Which buoys are in the offshore array?"},
        {"role": "assistant", "content": "The array has three buoys: B1, B2 and B3 [1]."},
    ]
    standalone = sample_rag.answerer.standalone_question("When was the third one deployed?", history)
    assert "B3" in standalone or "buoy" in standalone.lower()
    assert "deploy" in standalone.lower()
