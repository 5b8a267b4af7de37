"""The one BM25 analyzer, shared by indexing and querying.

Lowercase; split on non-alphanumerics; split identifiers (camelCase, snake_case, dotted.names, part-numbers)
into their parts while also keeping the whole identifier; drop English stop words; Snowball-stem the parts.
Bump ``VERSION`` whenever the output changes: a persisted BM25 index built with another version is rebuilt.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

VERSION = 1

_TOKEN = re.compile(r"[^\W_]+(?:[._\-/'’][^\W_]+)*", re.UNICODE)
_COMPOUND_SEP = re.compile(r"[._\-/'’]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_]+", re.UNICODE)

# A standard English stop-word list (Lucene/Snowball style), short words that carry no topic.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can did do does doing down during each few for from further had has have having he her here hers
    herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself yourselves s t d ll m o re ve y""".split()
)

_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def _parts(token: str) -> list[str]:
    parts = []
    for piece in _COMPOUND_SEP.split(token.replace("_", "-")):
        parts.extend(_CAMEL.findall(piece) or [piece])
    return parts


def tokenize(text: str) -> list[str]:
    """Analyze ``text`` into BM25 terms."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        raw = m.group(0).replace("’", "'")
        if raw.endswith("'s"):
            raw = raw[:-2]
        parts = _parts(raw)
        if len(parts) > 1:
            whole = raw.lower()
            if "'" not in whole:  # "don't" is one word, not an identifier
                out.append(whole)
            else:
                parts = [whole.replace("'", "")]
        for part in parts:
            word = part.lower()
            if word and word not in STOP_WORDS:
                out.append(_stem(word))
    return out
