"""Checks that an answer is backed by its passages: a figure must be stated by the passage it cites (re-cited
to one that does, if any), and most of its words must occur in them; else the draft is withheld with the reason."""

from __future__ import annotations

import re

from rag.answer.prompt import passage_header
from rag.answer.reply import ABOUT_TERMS, MARKER, cited_numbers
from rag.answer.subjects import is_identifier
from rag.core.analyzer import tokenize
from rag.core.numbers import NUMBER_TEXT, figures, normalize_numbers
from rag.core.sentences import ROW_CELL, sentence_spans, split_sentences
from rag.core.types import Hit

_FIGURE = re.compile(rf"({NUMBER_TEXT})\s*([^\W\d_]{{0,12}})")  # a number and the word after it
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


MIN_TERM_SUPPORT = 0.5  # the share of an answer's words its passages must hold
COPIED = 0.8  # the share of an answer's own words a passage must hold for the answer to be cited there instead
_ENUMERATOR = re.compile(r"(?m)^[ \t]*\d{1,2}[.)][ \t]+")  # "7. " opening a line of a numbered list
# what an answer writes as code: `quoted`, a command-line option (-v, --default-settings), a format specifier (%b),
# a camelCase or snake_case identifier; case matters in all of them, so they are looked up as written
_CODE = re.compile(r"`([^`\n]{1,60})`|(?<![\w-])(--?[A-Za-z][\w-]*)|(%[A-Za-z])|\b([a-z]+[A-Z]\w*|[A-Za-z]+_\w+)\b")


def _claims(answer: str) -> str:
    """What an answer asserts: without citation markers, nor the numbers of a numbered list, which are no figures."""
    return _ENUMERATOR.sub("", MARKER.sub("", answer))


def _evidence(passages: list[Hit], which: set[int]) -> str:
    """The passages ``which`` (all when empty) with their prompt headers (source, page, section): models echo them."""
    return " ".join(f"{passage_header(i, h)} {h.chunk.text}" for i, h in enumerate(passages, 1) if not which or i in which)


def _numbers(text: str) -> set[str]:
    """The figures a text states, however it writes them ("five" is 5, "18,000" is 18000)."""
    return set(figures(text))


def _stated(figure: str, numbers: set[str]) -> bool:
    """Whether ``numbers`` hold ``figure``, written with or without thousands separators."""
    return figure in numbers or figure.replace(",", "") in numbers


def _invented(text: str, known: set[str]) -> list[str]:
    return [n for n in figures(text) if not _stated(n, known)]


def code_written(text: str) -> list[str]:
    """The code an answer writes (see ``_CODE``), each as written."""
    return [next(g for g in m.groups() if g).strip() for m in _CODE.finditer(text)]


def _focus_terms(question: str, passages: list[Hit]) -> set[str]:
    """The question's terms that tell its passages apart: those every passage shares (the station's name in a
    corpus about one station) say nothing about which passage answers it."""
    asked = set(tokenize(question))
    texts = [set(tokenize(f"{h.chunk.title} {h.chunk.section} {h.chunk.text}")) for h in passages]
    shared = set.intersection(*texts) if len(texts) > 1 else set()
    return (asked - shared) or asked


def recite(answer: str, passages: list[Hit], question: str = "") -> str:
    """The answer with its citation moved to the passage that states its figures, or its words. Small models mark
    a reply [1] out of habit while the figure comes from another passage; the figure is re-attributed only to a
    passage that states it in a sentence about the question (one of its distinguishing terms), so a figure copied
    from an off-topic sentence still counts as unsupported."""
    marked = cited_numbers(answer, passages)
    body = _claims(answer)
    missing = _invented(body, _numbers(f"{_evidence(passages, marked)} {question}")) if marked else []
    if not missing:
        return _reworded(answer, passages, question, marked, body) if marked else answer
    focus = _focus_terms(question, passages)
    terms = set(tokenize(body))
    used = {i: terms & set(tokenize(h.chunk.text)) for i, h in enumerate(passages, 1)}  # the reply's words each passage holds
    units = {x: set(tokenize(u)[:1]) for x, u in _FIGURE.findall(normalize_numbers(body))}  # "9 km": the word after a figure
    for n, hit in enumerate(passages, 1):
        if n in marked:
            continue
        about = [(_numbers(s), words) for s in split_sentences(hit.chunk.text) if focus & (words := set(tokenize(s)))]
        # each figure, with its unit, in one of the passage's sentences about the question
        if not all(any(not _invented(x, numbers) and units.get(x, set()) <= words for numbers, words in about) for x in missing):
            continue
        if not set().union(*(used[c] for c in marked)) - used[n]:  # nothing came from the cited passage: cite n alone
            return MARKER.sub(f"[{n}]", answer)
        at = max(0, answer.find(missing[0]))  # else cite passage n where its figure's sentence ends
        end = _SENTENCE_END.search(answer, at)
        cut = end.start() if end else len(answer.rstrip())
        return f"{answer[:cut]} [{n}]{answer[cut:]}"
    return answer


def _reworded(answer: str, passages: list[Hit], question: str, marked: set[int], body: str) -> str:
    """The answer citing the one passage that holds its words, where the passages it cites do not (a sentence
    copied from [1] and marked [3]); as it was when no single passage about the question holds nearly all of
    them. Only an answer that says something (a few words beyond the question) moves: "%b" alone could come
    from anywhere."""
    terms = set(tokenize(body)) - set(tokenize(question)) - ABOUT_TERMS  # what the answer adds to the question
    if len(terms) < 3:
        return answer

    def support(n: int) -> float:
        return len(terms & set(tokenize(passages[n - 1].chunk.text))) / len(terms)

    if len(terms & set(tokenize(_evidence(passages, marked)))) / len(terms) >= MIN_TERM_SUPPORT:
        return answer
    focus = _focus_terms(question, passages)
    best = max((n for n in range(1, len(passages) + 1) if n not in marked), key=support, default=0)
    if best and support(best) >= COPIED and focus & set(tokenize(passages[best - 1].chunk.text)):
        return MARKER.sub(f"[{best}]", answer)
    return answer


_DECIDED = re.compile(r"^\s*(yes|no|maybe)\b[\s,.:;!-]*", re.I)


def decision_of(answer: str) -> str:
    """"yes", "no" or "maybe" when the answer opens with one, else ""."""
    m = _DECIDED.match(answer)
    return m.group(1).lower() if m else ""


_NEGATION = re.compile(r"\b(?:no|not|never|none|nobody|nothing|neither|nor|cannot|\w+n't)\b", re.I)


def corrected_decision(answer: str, question: str, ground: str) -> str:
    """A "Yes" the passage contradicts, made "No": small models answer "Yes" by habit (the 1.5B said "Yes" to 7 of
    the 9 "no" questions of benchmarks/decisions), while the sentence the decision rests on (``ground``, the one
    sharing most of the question's terms) says "not", "never", "no other" where the question does not."""
    if decision_of(answer) != "yes" or not ground:
        return answer
    asked = {w.lower() for w in _NEGATION.findall(question)}
    if not {w.lower() for w in _NEGATION.findall(ground)} - asked:
        return answer
    return f'No. "{" ".join(ground.split())}"'


def settles(question: str, sentence: str) -> bool:
    """Whether ``sentence`` carries most of a yes/no question's terms, enough to decide it."""
    terms = set(tokenize(question))
    return bool(terms) and len(terms & set(tokenize(sentence))) >= len(terms) / 2


def without_decision(answer: str) -> str:
    """The answer after its leading Yes/No/Maybe: the claim the passages must back."""
    return _DECIDED.sub("", answer, count=1)


# capitalised, but dates rather than names: documents write them as numbers as often ("2024-09-17")
_CALENDAR = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
             "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


def subject_names(question: str) -> set[str]:
    """The question's names that single out one row or item among its neighbours (analyzed): numbered identifiers
    (B3, WO-1192) and capitalised names (Alaska, Massachusetts). Identifiers without digits (``rl_settings``) are
    left out: they as often name the file or section the row sits in as the row itself."""
    numbered = {t for t in tokenize(question) if is_identifier(t) and any(ch.isdigit() for ch in t)}
    # a name whole: its parts ("sql" of PostgreSQL) name other things too (SQLite)
    capitalised = {t for word in question.split()[1:] if word[:1].isupper() and word.strip("?.,;:!").lower() not in _CALENDAR
                   for t in tokenize(word)[:1] if len(t) >= 3}
    return numbered | capitalised


def _is_unit(text: str) -> bool:
    """A table row (see ``ingest.tables``) or an item of a semicolon list: a record whose name and values sit
    together. In running text or a log, a record's number and its values sit on neighbouring lines instead."""
    return ROW_CELL in text or text.rstrip().endswith(";")


def _units(passages: list[Hit]) -> list[tuple[int, tuple[int, int], str]]:
    """(passage number, span, text) of every row and list item of the passages."""
    return [(n, (a, b), hit.chunk.text[a:b]) for n, hit in enumerate(passages, 1)
            for a, b in sentence_spans(hit.chunk.text) if _is_unit(hit.chunk.text[a:b])]


def units_naming(passages: list[Hit], names: set[str],
                 units: list[tuple[int, tuple[int, int], str]] | None = None) -> list[tuple[int, tuple[int, int]]]:
    """(passage number, span) of the rows and list items (``units``, else the passages') that name the question's
    rarest name (the one fewest of them name: "Massachusetts" rather than "Constitution")."""
    words = [(n, span, set(tokenize(text))) for n, span, text in (_units(passages) if units is None else units)]
    named = [[(n, span) for n, span, said in words if name in said] for name in sorted(names)]
    named = [found for found in named if found]
    return min(named, key=len) if named else []


def _cells(row: str) -> list[tuple[str, str]]:
    """A row's (header, value) cells; "" for a cell without a header."""
    return [tuple(c.split(": ", 1)) if ": " in c else ("", c) for c in row.split(ROW_CELL)]


def _best_cells(row: str, question: str, names: set[str]) -> tuple[list[str], int]:
    """The values of the row's cells whose headers share the most terms with the question (not its names), and
    how many they share."""
    asked = set(tokenize(question)) - names
    scored = [(len(asked & set(tokenize(header))), value) for header, value in _cells(row)]
    best = max((score for score, _ in scored), default=0)
    return [value for score, value in scored if score == best], best


def misattributed(answer: str, passages: list[Hit], question: str) -> str:
    """Why the answer's figures belong to another row, item or column than the question asks for ("" when they
    do not): asked about buoy B3, a date from B1's row is stated in the passage, but not about B3; asked for
    Alaska's total, the row's handgun count; asked for one case's docket number, another document's. Judged
    only where some passage names the question's name (rows and items: where some row or item does)."""
    names = subject_names(question)
    figures = sorted(set(_invented(_claims(answer), _numbers(question))))  # the answer's own figures, not the question's
    # a document that names the subject in any of its passages may state its figures in another (a table below)
    named_docs = {passages[n - 1].chunk.doc_id for n in _naming(passages, names)}
    stated_there = _numbers(_evidence(passages, {i for i, h in enumerate(passages, 1) if h.chunk.doc_id in named_docs}))
    if named_docs and any(not _stated(x, stated_there) for x in figures):
        return "the answer's figures come from documents that do not name what the question asks about"
    every = _units(passages)
    units = [passages[n - 1].chunk.text[a:b] for n, (a, b) in units_naming(passages, names, every)]
    if not units:
        return ""
    stated = set().union(*(_numbers(u) for u in units))
    # a figure counts as another record's only when another row or item states it (not when prose does)
    elsewhere = set().union(*(_numbers(text) for _, _, text in every))
    stray = [x for x in figures if not _stated(x, stated) and x in elsewhere]
    if stray:
        return f"the passages give {', '.join(stray)} for something other than {', '.join(_words_naming(question, names))}"
    for x in figures:
        rows = [u for u in units if ROW_CELL in u and x in _numbers(u)]
        best = [_best_cells(u, question, names) for u in rows]
        if best and all(score and not any(x in _numbers(v) for v in values) for values, score in best):
            return f"the passages give {x} under another column than the one asked for"
    # a row is the record of what the question names (its first cell names it) and has the column it asks for, which
    # holds a figure: a figure from elsewhere (a date in a report about the same buoy) is not the answer
    keyed = [u for u in units if ROW_CELL in u and names & set(tokenize(_cells(u)[0][1]))]
    asked = [values for values, score in (_best_cells(u, question, names) for u in keyed)
             if score and any(_numbers(v) for v in values)]
    if figures and asked and not any(_stated(x, _numbers(v)) for values in asked for v in values for x in figures):
        given = [v for values in asked for v in values if not names & set(tokenize(v))]
        return f"the row for {', '.join(_words_naming(question, names))} gives {'; '.join(given)}"
    return ""


def _words_naming(question: str, names: set[str]) -> list[str]:
    """The question's words that hold its names, as it writes them ("B3", "Alaska")."""
    return [w.strip("?.,;:!") for w in question.split() if set(tokenize(w)) & names]


def _naming(passages: list[Hit], names: set[str]) -> list[int]:
    """The numbers of the passages that name any of ``names`` (in their text, source, title, section or context)."""
    # the situated context carries the expansions of the acronyms a passage uses ("RTU: Remote Telemetry Unit");
    # the source path often names the product ("postgresql/datatype-numeric.html")
    return [n for n, h in enumerate(passages, 1)
            if names & set(tokenize(f"{h.chunk.source} {h.chunk.title} {h.chunk.section} {h.chunk.context} {h.chunk.text}"))]


def named_units(passages: list[Hit], question: str) -> dict[int, list[str]]:
    """Per passage number, the rows and items that name the question's name, each row cut to its first cell and
    the cells the question asks for (all of it when no header matches), or else the passages that name it: the
    evidence of a second try."""
    names = subject_names(question)
    out: dict[int, list[str]] = {}
    for n, (a, b) in units_naming(passages, names):
        unit = " ".join(passages[n - 1].chunk.text[a:b].split())
        if ROW_CELL in unit:
            values, score = _best_cells(unit, question, names)
            if score:
                first = _cells(unit)[0]
                kept = [f"{h}: {v}" if h else v for h, v in _cells(unit)[1:] if v in values]
                unit = ROW_CELL.join([f"{first[0]}: {first[1]}" if first[0] else first[1], *kept])
        out.setdefault(n, []).append(unit)
    if not out:  # no row or item names it: the passages that do, whole
        out = {n: [passages[n - 1].chunk.text] for n in _naming(passages, names)}
    return out


_ASKS_DEFAULT = re.compile(r"\bdefaults?\b", re.I)
_SAYS_DEFAULT = re.compile(r"\bdefault|\binitial|\bunless\b|\botherwise\b|\bnormally\b|\bfactory\b|\bpreset\b", re.I)


def not_the_default(answer: str, passages: list[Hit], question: str) -> str:
    """Why the answer's figures are not a default the passages give ("" when they are, or when the question asks
    for no default): asked for a default the documents do not state, small models give a figure stated for
    something else (the maximum page size as the default one, a code example's font size). A figure counts when
    a passage sentence states it where that sentence, the one before it, or the passage's section speaks of a
    default ("defaults to", "by default", "initially", "unless", "normally")."""
    if not _ASKS_DEFAULT.search(question):
        return ""
    figures = sorted(set(_invented(_claims(answer), _numbers(question))))
    if not figures:
        return ""
    for hit in passages:
        said = split_sentences(hit.chunk.text)
        for i, sentence in enumerate(said):
            if not _invented(" ".join(figures), _numbers(sentence)) and (
                    _SAYS_DEFAULT.search(" ".join(said[max(0, i - 1): i + 1])) or _SAYS_DEFAULT.search(hit.chunk.section)):
                return ""
    return f"the passages state {', '.join(figures)}, but not as a default"


def unsupported(answer: str, passages: list[Hit], min_term_support: float = MIN_TERM_SUPPORT, question: str = "") -> str:
    """Why an answer is not supported by the passages ("" when it is): a number the passages never state, or
    too few of its content words in them. Small models invent figures; this catches the common case.
    Numbers and words the question states are not invented when the answer repeats them ("in the week of 14
    October"); figures compare as numbers ("five points" states 5)."""
    body = _claims(answer)
    marked = cited_numbers(answer, passages)  # numbers must come from the passages the answer cites (all when it cites none)
    evidence = _evidence(passages, marked)
    invented = _invented(body, _numbers(f"{evidence} {question}"))
    if invented:
        return f"the passages do not state {', '.join(sorted(set(invented)))}"
    # an option, format or identifier no passage writes is the model's memory of another program (any passage: a
    # name listed beside the cited one is often written in a neighbouring passage of the same table)
    everywhere = _evidence(passages, set()) if marked else evidence
    code = [c for c in code_written(body) if c not in everywhere and c not in question]
    if code:
        return f"the passages do not write {', '.join(sorted(set(code)))}"
    terms = set(tokenize(body))
    known = set(tokenize(evidence)) | set(tokenize(question))  # saying the question back invents nothing
    if terms and len(terms & known) / len(terms) < min_term_support:
        return "most of the answer's words do not occur in the passages"
    return ""
