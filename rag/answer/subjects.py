"""What a question is about that no document mentions: its identifiers (B3, Zephyr-9, TMR-4471, uplink_window_min)
and its technical words (uuid, fontdir, tinyint), the terms that single out one thing among many. When the corpus
never mentions one, no passage can answer, and the reply says so without asking the model (which would otherwise
answer about the nearest thing it was shown). Ordinary words are left out: a question may say "unprocessed" where
the documents say "raw"."""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.core.analyzer import tokenize
from rag.core.numbers import figures

_WORD = re.compile(r"[^\s\"'“”‘’()\[\]{},;:?!]+")


def is_identifier(token: str) -> bool:
    """A whole analyzed token that names one thing: letters and digits together, or words joined by ``_``."""
    if re.fullmatch(r"\d+[a-z]{1,3}", token):  # 21st, 1990s, 5km: ordinals, decades and units, not names
        return False
    has_letter, has_digit = re.search(r"[a-z]", token), re.search(r"\d", token)
    return bool(has_letter and has_digit) or ("_" in token.strip("_") and bool(has_letter))


# a word made of an ordinary word and one of these is ordinary too ("unprocessed", "reheated", "hosing")
_PREFIXES = ("un", "non", "dis", "re", "pre", "in", "im", "mis", "over", "under", "sub", "super", "anti", "co", "multi",
             "inter", "out", "self")
_SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "ness", "able", "ible", "er", "ers", "ment", "ments", "al", "ity", "less",
             "ful", "ion", "ions", "ise", "ize", "ised", "ized")


def is_ordinary(word: str, pieces: Callable[[str], int]) -> bool:
    """Whether ``word`` is an everyday word: one piece of the embedder's vocabulary (``pieces`` counts them), or
    one with a common prefix or suffix. Names and technical terms split into several (uuid: u ##uid)."""
    w = word.lower()
    if pieces(w) <= 1:
        return True
    return (any(w.startswith(p) and len(w) - len(p) >= 3 and pieces(w[len(p):]) <= 1 for p in _PREFIXES)
            or any(w.endswith(s) and len(w) - len(s) >= 3 and pieces(w[: -len(s)]) <= 1 for s in _SUFFIXES))


def unknown_subjects(question: str, mentions: Callable[[str], bool], pieces: Callable[[str], int] | None = None) -> list[str]:
    """The question's identifiers, and with ``pieces`` (the embedder's token count of a word) its technical words, as
    the question writes them, that ``mentions`` says the corpus never holds. A compound ("tic-label") is known
    when each of its parts is."""
    out = []
    for raw in _WORD.findall(question):
        raw = raw.strip(".-")
        tokens = tokenize(raw)
        if not tokens or raw in out:
            continue
        if is_identifier(tokens[0]):
            if not any(map(mentions, _spellings(tokens[0]))):
                out.append(raw)
            continue
        if pieces is None or not raw.replace("-", "").isalpha() or len(raw) < 3 or any(map(mentions, tokens)):
            continue
        unknown = [part for part in raw.split("-") if part and not any(map(mentions, tokenize(part)))]
        if unknown and not all(is_ordinary(part, pieces) for part in unknown):
            out.append(raw)
    return out


def _spellings(token: str) -> set[str]:
    """IL-6, IL6 and il_6 are one name."""
    return {token, token.replace("-", ""), token.replace("-", "_"), token.replace("_", "-"), token.replace("_", "")}


def not_mentioned(subjects: list[str]) -> str:
    names = ", ".join(subjects[:-1]) + (" or " if len(subjects) > 1 else "") + subjects[-1]
    return f"The documents do not mention {names}."


def unstated_figures(question: str, passages: list[str]) -> list[str]:
    """The question's versions, decimals and long numbers (4.0, 2.5.0, 2021) that none of ``passages`` states: asked
    about ReportLab 4.0 and shown the 3.6 guide, the model answers from the nearest version. Short numbers (14) and
    times (14:30) are left out: the passages may write them otherwise ("two weeks", "half past two")."""
    stated = set(figures(" ".join(passages)))
    out = []
    for x in figures(question):
        if ("." in x or (x.isdigit() and len(x) >= 3)) and x not in stated and x not in out:
            out.append(x)
    return out


def not_in_passages(figures: list[str]) -> str:
    return f"The passages found do not mention {', '.join(figures)}."
