"""Generated metadata: acronyms with expansions (per document) and keyphrases (per chunk).

Acronyms follow Schwartz & Hearst (2003): a short form in parentheses after its long form, "Long Form (LF)",
or the reverse, "LF (Long Form)"; the long form is the shortest word sequence whose letters contain the short
form's characters in order, the first one starting a word.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import replace

from rag.core.shortforms import short_forms_in
from rag.core.types import Chunk

_LONG_FORM = re.compile(r"^\w[\w\s\-,/'&.]*$")


def _is_short_form(s: str) -> bool:
    """Short forms have 2-10 characters and at least two capitals ("RTU", "PoC", "LLMs"), so a capitalised
    word such as "Anthropic" or "Python" before a parenthesis is not taken for one."""
    s = s.strip()
    return 2 <= len(s) <= 10 and len(s.split()) <= 2 and s[0].isalnum() and sum(ch.isupper() for ch in s) >= 2


def _best_long_form(short: str, long: str) -> str | None:
    s, at = len(short) - 1, len(long) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while at >= 0 and (long[at].lower() != c or (s == 0 and at > 0 and long[at - 1].isalnum())):
            at -= 1
        if at < 0:
            return None
        at -= 1
        s -= 1
    start = long.rfind(" ", 0, at + 1) + 1
    return long[start:].strip()


def _valid(short: str, long: str | None) -> bool:
    if not long or len(long) <= len(short) or short.lower() in long.lower().split() or not _LONG_FORM.match(long):
        return False
    words = long.split()
    return len(words) <= min(len(short) + 5, len(short) * 2) and len(words) >= 1 and long[0].isalnum()


def _parentheticals(text: str) -> list[tuple[int, str]]:
    """Top-level parenthesised segments as (start offset, content without nested parentheses)."""
    out, depth, start, inner = [], 0, 0, []
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start, inner = i, []
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0 and i - start <= 160:
                out.append((start, " ".join("".join(inner).split())))
        elif depth == 1:
            inner.append(ch)
    return out


def find_acronyms(text: str) -> dict[str, str]:
    """Acronym -> expansion for every definition in ``text``; the first definition of a short form wins."""
    found: dict[str, str] = {}
    for at, inside in _parentheticals(text):
        first = re.split(r"[;,]\s", inside)[0].strip()  # "(RTU, see Section 2)" defines RTU
        before = text[max(0, at - 300) : at]
        before = re.split(r"[.;:!?\n]\s|[\(\)\[\]]", before)[-1].rstrip()  # stay within the clause
        words = before.split()
        if _is_short_form(first):
            short = first
            window = " ".join(words[-min(len(short) + 5, len(short) * 2) :])
            long = _best_long_form(short, window)
        elif words and _is_short_form(words[-1].strip(",;")) and len(inside.split()) >= 2:  # "LF (Long Form)"
            short = words[-1].strip(",;")
            long = _best_long_form(short, inside)
        else:
            continue
        if _valid(short, long) and short not in found:
            found[short] = " ".join(long.split())  # type: ignore[union-attr]
    return found


def acronyms_in(text: str, acronyms: Mapping[str, str]) -> tuple[str, ...]:
    """``SHORT=Long Form`` for each known acronym that ``text`` uses by its short form, as a whole word."""
    if not acronyms:
        return ()
    return tuple(f"{s}={acronyms[s]}" for s in sorted(short_forms_in(text, frozenset(acronyms))))


def keyphrases(text: str, n: int = 6) -> tuple[str, ...]:
    """Unsupervised keyphrases (YAKE, 1-3 words), best first; every phrase occurs in ``text``."""
    if n <= 0 or len(text.split()) < 5:
        return ()
    extractor = _yake(n * 2)
    lowered = text.lower()
    out: list[str] = []
    for phrase, _ in extractor.extract_keywords(text):
        if phrase.lower() in lowered and not any(phrase.lower() in p.lower() or p.lower() in phrase.lower() for p in out):
            out.append(phrase)
        if len(out) == n:
            break
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _yake(top: int):  # noqa: ANN202 - yake has no stubs
    """One extractor reused for every chunk: building one reads its stop-word list (a quarter of YAKE's cost)."""
    import yake

    return yake.KeywordExtractor(lan="en", n=3, dedupLim=0.7, top=top)


def annotate(chunks: list[Chunk], acronyms: dict[str, str], n_keyphrases: int) -> list[Chunk]:
    return [replace(c, keyphrases=keyphrases(c.text, n_keyphrases), acronyms=acronyms_in(c.text, acronyms)) for c in chunks]
