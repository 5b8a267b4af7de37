"""Token counting with a backend's own tokenizer (the GGUF's, converted once and saved), else an estimate."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rag.llm.protocol import estimate_tokens

log = logging.getLogger(__name__)


T = TypeVar("T")


# transformers 5 imports its classes lazily, on first use, and two threads doing that at once can fail with
# "cannot import name 'AutoModelForCausalLM'" (seen 1 run in 6 with the tokenizer thread and the model loader under
# CPU load). Whatever loads from transformers holds this lock.
TRANSFORMERS = threading.RLock()


def gguf_tokenizer(gguf: Path):  # noqa: ANN201 - a transformers tokenizer
    """The tokenizer inside a GGUF file, as a transformers fast tokenizer. Converting it from the GGUF takes
    10-20 s, so the result is saved next to the model and later loads take well under a second."""
    with TRANSFORMERS:
        from transformers import AutoTokenizer

        return converted_once(gguf.with_suffix(".tokenizer"), "tokenizer.json", AutoTokenizer.from_pretrained,
                               lambda: AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name))


def converted_once(saved: Path, marker: str, load: Callable[[str], T], convert: Callable[[], T],
                   save: Callable[[T, str], None] = lambda made, folder: made.save_pretrained(folder)) -> T:  # type: ignore[attr-defined]
    """What ``convert`` makes from a GGUF, saved in the folder ``saved`` so that later loads skip the conversion.
    A concurrent process finds a whole folder or none; a place that cannot be written only costs the saving."""
    if (saved / marker).exists():
        return load(str(saved))
    made = convert()
    tmp = saved.with_name(saved.name + f".tmp{os.getpid()}")
    try:
        save(made, str(tmp))
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
