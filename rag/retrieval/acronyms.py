"""The corpus's acronyms and what a query gains from them: the expansion of every acronym it uses, and the
acronym of every expansion it spells out.

The mapping is published, never mutated: ingestion builds a new dict and swaps it in, so a search that is
iterating the current one (a chat while a folder syncs) never sees it change under it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType

from rag.core.shortforms import short_forms_in


def acronym_expansions(query: str, acronyms: Mapping[str, str]) -> list[str]:
    """The expansion of every known acronym in the query, and the acronym of every expansion it spells out."""
    additions = []
    lowered = query.lower()
    used = short_forms_in(query, frozenset(acronyms), nested=True) if acronyms else set()
    for short, long in acronyms.items():
        has_short = short in used
        if has_short and long.lower() not in lowered:
            additions.append(long)
        elif not has_short and long.lower() in lowered:
            additions.append(short)
    return additions


class CorpusAcronyms:
    """Short form -> long form over the whole corpus (the first definition wins), shared by every view of an index."""

    def __init__(self, mapping: Mapping[str, str] | None = None):
        self._current: Mapping[str, str] = MappingProxyType(dict(mapping or {}))
        self._write = threading.Lock()

    @property
    def current(self) -> Mapping[str, str]:
        """A read-only snapshot: later changes publish a new one and leave this one as it is."""
        return self._current

    def publish(self, mapping: Mapping[str, str]) -> None:
        with self._write:
            self._current = MappingProxyType(dict(mapping))

    def learn(self, found: Mapping[str, str]) -> None:
        """Definitions found while ingesting: files read later in the run know them already."""
        with self._write:
            new = {short: long for short, long in found.items() if short not in self._current}
            if new:
                self._current = MappingProxyType({**self._current, **new})
