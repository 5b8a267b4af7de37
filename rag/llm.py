"""Local LLM backends behind one small protocol: ``stream(messages) -> Iterator[str]`` and ``complete``.

The default runs GGUF files with llama.cpp through xllamacpp (a prebuilt CPU wheel). Its streaming call blocks
and reports chunks through a callback, so a worker thread hands them to a generator over a queue.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rag.errors import ModelError

log = logging.getLogger(__name__)

Message = dict[str, str]

# llama.cpp threads still generating when the interpreter exits (a reply nobody reads any more, e.g. after Ctrl-C)
# call back into Python after finalization has begun, and the process aborts ("FATAL: exception not rethrown");
# waiting for them at exit ends the process cleanly
_STREAM_THREAD = "llm-stream"


@atexit.register
def _finish_streams(timeout: float = 60.0) -> None:
    for thread in threading.enumerate():
        if thread.name == _STREAM_THREAD:
            thread.join(timeout)


class Generator(Protocol):
    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]: ...

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str: ...


CHARS_PER_TOKEN = 3.2  # conservative for English prose with Qwen's tokenizer (an estimate errs on the long side)


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def gguf_tokenizer(gguf: Path):  # noqa: ANN201 - a transformers tokenizer
    """The tokenizer inside a GGUF file, as a transformers fast tokenizer. Converting it from the GGUF takes
    10-20 s, so the result is saved next to the model and later loads take well under a second."""
    from transformers import AutoTokenizer

    saved = gguf.with_suffix(".tokenizer")
    if (saved / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(str(saved))
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tmp = saved.with_name(saved.name + f".tmp{os.getpid()}")
    tokenizer.save_pretrained(str(tmp))
    try:
        os.replace(tmp, saved)  # atomic: a concurrent process finds a whole folder or none
    except OSError:  # another process saved it first
        shutil.rmtree(tmp, ignore_errors=True)
    return tokenizer


class TokenCounter:
    """Counts tokens with a backend's own tokenizer once it is loaded (in the background: the first
    questions need not wait for it); until then, and where none exists, a conservative estimate."""

    def __init__(self, load: Callable[[], object] | None = None):
        self._tokenizer: object | None = None
        self.exact = False
        self.ready = threading.Event()  # set once loading has succeeded or failed
        if load is None:
            self.ready.set()
        else:
            # not a daemon: a process that exits while the tokenizer is still loading waits for it (seconds, once per
            # model), because a daemon thread frozen mid-import at shutdown can deadlock torch's exit-time finalizers
            threading.Thread(target=self._load, args=(load,), name="tokenizer").start()

    def _load(self, load: Callable[[], object]) -> None:
        try:
            self._tokenizer = load()
            self.exact = True
        except Exception as exc:  # noqa: BLE001 - any failure leaves the estimate in place
            log.warning("token counts are estimated: the model's tokenizer could not be loaded (%s)", exc)
        finally:
            self.ready.set()

    def __call__(self, text: str) -> int:
        tokenizer = self._tokenizer
        if tokenizer is None:
            return estimate_tokens(text)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])  # type: ignore[operator]


class LlamaCpp:
    """A GGUF model served in-process by llama.cpp. Thread safe; ``n_parallel`` requests run at once."""

    def __init__(self, gguf: Path, n_ctx: int = 4096, threads: int = 0, n_parallel: int = 1):
        self.gguf = gguf
        self.n_ctx = n_ctx
        self.threads = threads or min(os.cpu_count() or 2, 8)
        self.n_parallel = n_parallel
        self._server = None
        self._lock = threading.Lock()
        self.last_usage: dict = {}
        self.count_tokens = TokenCounter(lambda: gguf_tokenizer(gguf))

    def _load(self):  # noqa: ANN202 - xllamacpp has no stubs
        with self._lock:
            if self._server is None:
                try:
                    import xllamacpp as xlc
                except ImportError:
                    raise ModelError("the llama.cpp backend needs the package xllamacpp (pip install xllamacpp)") from None
                params = xlc.CommonParams()
                params.model.path = str(self.gguf)
                params.n_ctx = self.n_ctx * self.n_parallel
                params.n_parallel = self.n_parallel
                params.cpuparams.n_threads = self.threads
                params.cpuparams_batch.n_threads = self.threads
                params.warmup = False
                params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
                try:
                    self._server = xlc.Server(params)
                except Exception as exc:  # the binding raises RuntimeError/ValueError variants
                    raise ModelError(f"llama.cpp could not load {self.gguf}: {exc}") from None
                log.info("loaded %s (n_ctx %d, %d threads)", self.gguf.name, self.n_ctx, self.threads)
        return self._server

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str:
        server = self._load()
        result = server.handle_chat_completions(
            {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "cache_prompt": True}
        )
        if "error" in result:
            raise ModelError(f"generation failed: {result['error']}")
        self.last_usage = result.get("usage", {})
        return result["choices"][0]["message"]["content"] or ""

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]:
        server = self._load()
        chunks: queue.Queue = queue.Queue()
        done = object()

        def on_chunk(chunk: dict) -> None:
            chunks.put(chunk)

        def work() -> None:
            try:
                server.handle_chat_completions(
                    {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "stream": True,
                     "cache_prompt": True, "stream_options": {"include_usage": True}},
                    on_chunk,
                )
            except Exception as exc:  # surfaced in the consumer's thread
                chunks.put(exc)
            finally:
                chunks.put(done)

        threading.Thread(target=work, daemon=True, name=_STREAM_THREAD).start()
        while (item := chunks.get()) is not done:
            if isinstance(item, Exception):
                raise ModelError(f"generation failed: {item}")
            if "error" in item:
                raise ModelError(f"generation failed: {item['error']}")
            if item.get("usage"):
                self.last_usage = item["usage"]
            for choice in item.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield text


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
                for choice in chunk.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield text


class Transformers:
    """Any causal LM that transformers loads: a local folder, a Hub id (with a network), or a GGUF file
    (``path/to/model.gguf``: dequantised to fp32, so slower than llama.cpp)."""

    def __init__(self, model: str, threads: int = 0):
        self.model_name = model
        self.threads = threads
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self.last_usage: dict = {}
        self.count_tokens = TokenCounter(lambda: self._load()[1])

    def _load(self):  # noqa: ANN202
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                if self.threads:
                    torch.set_num_threads(self.threads)
                path = Path(self.model_name)
                kwargs = {"gguf_file": path.name} if path.suffix == ".gguf" else {}
                where = str(path.parent) if kwargs else self.model_name
                try:
                    self._tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
                    self._model = AutoModelForCausalLM.from_pretrained(where, **kwargs)
                except OSError as exc:
                    raise ModelError(f"transformers cannot load {self.model_name!r}: {exc}") from None
        return self._model, self._tokenizer

    def _inputs(self, messages: list[Message]):  # noqa: ANN202
        model, tokenizer = self._load()
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        self.last_usage = {"prompt_tokens": int(ids["input_ids"].shape[-1])}
        return model, tokenizer, ids

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str:
        return "".join(self.stream(messages, max_tokens, temperature))

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        model, tokenizer, inputs = self._inputs(messages)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        worker = threading.Thread(target=model.generate, kwargs={**inputs, "max_new_tokens": max_tokens, "streamer": streamer, **sampling},
                                  daemon=True)
        worker.start()
        yield from (text for text in streamer if text)
        worker.join()


class Queued:
    """A generator that serves at most ``concurrency`` requests at once; the others wait in line.

    Eight chats on a 2-core machine must not run eight prompts through one model together: retrieval runs
    side by side, generation takes turns. ``last_usage`` is per thread, so concurrent callers read their own.
    """

    def __init__(self, inner: Generator, concurrency: int = 1):
        self.inner = inner
        self.count_tokens: TokenCounter = getattr(inner, "count_tokens", None) or TokenCounter()
        self._gate = threading.BoundedSemaphore(max(1, concurrency))
        self._usage = threading.local()

    @property
    def last_usage(self) -> dict:
        return getattr(self._usage, "value", {})

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str:
        with self._gate:
            text = self.inner.complete(messages, max_tokens, temperature)
            self._usage.value = dict(getattr(self.inner, "last_usage", {}))
        return text

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]:
        # a worker holds the gate, not this generator: a consumer that stops reading (a closed browser tab, a
        # caller that breaks out early) must not keep the queue locked while its generator sits unfinished
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def produce() -> None:
            with self._gate:
                try:
                    for piece in self.inner.stream(messages, max_tokens, temperature):
                        if stop.is_set():
                            break
                        pieces.put(piece)
                    pieces.put(_Finished(dict(getattr(self.inner, "last_usage", {}))))
                except Exception as exc:  # noqa: BLE001 - handed to the consumer's thread
                    pieces.put(exc)

        threading.Thread(target=produce, daemon=True, name="llm-queue").start()
        try:
            while True:
                item = pieces.get()
                if isinstance(item, _Finished):
                    self._usage.value = item.usage
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            stop.set()


@dataclass(frozen=True)
class _Finished:
    usage: dict


BACKENDS = ("llamacpp", "openai", "transformers")
_loaded: dict[tuple, Queued] = {}
_loaded_lock = threading.Lock()


def load_generator(
    backend: str, model: str, n_ctx: int, threads: int, cache_dir: Path | None = None, base_url: str = "", api_key: str = "",
    concurrency: int = 1,
) -> Queued:
    """The generator for a config, loaded once per process and shared by every index that uses it (and so is
    its queue: ``concurrency`` requests at once, for the whole process)."""
    from rag.models import resolve_gguf

    if backend not in BACKENDS:
        raise ModelError(f"generate.backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    key = (backend, model, n_ctx, threads, base_url, concurrency)
    with _loaded_lock:
        if key not in _loaded:
            inner: Generator
            if backend == "llamacpp":
                inner = LlamaCpp(resolve_gguf(model, cache_dir), n_ctx=n_ctx, threads=threads)
            elif backend == "openai":
                inner = OpenAICompatible(base_url, model, api_key)
            else:
                inner = Transformers(model, threads)
            _loaded[key] = Queued(inner, concurrency)
        return _loaded[key]
