"""A stand-in for an OpenAI-compatible LLM server (llama-server, Ollama, vLLM) on 127.0.0.1.

It is the other side of an HTTP protocol, not a part of this project: ``reply(body)`` decides the answer's
pieces, ``delay`` slows each piece so overlapping requests can be observed, and the server records every
request and the most requests it ever served at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class FakeServer:
    url: str
    seen: list[dict] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    written: int = 0  # answer pieces sent to a reader still listening


@contextmanager
def fake_openai(reply: Callable[[dict], list[str]], delay: float = 0.0) -> Iterator[FakeServer]:
    lock = threading.Lock()
    state = FakeServer("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                state.in_flight += 1
                state.most_in_flight = max(state.most_in_flight, state.in_flight)
            try:
                self._answer(body, reply(body))
            finally:
                with lock:
                    state.in_flight -= 1

        def _answer(self, body: dict, pieces: list[str]) -> None:
            if not body.get("stream"):
                time.sleep(delay * len(pieces))
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": "".join(pieces)}}],
                                      "usage": {"prompt_tokens": 42}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                for piece in pieces:
                    time.sleep(delay)
                    chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    with lock:
                        state.written += 1
                usage = {"choices": [], "usage": {"prompt_tokens": 42, "completion_tokens": len(pieces)}}
                self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
            except (BrokenPipeError, ConnectionResetError):  # the reader went away: a server stops generating
                return

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield state
    finally:
        httpd.shutdown()


@contextmanager
def app_over_fake(make_rag: Callable[..., Any], docs: Path, reply: Callable[[dict], list[str]],
                  delay: float = 0.0, **options: str) -> Iterator[tuple[FakeServer, str]]:
    """The app serving an index of ``docs`` whose language model is a fake server answering with ``reply``: the
    server and the app's URL. ``options`` are further settings ("ui.username": ...)."""
    from tests.conftest import free_port
    from ui.app import serve

    with fake_openai(reply, delay=delay) as llm:
        rag = make_rag(**{"generate.backend": "openai", "generate.base_url": llm.url, "generate.model": "any",
                          "ui.port": str(free_port()), **options})
        rag.ingest(docs, progress=False)
        app, url = serve(rag, block=False)
        try:
            yield llm, url
        finally:
            app.close()
