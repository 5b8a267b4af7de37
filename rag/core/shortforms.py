"""Which of many known short forms (acronyms) a text uses, in one pass over the text whatever their number."""

from __future__ import annotations

import functools
import re

_WORD_RUN = re.compile(r"\w+")


def short_forms_in(text: str, shorts: frozenset[str], nested: bool = False) -> set[str]:
    """The ``shorts`` that occur in ``text`` as whole words: where a word of the text begins, the longest short
    form that starts there and ends where a word ends; with ``nested``, every one ("TCP/IP", and "TCP" and "IP"
    inside it)."""
    starts = _by_first_word(shorts)
    found, covered = set(), 0
    for m in _WORD_RUN.finditer(text):
        at = m.start()
        if at < covered:
            continue
        for short in starts.get(m.group(), ()):
            end = at + len(short)
            if text.startswith(short, at) and not _WORD_RUN.match(text, end):
                found.add(short)
                if not nested:
                    covered = end
                    break
    return found


@functools.lru_cache(maxsize=8)
def _by_first_word(shorts: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Short forms by the word they begin with, longest first. (One pattern of every short form as alternatives
    took 20 ms to build at 3,000 of them, for each new one; a pattern per short form, 100 ms a query.)"""
    starts: dict[str, list[str]] = {}
    for short in shorts:
        first = _WORD_RUN.match(short)
        if first:
            starts.setdefault(first.group(), []).append(short)
    return {word: tuple(sorted(group, key=len, reverse=True)) for word, group in starts.items()}
