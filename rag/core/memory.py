"""Giving freed memory back to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


def give_back_memory() -> None:
    """Return the heap's free pages to the system. glibc's allocator keeps what a long job frees (tokenizer and
    tensor buffers of every size, from several threads) for reuse, so without this an ingestion's resident size
    grows with the files it has read: 1.06 GB after 878 one-chunk files, 1.32 GB after 2,640, and 0.80 GB once
    trimmed. Elsewhere than glibc this does nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():  # noqa: ANN202 - a ctypes function, or None
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # no C library of that name, or one without malloc_trim (musl, macOS)
        return None
