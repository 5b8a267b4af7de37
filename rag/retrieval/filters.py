"""Metadata filters for search: source glob, page range, topic, keyphrase."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from fnmatch import fnmatch
from typing import Any

from rag.core.types import Chunk


@dataclass(frozen=True)
class Filters:
    """Keep only chunks that match every field given.

    ``source``: a glob on the source path (``"*.pdf"``, ``"sample_docs/ops*"``); ``pages``: an inclusive
    ``(first, last)`` page range the chunk must overlap; ``topic`` / ``keyphrase``: a case-insensitive substring
    of one of the chunk's topics / keyphrases.
    """

    source: str | None = None
    pages: tuple[int, int] | None = None
    topic: str | None = None
    keyphrase: str | None = None

    @classmethod
    def of(cls, value: Filters | Mapping[str, Any] | None) -> Filters | None:
        if value is None or isinstance(value, Filters):
            return value
        allowed = {f.name for f in fields(cls)}
        unknown = set(value) - allowed
        if unknown:
            raise ValueError(f"unknown filter {', '.join(sorted(unknown))}; valid filters: {', '.join(sorted(allowed))}")
        pages = value.get("pages")
        if pages is not None:
            if isinstance(pages, int):
                pages = (pages, pages)
            if len(pages) != 2 or pages[0] > pages[1]:
                raise ValueError(f"pages must be (first, last) with first <= last, got {pages!r}")
            pages = (int(pages[0]), int(pages[1]))
        return cls(value.get("source"), pages, value.get("topic"), value.get("keyphrase"))

    def matches(self, chunk: Chunk) -> bool:
        if self.source and not (fnmatch(chunk.source, self.source) or fnmatch(chunk.source.rsplit("/", 1)[-1], self.source)):
            return False
        if self.pages and (chunk.page_end < self.pages[0] or chunk.page_start > self.pages[1]):
            return False
        if self.topic and not any(self.topic.lower() in t.lower() for t in chunk.topics):
            return False
        if self.keyphrase and not any(self.keyphrase.lower() in k.lower() for k in chunk.keyphrases):
            return False
        return True

    def key(self) -> tuple:
        return (self.source, self.pages, self.topic, self.keyphrase)
