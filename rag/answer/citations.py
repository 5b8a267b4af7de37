"""Citations: each ``[n]`` marker, and every unmarked answer sentence attributed to the passage sentence it
overlaps most (small models forget markers); a citation carries source, page, character span and quote."""

from __future__ import annotations

from rag.answer.reply import MARKER, cited_numbers
from rag.core.analyzer import tokenize
from rag.core.sentences import sentence_spans, split_sentences
from rag.core.types import Citation, Hit

Units = list[tuple[int, int, frozenset[str]]]  # a passage's sentences: (start, end) within the chunk, and words


def _units(hit: Hit) -> Units:
    text = hit.chunk.text
    return [(at, end, frozenset(tokenize(text[at:end]))) for at, end in sentence_spans(text)]


def _best_sentence(hit: Hit, terms: set[str], units: Units | None = None) -> tuple[int, int, str, float]:
    """The passage sentence sharing most terms with ``terms``: (start, end) within the chunk, text, overlap.
    ``units``: the passage's sentences when already split."""
    text = hit.chunk.text
    best = (0, len(text), text, 0.0)
    for at, end, words in _units(hit) if units is None else units:
        overlap = len(words & terms) / (len(terms) or 1)
        if overlap > best[3]:
            best = (at, end, text[at:end], overlap)
    return best


def _citation(n: int, hit: Hit, terms: set[str]) -> Citation:
    start, end, quote, _ = _best_sentence(hit, terms)
    c = hit.chunk
    return Citation(n, c.id, c.source, c.page_start, c.char_start + start, c.char_start + end, quote, hit.score)


def cite(answer: str, passages: list[Hit], min_overlap: float = 0.34, question: str = "") -> list[Citation]:
    """Citations for an answer: its ``[n]`` markers, plus lexical attribution of unmarked sentences. An answer that
    says the question back with its value ("the key that deletes the previous word is ^W") is attributed by what
    it adds to the question: the passage states the value ("^W delete previous word"), not the question's words."""
    asked = set(tokenize(question))
    found: dict[int, set[str]] = {}
    units: list[Units] = []  # each passage split once, when an unmarked sentence first needs them
    for sentence in split_sentences(answer) or [answer]:
        every = set(tokenize(MARKER.sub("", sentence)))
        terms = (every - asked) or every
        numbers = cited_numbers(sentence, passages)
        if not numbers and terms:
            # what the answer adds decides; passages it leaves tied go by all the answer's words, then by rank
            units = units or [_units(h) for h in passages]
            scored = [(_best_sentence(h, terms, u)[3], _best_sentence(h, every, u)[3], -i)
                      for i, (h, u) in enumerate(zip(passages, units))]
            best, _, i = max(scored, default=(0.0, 0.0, 0))
            if best >= min_overlap:
                numbers = {1 - i}
        for n in numbers:
            found.setdefault(n, set()).update(terms)
    return [_citation(n, passages[n - 1], terms) for n, terms in sorted(found.items())]


def grounds(question: str, passages: list[Hit]) -> Citation | None:
    """The passage sentence that shares most of the question's terms: what a bare "Yes" or "No" rests on."""
    terms = set(tokenize(question))
    scored = [(_best_sentence(h, terms)[3], i + 1) for i, h in enumerate(passages)]
    best, n = max(scored, default=(0.0, 0))
    return _citation(n, passages[n - 1], terms) if best > 0 else None
