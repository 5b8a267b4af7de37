"""Reading a reply as it streams: citation markers, echoed passage headers, abstentions."""

from __future__ import annotations

import re

from rag.answer.prompt import is_decision, passage_header
from rag.core.analyzer import tokenize
from rag.core.types import Hit

MARKER = re.compile(r"\[(\d{1,2})(?:\s*,\s*(\d{1,2}))*\]")
_ABSTAIN = re.compile(
    r"(could not|couldn't|cannot|can't|unable to) (find|answer|determine)|not (found|mentioned|provided|"
    r"contained|specified|stated|included|present) in the ((given|provided|above|supplied) )?(passages|documents|provided|text)|"
    r"(passages?|documents?) do(es)? not (contain|mention|provide|say|specify)|i don't know|no information|"
    # "Ctrl-T does not have a specific function": a small model's way of saying the passages do not give it
    r"(does|do) not have (a|any) specific (function|meaning|purpose|value|role|use)",
    re.IGNORECASE,
)


def answer_start(text: str, passages: list[Hit], question: str = "", complete: bool = False) -> str:
    """The opening of a reply as it may be shown: echoed passage headers taken out (small models start with
    one, or reply with nothing else), and "" while it is still only citation markers, headers, a document
    title or heading, or an unfinished parenthesis that may become a header. Until the reply is ``complete``,
    its last word may be unfinished ("del" of "deletes") and is not yet read as something the question lacks."""
    for n, hit in enumerate(passages, 1):
        header = passage_header(n, hit)
        text = text.replace(header, f"[{n}]").replace(header.removeprefix(f"[{n}] "), "")
    pieces = MARKER.sub("\0", _OPEN_MARKER.sub("", text)).split("\0")  # the text between citation markers
    body = "".join(pieces).strip()
    if not has_words(text) or (body.startswith("(") and ")" not in body):
        return ""
    # a reply that so far only repeats document titles or headings (the 0.5B does) is no answer yet
    labels = " ".join(" | ".join(f"{h.chunk.title} | {h.chunk.section} | {_heading_line(h.chunk.text)}"
                                 for h in passages).lower().split())
    pieces = [" ".join(p.strip(" .:,;").split()).lower() for p in pieces]
    # a heading that names a record ("WO-1192 2024-10-17 H. Drummond" opening a log entry) can be the answer itself:
    # a figure or identifier the question does not hold is news, not an echo
    news = set(re.findall(r"\w*\d[\w-]*", body.lower())) - set(re.findall(r"\w*\d[\w-]*", question.lower()))
    if not news and all(p in labels for p in pieces if re.search(r"\w", p)):
        return ""
    # "The passage number for the answer is [1]", or the question said back with a marker where its answer should
    # be ("the key that deletes the previous word is [4]"): a marker in place of the value is no answer either
    if _ABSTAIN.search(body):  # "I could not find this in the documents" is an answer, not a pointer
        return re.sub(r"[ \t]{2,}", " ", text).lstrip()
    read = body if complete or not re.search(r"\w$", text) else re.sub(r"\w+$", "", body)
    said = set(re.findall(r"[a-z]+", read.lower()))
    if said <= _ABOUT_PASSAGES or (question and not is_decision(question)
                                   and set(tokenize(read)) <= set(tokenize(question)) | ABOUT_TERMS):
        return ""
    return re.sub(r"(\[\d{1,2}\])(\s*\1)+", r"\1", re.sub(r"[ \t]{2,}", " ", text)).lstrip()


# words a reply may consist of while it only points at a passage instead of saying what it holds
_ABOUT_PASSAGES = set("the a an this that it its is are was be can could found find given provided stated in on at of for to "
                      "as by see refer please passage passages number numbers answer answers question document documents "
                      "text source sources information which".split())
ABOUT_TERMS = set(tokenize(" ".join(_ABOUT_PASSAGES)))


def _heading_line(text: str) -> str:
    """A passage's first line when it reads as a heading or a page's running head, not a sentence."""
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= 80 and not line.endswith(".") else ""


def is_abstention(text: str, abstain_text: str) -> bool:
    stripped = text.strip()
    if not has_words(stripped):  # nothing, or only citation markers ("[1] [2]"): small models do this
        return True
    if abstain_text.lower().rstrip(".") in stripped.lower():
        return True
    return bool(_ABSTAIN.search(stripped)) and len(stripped) < 240


_OPEN_MARKER = re.compile(r"\[[\d,\s]*$")  # "[1" or "[1, " while a marker is still being written


def has_words(text: str) -> bool:
    return bool(re.search(r"\w", MARKER.sub("", _OPEN_MARKER.sub("", text))))


def cited_numbers(answer: str, passages: list[Hit]) -> set[int]:
    return {int(g) for m in MARKER.finditer(answer) for g in m.groups() if g and 1 <= int(g) <= len(passages)}
