"""End to end: retrieval, the real packaged GGUF model through llama.cpp, citations."""

from rag.types import AnswerDone, RetrievalDone, Token


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


def test_stream_yields_retrieval_then_tokens_then_answer(sample_rag) -> None:  # noqa: ANN001
    events = list(sample_rag.stream("Which work order replaced the fuel injector on generator G2?"))
    assert isinstance(events[0], RetrievalDone) and events[0].hits
    assert isinstance(events[-1], AnswerDone)
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert tokens
    assert "".join(tokens).strip() == events[-1].answer.text
    assert events[-1].answer.timings["first_token"] <= events[-1].answer.timings["total"]
