"""Any causal LM that transformers loads, in bf16 where the CPU computes it, writing with int8 weights."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.core.errors import ModelError
from rag.llm.int8 import (
    INT8_FILE,
    compute_in_int8,
    embeddings_in_int8,
    int8_writing_available,
    load_int8,
    release_freed_memory,
    save_int8,
    write_in_int8,
)
from rag.llm.protocol import Message
from rag.llm.streams import STREAM_THREAD
from rag.llm.tokens import TRANSFORMERS, TokenCounter, converted_once, gguf_tokenizer
from rag.models.cpu import GENERATE_DTYPES, generator_dtype

log = logging.getLogger(__name__)


class Transformers:
    """Any causal LM that transformers loads: a local folder, a Hub id (with a network), or a GGUF file
    (a packaged name or ``path/to/model.gguf``, dequantised at load: a minute for the 1.5B).

    Where the CPU computes bf16 in hardware (AMX, AVX512-BF16) the weights are held in bf16 and torch reads a
    prompt several times faster than the prebuilt llama.cpp wheel, which uses AVX2 only; the answer is written
    with int8 copies of the weights (``int8_writing``), since each written token reads them all from memory
    (docs/benchmarks.md)."""

    def __init__(self, model: str, threads: int = 0, dtype: str = "auto", int8_writing: bool = True):
        if dtype not in GENERATE_DTYPES:
            raise ModelError(f"generate.dtype must be one of {', '.join(GENERATE_DTYPES)}; got {dtype!r}")
        self.model_name = model
        self.threads = threads
        self.dtype = dtype
        self.int8_writing = int8_writing
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self._previous: tuple[list[int], list[int], object] | None = None  # the last prompt's ids, cuts, attention cache
        self.last_usage: dict = {}
        path = Path(model)
        # a GGUF's tokenizer is converted once and saved beside it; a folder's or Hub id's loads with the model
        self.count_tokens = TokenCounter(lambda: gguf_tokenizer(path) if path.suffix == ".gguf" else self._load()[1])

    def _load(self):  # noqa: ANN202
        with self._lock, TRANSFORMERS:
            if self._model is None:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer


                if self.threads:
                    torch.set_num_threads(self.threads)
                kind = generator_dtype(self.dtype)
                bf16 = kind == "bf16"
                path = Path(self.model_name)
                gguf = path.suffix == ".gguf"
                dtype = torch.bfloat16 if bf16 else torch.float32

                def load(where: str, **kwargs: str):  # noqa: ANN202
                    with _quiet_transformers():  # its advice on packed GGUF kernels does not apply: we dequantise
                        return AutoModelForCausalLM.from_pretrained(where, dtype=dtype, **kwargs)

                def int8(model):  # noqa: ANN001, ANN202
                    compute_in_int8(model)
                    return model

                try:
                    if gguf and kind == "int8":  # the int8 copy is saved (a third of fp32's size): later loads skip the conversion
                        self._tokenizer = gguf_tokenizer(path)
                        self._model = converted_once(path.with_suffix(".int8"), INT8_FILE, load_int8,
                                                      lambda: int8(_plain(load(str(path.parent), gguf_file=path.name))),
                                                      save_int8)
                    elif gguf:  # dequantising takes most of a minute: the result is saved beside the GGUF
                        self._tokenizer = gguf_tokenizer(path)
                        self._model = converted_once(path.with_suffix(".bf16" if bf16 else ".fp32"), "config.json",
                                                      load, lambda: _plain(load(str(path.parent), gguf_file=path.name)))
                    else:
                        self._tokenizer = AutoTokenizer.from_pretrained(self.model_name)
                        self._model = load(self.model_name)
                        if kind == "int8":
                            compute_in_int8(self._model)
                    self._model.eval()
                except (OSError, ValueError) as exc:
                    raise ModelError(f"transformers cannot load {self.model_name!r}: {exc}") from None
                writes_int8 = self.int8_writing and bf16 and int8_writing_available()
                if writes_int8:  # after saving: the saved copy stays plain
                    write_in_int8(self._model)
                if kind == "int8":
                    embeddings_in_int8(self._model)
                release_freed_memory()
                log.info("loaded %s with transformers (%s%s)", self.model_name, kind,
                         ", writes with int8 weights" if writes_int8 else "")
        return self._model, self._tokenizer

    def load(self) -> None:
        self._load()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _inputs(self, messages: list[Message]):  # noqa: ANN202
        model, tokenizer = self._load()
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, return_tensors="pt")
        ends = [end for _, end in encoded.pop("offset_mapping")[0].tolist()]
        self.last_usage = {"prompt_tokens": len(ends)}
        return model, tokenizer, encoded, _cuts(messages, text, ends, tokenizer)

    def _cached_prefix(self, ids: list[int], cuts: list[int]):  # noqa: ANN202 - a transformers Cache or None
        """The attention cache of the previous request, cut back to the last cut the two prompts share (the
        same tokens and the same cuts before it), as llama.cpp's ``cache_prompt`` does: a question asked again with
        another cue reads only its last line, the next question after the same system prompt only its own
        message. Taken, not shared: one request uses it at a time."""
        with self._lock:
            previous, self._previous = self._previous, None
        if previous is None:
            return None, 0
        old_ids, old_cuts, cache = previous
        shared = next((c for c in reversed(cuts) if c in old_cuts and old_ids[:c] == ids[:c]
                       and [x for x in old_cuts if x <= c] == [x for x in cuts if x <= c]), 0)
        if not shared:
            return None, 0
        if cache.get_seq_length() > shared:
            cache.crop(shared - cache.get_seq_length())  # the number of tokens to drop, negative
        return cache, shared

    def _read(self, model, ids, cuts: list[int]):  # noqa: ANN001, ANN202 - torch model and tensor; a Cache
        """The prompt read up to its last cut, one piece between cuts at a time, on the previous request's cache
        where it shares a start; ``generate`` reads the rest. A piece is always read whole and alone, whatever came
        before: int8 layers scale their inputs per call, so reading a piece together with another, or split, moves
        the next-token scores by as much as a whole logit and can change the answer."""
        import torch
        from transformers import DynamicCache

        cache, done = self._cached_prefix(ids[0].tolist(), cuts)
        cache = cache if cache is not None else DynamicCache()
        with torch.no_grad():
            for cut in (c for c in cuts if c > done):
                # only the attention cache is wanted: no scores over the vocabulary for every token of the piece
                model(input_ids=ids[:, done:cut], cache=cache, use_cache=True, cache_position=torch.arange(done, cut),
                      logits_to_keep=1)
                done = cut
        return cache if done else None

    def complete(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> str:
        return "".join(self.stream(messages, max_tokens, temperature))

    def stream(self, messages: list[Message], max_tokens: int = 384, temperature: float = 0.0) -> Iterator[str]:
        import torch

        with TRANSFORMERS:
            from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class WhenAbandoned(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: object) -> torch.Tensor:
                return torch.full((input_ids.shape[0],), abandoned.is_set(), dtype=torch.bool)

        abandoned = threading.Event()
        model, tokenizer, inputs, cuts = self._inputs(messages)
        ids = inputs["input_ids"][0].tolist()
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        failed: list[Exception] = []

        def work() -> None:
            try:
                cache = self._read(model, inputs["input_ids"], cuts)
                out = model.generate(**inputs, max_new_tokens=max_tokens, streamer=streamer, return_dict_in_generate=True,
                                     stopping_criteria=StoppingCriteriaList([WhenAbandoned()]),
                                     **sampling, **({"cache": cache} if cache is not None else {}))
                if out.cache is not None:
                    with self._lock:
                        self._previous = (ids, cuts, out.cache)
            except Exception as exc:  # noqa: BLE001 - surfaced in the consumer's thread
                failed.append(exc)
                streamer.end()  # the consumer would otherwise wait for text forever

        worker = threading.Thread(target=work, daemon=True, name=STREAM_THREAD)
        worker.start()
        try:
            yield from (text for text in streamer if text)
        finally:
            abandoned.set()  # a reader that went away (a closed tab, Ctrl-C) stops the generation at its next token
        worker.join()
        if failed:
            raise ModelError(f"generation failed: {failed[0]}")


def _cuts(messages: list[Message], text: str, ends: list[int], tokenizer) -> list[int]:  # noqa: ANN001
    """Where a prompt is read in pieces, as token counts: after the system message, and before the last line of
    the last message (the cue, which a question asked again changes). Found from the prompt's own text, so the
    same prompt is always read in the same pieces."""
    places = []
    if messages and messages[0]["role"] == "system":
        head = tokenizer.apply_chat_template(messages[:1], tokenize=False)
        if text.startswith(head):
            places.append(len(head))
    last = messages[-1]["content"] if messages else ""
    if "\n" in last and (at := text.rfind(last)) >= 0:
        places.append(at + last.rfind("\n") + 1)
    cuts = {sum(1 for end in ends if end <= place) for place in places}
    return sorted(c for c in cuts if 0 < c < len(ends))  # generate reads at least the last token itself


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
