"""What a question is about that no document mentions: its identifiers (B3, Zephyr-9, TMR-4471, uplink_window_min),
the terms that single out one thing among many. When the corpus never mentions one, no passage can answer, and
the reply says so without asking the model (which would otherwise answer about the nearest thing it was shown)."""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.core.analyzer import tokenize

_WORD = re.compile(r"[^\s\"'“”‘’()\[\]{},;:?!]+")


def is_identifier(token: str) -> bool:
    """A whole analyzed token that names one thing: letters and digits together, or words joined by ``_``."""
    if re.fullmatch(r"\d+[a-z]{1,3}", token):  # 21st, 1990s, 5km: ordinals, decades and units, not names
        return False
    has_letter, has_digit = re.search(r"[a-z]", token), re.search(r"\d", token)
    return bool(has_letter and has_digit) or ("_" in token.strip("_") and bool(has_letter))


def unknown_subjects(question: str, mentions: Callable[[str], bool]) -> list[str]:
    """The question's identifiers, as the question writes them, that ``mentions`` says the corpus never holds."""
    out = []
    for raw in _WORD.findall(question):
        raw = raw.strip(".-")
        tokens = tokenize(raw)
        if tokens and is_identifier(tokens[0]) and not any(map(mentions, _spellings(tokens[0]))) and raw not in out:
            out.append(raw)
    return out


def _spellings(token: str) -> set[str]:
    """IL-6, IL6 and il_6 are one name."""
    return {token, token.replace("-", ""), token.replace("-", "_"), token.replace("_", "-"), token.replace("_", "")}


def not_mentioned(subjects: list[str]) -> str:
    names = ", ".join(subjects[:-1]) + (" or " if len(subjects) > 1 else "") + subjects[-1]
    return f"The documents do not mention {names}."
