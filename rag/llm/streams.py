"""Streaming threads: named so that the process waits for them at exit."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator

# llama.cpp threads still generating when the interpreter exits (a reply nobody reads any more, e.g. after Ctrl-C)
# call back into Python after finalization has begun, and the process aborts ("FATAL: exception not rethrown");
# waiting for them at exit ends the process cleanly
STREAM_THREAD = "llm-stream"


@atexit.register
def _finish_streams(timeout: float = 60.0) -> None:
    for thread in threading.enumerate():
        if thread.name == STREAM_THREAD:
            thread.join(timeout)


def chunk_texts(chunk: dict) -> Iterator[str]:
    """The text pieces of one OpenAI-format streaming chunk (llama.cpp's server and the OpenAI API both send them)."""
    for choice in chunk.get("choices") or []:
        text = (choice.get("delta") or {}).get("content")
        if text:
            yield text
