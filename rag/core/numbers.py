"""Numbers as numbers, however a text writes them: "thirty", "thirty-two", "18,000", "18000" and "2–4" compare
equal to "30", "32", "18000" and "2-4". Used where an answer is compared with its passages or its gold answer."""

from __future__ import annotations

import re

_UNITS = {w: n for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS = {w: 10 * n for n, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
# a run of number words ("two hundred and forty-five"), each word whole
_RUN = re.compile(rf"\b(?:{_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_WORD}))*\b", re.I)
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0](?=\d{3}(?!\d))")


def _value(words: list[str]) -> int | None:
    total = current = 0
    for w in words:
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in _SCALES:
            total += max(current, 1) * _SCALES[w]
            current = 0
    return total + current


def _digits(match: re.Match[str]) -> str:
    words = [w for w in re.split(r"[\s-]+", match.group(0).lower()) if w and w != "and"]
    if words == ["one"] or words == ["zero"]:
        return match.group(0)  # "one of the pumps": a pronoun far more often than a figure
    value = _value(words)
    return match.group(0) if value is None else str(value)


def normalize_numbers(text: str) -> str:
    """``text`` with number words as digits, no thousands separators and plain hyphens for dashes."""
    text = _DASHES.sub("-", text)
    text = _THOUSANDS.sub("", text)
    return _RUN.sub(_digits, text)


NUMBER_TEXT = r"(?<![\w.])\d+(?:[.,:]\d+)*"  # a figure as written: 42, 0.8, 2.5.0, 14:30, 18,000
_NUMBER = re.compile(NUMBER_TEXT)


def figures(text: str) -> list[str]:
    """The figures ``text`` states, in order, however it writes them ("five" is 5, "18,000" is 18000)."""
    return _NUMBER.findall(normalize_numbers(text))
