"""Any server speaking OpenAI's chat completions API: Ollama, llama-server, vLLM."""

from __future__ import annotations

from collections.abc import Iterator

from rag.core.errors import ModelError
from rag.llm.protocol import Message
from rag.llm.streams import chunk_texts
from rag.llm.tokens import TokenCounter


class OpenAICompatible:
    """Any server speaking OpenAI's chat completions API: Ollama, llama-server, vLLM (``generate.base_url``)."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 300.0):
        if not base_url:
            raise ModelError("generate.backend=openai needs generate.base_url, e.g. http://127.0.0.1:11434/v1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.last_usage: dict = {}
        self.count_tokens = TokenCounter()  # the API has no tokenizer endpoint: estimated

    def load(self) -> None:
        """Nothing to load here: the server holds the model (and may load it on its first request)."""

    @property
    def loaded(self) -> bool:
        return True

    def _request(self, body: dict):  # noqa: ANN202 - an http.client response
        import json
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, json.dumps({"model": self.model, **body}).encode(), headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise ModelError(f"{self.url} answered {exc.code}: {exc.read()[:300].decode(errors='replace')}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ModelError(f"cannot reach the LLM server at {self.url}: {getattr(exc, 'reason', exc)}") from None

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str:
        import json

        with self._request({"messages": messages, "max_tokens": max_tokens, "temperature": temperature}) as response:
            result = json.loads(response.read())
        self.last_usage = result.get("usage") or {}
        return result["choices"][0]["message"]["content"] or ""

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]:
        import json

        body = {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "stream": True,
                "stream_options": {"include_usage": True}}
        with self._request(body) as response:
            for raw in response:
                line = raw.decode("utf-8", errors="replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if chunk.get("usage"):
                    self.last_usage = chunk["usage"]
                yield from chunk_texts(chunk)
