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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from rag.errors import ModelError

log = logging.getLogger(__name__)

Message = dict[str, str]
T = TypeVar("T")

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
    def load(self) -> None: ...  # what the first request would otherwise wait for

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]: ...

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str: ...


CHARS_PER_TOKEN = 3.2  # conservative for English prose with Qwen's tokenizer (an estimate errs on the long side)


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


# transformers 5 imports its classes lazily, on first use, and two threads doing that at once can fail with
# "cannot import name 'AutoModelForCausalLM'" (seen 1 run in 6 with the tokenizer thread and the model loader under
# CPU load). Whatever loads from transformers holds this lock.
_TRANSFORMERS = threading.RLock()


def gguf_tokenizer(gguf: Path):  # noqa: ANN201 - a transformers tokenizer
    """The tokenizer inside a GGUF file, as a transformers fast tokenizer. Converting it from the GGUF takes
    10-20 s, so the result is saved next to the model and later loads take well under a second."""
    with _TRANSFORMERS:
        from transformers import AutoTokenizer

        return _converted_once(gguf.with_suffix(".tokenizer"), "tokenizer.json", AutoTokenizer.from_pretrained,
                               lambda: AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name))


def _converted_once(saved: Path, marker: str, load: Callable[[str], T], convert: Callable[[], T]) -> T:
    """What ``convert`` makes from a GGUF, saved in the folder ``saved`` so that later loads skip the conversion.
    A concurrent process finds a whole folder or none; a place that cannot be written only costs the saving."""
    if (saved / marker).exists():
        return load(str(saved))
    made = convert()
    tmp = saved.with_name(saved.name + f".tmp{os.getpid()}")
    try:
        made.save_pretrained(str(tmp))  # type: ignore[attr-defined]
        os.replace(tmp, saved)  # atomic
    except (OSError, ValueError) as exc:  # another process saved it first, a read-only folder, an unsavable model
        shutil.rmtree(tmp, ignore_errors=True)
        if not (saved / marker).exists():
            log.warning("could not save %s (%s): it will be converted again next time", saved, exc)
    return made


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

    def load(self) -> None:
        self._load()

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

    def load(self) -> None:
        """Nothing to load here: the server holds the model (and may load it on its first request)."""

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
    (a packaged name or ``path/to/model.gguf``, dequantised at load: a minute for the 1.5B).

    Where the CPU computes bf16 in hardware (AMX, AVX512-BF16) the weights are held in bf16 and torch reads a
    prompt several times faster than the prebuilt llama.cpp wheel, which uses AVX2 only; the answer is written
    with int8 copies of the weights (``int8_writing``), since each written token reads them all from memory
    (docs/benchmarks.md)."""

    def __init__(self, model: str, threads: int = 0, dtype: str = "auto", int8_writing: bool = True):
        from rag.models import DTYPES

        if dtype not in DTYPES:
            raise ModelError(f"generate.dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
        self.model_name = model
        self.threads = threads
        self.dtype = dtype
        self.int8_writing = int8_writing
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self._previous: tuple[list[int], object] | None = None  # the last prompt's token ids and attention cache
        self.last_usage: dict = {}
        path = Path(model)
        # a GGUF's tokenizer is converted once and saved beside it; a folder's or Hub id's loads with the model
        self.count_tokens = TokenCounter(lambda: gguf_tokenizer(path) if path.suffix == ".gguf" else self._load()[1])

    def _load(self):  # noqa: ANN202
        with self._lock, _TRANSFORMERS:
            if self._model is None:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                from rag.models import uses_bf16

                if self.threads:
                    torch.set_num_threads(self.threads)
                bf16 = uses_bf16(self.dtype, auto=True)
                path = Path(self.model_name)
                gguf = path.suffix == ".gguf"
                dtype = torch.bfloat16 if bf16 else torch.float32

                def load(where: str, **kwargs: str):  # noqa: ANN202
                    with _quiet_transformers():  # its advice on packed GGUF kernels does not apply: we dequantise
                        return AutoModelForCausalLM.from_pretrained(where, dtype=dtype, **kwargs)

                try:
                    if gguf:  # dequantising takes most of a minute: the result is saved beside the GGUF
                        self._tokenizer = gguf_tokenizer(path)
                        self._model = _converted_once(path.with_suffix(".bf16" if bf16 else ".fp32"), "config.json",
                                                      load, lambda: _plain(load(str(path.parent), gguf_file=path.name)))
                    else:
                        self._tokenizer = AutoTokenizer.from_pretrained(self.model_name)
                        self._model = load(self.model_name)
                    self._model.eval()
                except (OSError, ValueError) as exc:
                    raise ModelError(f"transformers cannot load {self.model_name!r}: {exc}") from None
                int8 = self.int8_writing and bf16 and _int8_writing_available()
                if int8:  # after saving: the saved copy stays plain
                    _write_in_int8(self._model)
                log.info("loaded %s with transformers (%s%s)", self.model_name, "bf16" if bf16 else "fp32",
                         ", writes with int8 weights" if int8 else "")
        return self._model, self._tokenizer

    def load(self) -> None:
        self._load()

    def _inputs(self, messages: list[Message]):  # noqa: ANN202
        model, tokenizer = self._load()
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        self.last_usage = {"prompt_tokens": int(ids["input_ids"].shape[-1])}
        return model, tokenizer, ids

    def _cached_prefix(self, ids: list[int]):  # noqa: ANN202 - a transformers Cache or None
        """The attention cache of the previous request, cut to the tokens this prompt shares with it, as
        llama.cpp's ``cache_prompt`` does: a question asked again with another cue, or the next question after
        the same system prompt, reads only what is new. Taken, not shared: one request uses it at a time."""
        with self._lock:
            previous, self._previous = self._previous, None
        if previous is None:
            return None
        old_ids, cache = previous
        shared = 0
        for a, b in zip(old_ids, ids[:-1]):  # at least one token must be left to read
            if a != b:
                break
            shared += 1
        if shared < 16:
            return None
        cache.crop(shared - cache.get_seq_length())  # the number of tokens to drop, negative
        return cache

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str:
        return "".join(self.stream(messages, max_tokens, temperature))

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]:
        import torch

        with _TRANSFORMERS:
            from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class WhenAbandoned(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: object) -> torch.Tensor:
                return torch.full((input_ids.shape[0],), abandoned.is_set(), dtype=torch.bool)

        abandoned = threading.Event()
        model, tokenizer, inputs = self._inputs(messages)
        ids = inputs["input_ids"][0].tolist()
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        cache = self._cached_prefix(ids)
        failed: list[Exception] = []

        def work() -> None:
            try:
                out = model.generate(**inputs, max_new_tokens=max_tokens, streamer=streamer, return_dict_in_generate=True,
                                     stopping_criteria=StoppingCriteriaList([WhenAbandoned()]),
                                     **sampling, **({"cache": cache} if cache is not None else {}))
                if out.cache is not None:
                    with self._lock:
                        self._previous = (ids, out.cache)
            except Exception as exc:  # noqa: BLE001 - surfaced in the consumer's thread
                failed.append(exc)
                streamer.end()  # the consumer would otherwise wait for text forever

        worker = threading.Thread(target=work, daemon=True, name=_STREAM_THREAD)
        worker.start()
        try:
            yield from (text for text in streamer if text)
        finally:
            abandoned.set()  # a reader that went away (a closed tab, Ctrl-C) stops the generation at its next token
        worker.join()
        if failed:
            raise ModelError(f"generation failed: {failed[0]}")


class _Int8Writer:
    """A linear layer that keeps its bf16 weights for reading the prompt, where AMX multiplies bf16 matrices
    fast, and an int8 copy (one scale per output row) for writing, one token at a time, where every step reads
    all the weights from memory and half the bytes make it about 1.6x faster (docs/benchmarks.md)."""

    def __init__(self, linear):  # noqa: ANN001 - a torch.nn.Linear
        import torch

        weight = linear.weight.detach()
        scale = weight.abs().amax(dim=1).float().clamp(min=1e-8) / 127
        # in place on one float copy: a third of the time of fresh tensors at every step (seconds at load)
        self.int8 = weight.float().div_(scale[:, None]).round_().clamp_(-128, 127).to(torch.int8)
        self.scale = scale.to(weight.dtype)
        self.linear = linear
        self._bf16_mm = torch.nn.functional.linear  # looked up once: this runs for every layer at every token
        self._int8_mm = torch.ops.aten._weight_int8pack_mm

    def __call__(self, x):  # noqa: ANN001, ANN204 - a torch.Tensor
        bias = self.linear.bias
        if x.dim() != 3 or x.shape[1] != 1:  # a prompt: several tokens at once
            return self._bf16_mm(x, self.linear.weight, bias)
        y = self._int8_mm(x.reshape(-1, x.shape[-1]).contiguous(), self.int8, self.scale)
        return (y if bias is None else y + bias).reshape(*x.shape[:-1], -1)


def _write_in_int8(model) -> None:  # noqa: ANN001 - a transformers model
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.forward = _Int8Writer(module)  # the module stays: tied weights and saving see no change


def _int8_writing_available() -> bool:
    import torch

    return hasattr(torch.ops.aten, "_weight_int8pack_mm")


def _plain(model):  # noqa: ANN001, ANN202 - a transformers model
    """A model loaded from a GGUF without the GGUF loader attached. Every weight is dequantised (its packed
    kernels come from the Hub, which is not used), so it saves as an ordinary checkpoint."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


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

    def load(self) -> None:
        self.inner.load()

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


BACKENDS = ("auto", "llamacpp", "openai", "transformers")
_loaded: dict[tuple, Queued] = {}
_loaded_lock = threading.Lock()


def load_generator(
    backend: str, model: str, n_ctx: int, threads: int, cache_dir: Path | None = None, base_url: str = "", api_key: str = "",
    concurrency: int = 1, dtype: str = "auto", int8_writing: bool = True,
) -> Queued:
    """The generator for a config, loaded once per process and shared by every index that uses it (and so is
    its queue: ``concurrency`` requests at once, for the whole process)."""
    from rag.models import resolve_gguf

    if backend not in BACKENDS:
        raise ModelError(f"generate.backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "auto":
        backend = auto_backend(model)
    key = (backend, model, n_ctx, threads, base_url, concurrency, dtype, int8_writing)
    with _loaded_lock:
        if key not in _loaded:
            inner: Generator
            if backend == "llamacpp":
                inner = LlamaCpp(resolve_gguf(model, cache_dir), n_ctx=n_ctx, threads=threads)
            elif backend == "openai":
                inner = OpenAICompatible(base_url, model, api_key)
            else:
                inner = Transformers(_packaged_or_given(model, cache_dir), threads, dtype, int8_writing)
            _loaded[key] = Queued(inner, concurrency)
        return _loaded[key]


def auto_backend(model: str) -> str:
    """A packaged model runs in transformers where the CPU has AMX, which multiplies bf16 matrices in hardware:
    there torch reads the prompt about four times faster than the prebuilt llama.cpp wheel, which uses AVX2 only
    (docs/benchmarks.md); elsewhere in llama.cpp. Any other GGUF file goes to llama.cpp (transformers reads only
    some architectures), a model folder or Hub id to transformers."""
    from rag.models import PACKAGE_HINT, amx_supported

    if model in PACKAGE_HINT:
        return "transformers" if amx_supported() else "llamacpp"
    return "llamacpp" if model.endswith(".gguf") else "transformers"


def _packaged_or_given(model: str, cache_dir: Path | None) -> str:
    """A packaged GGUF's path for a packaged name (so every backend runs the default models); anything else as given."""
    from rag.models import PACKAGE_HINT, resolve_gguf

    return str(resolve_gguf(model, cache_dir)) if model in PACKAGE_HINT else model
