"""The answer policy: passages in, a checked and cited answer out, as a stream of events.

Retrieval first (an event with the passages), then the answer's tokens, then the finished ``Answer``. Nothing
is shown while a reply is only citation markers or passage headers (a lone "[1]" is asked again once with a
cue for a sentence); a draft the passages do not back is withheld with its reason.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Callable, Iterator

from rag.answer.checks import (
    corrected_decision,
    decision_of,
    misattributed,
    named_units,
    not_the_default,
    recite,
    settles,
    unsupported,
    without_decision,
)
from rag.answer.citations import cite, grounds
from rag.answer.evidence import Evidence, compress, evidence_budget, fit_passages, pointed_sentence, whole
from rag.answer.prompt import (
    HEADER_TOKENS,
    Prompt,
    ask_for_a_sentence,
    build_prompt,
    clean_rewrite,
    is_decision,
    prompt_overhead,
    rewrite_messages,
)
from rag.answer.reply import answer_start, cited_numbers, has_words, is_abstention
from rag.answer.subjects import not_in_passages, not_mentioned, unknown_subjects, unstated_figures
from rag.core.config import GenerateConfig
from rag.core.errors import RagError
from rag.core.types import Answer, AnswerDone, Citation, Event, Failed, Hit, RetrievalDone, Token, Waiting
from rag.llm.queue import Queued
from rag.llm.tokens import TokenCounter
from rag.retrieval.sentence_scores import SentenceIndex

log = logging.getLogger(__name__)


class Answerer:
    def __init__(self, config: GenerateConfig, search: Callable[[str, int], list[Hit]], generator: Callable[[], Queued],
                 sentences: SentenceIndex, mentions: Callable[[str], bool] = lambda token: True,
                 pieces: Callable[[str], int] | None = None):
        self.config = config
        self.search = search
        self.mentions = mentions  # whether the corpus holds an analyzed token anywhere
        self.pieces = pieces  # how many pieces the embedder's vocabulary splits a word into: names split, words do not
        self.generator = generator  # called when a model is needed: a question with no passages loads none
        self.sentences = sentences

    def stream(self, question: str, history: list[dict[str, str]] | None = None) -> Iterator[Event]:
        g = self.config
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            if history:
                question = self.standalone_question(question, history)
                timings["rewrite"] = time.perf_counter() - t0
            hits = self.search(question, max(g.passages, 1))[: g.passages]
        except RagError as exc:
            yield Failed(str(exc))
            return
        timings["retrieve"] = time.perf_counter() - t0
        yield RetrievalDone(tuple(hits))
        if not hits or self._too_weak(hits):
            yield AnswerDone(Answer(g.abstain_text, (), tuple(hits), True, timings, question))  # closest passages still shown
            return
        unknown = unknown_subjects(question, self.mentions, self.pieces)
        if unknown:  # the thing asked about is in no document: any answer would be about something else
            yield AnswerDone(Answer(not_mentioned(unknown), (), tuple(hits), True, timings, question))
            return
        figures = unstated_figures(question, [f"{h.chunk.source} {h.chunk.title} {h.chunk.section} {h.chunk.text}" for h in hits])
        if figures:  # the version or year asked about is in no passage found: an answer would be about another
            yield AnswerDone(Answer(not_in_passages(figures), (), tuple(hits), True, timings, question))
            return
        generator = self.generator()
        count = generator.count_tokens
        prompt, trimmed, budget = self.compose(question, hits, count)
        timings["evidence"] = time.perf_counter() - t0
        parts: list[str] = []
        replies: list[str] = []  # what each try said while nothing of it could be shown
        retried = False
        if ahead := generator.ahead():
            yield Waiting(ahead)
        try:
            for messages in (prompt.messages, ask_for_a_sentence(prompt.messages)):
                held: list[str] = []
                # None marks the reply's end: its last word is complete, and what is held is read once more
                for piece in itertools.chain(generator.stream(messages, g.max_tokens, g.temperature), [None]):
                    if parts:
                        if piece is not None:
                            parts.append(piece)
                            yield Token(piece)
                        continue
                    if piece is not None:
                        held.append(piece)
                    shown = answer_start("".join(held), prompt.passages, question, complete=piece is None)
                    if shown:
                        timings["first_token"] = time.perf_counter() - t0
                        parts.append(shown)
                        yield Token(shown)
                replies.append("".join(held))
                if parts or retried:
                    break
                log.info("the model answered only %r; asking again for a sentence", "".join(held))
                retried = True
        except RagError as exc:
            yield Failed(str(exc))
            return
        pointed = next((sorted(n) for r in reversed(replies) if (n := cited_numbers(r, prompt.passages))), [])
        if not parts and pointed and (quote := pointed_sentence(question, prompt.passages[pointed[0] - 1], self.sentences)):
            # asked twice, the model only pointed at a passage ("[2]"): its sentence nearest the question, quoted
            log.info("the model only pointed at passage %d; quoting its sentence nearest the question", pointed[0])
            parts.append(f'"{quote}" [{pointed[0]}]')
            timings["first_token"] = time.perf_counter() - t0
            yield Token(parts[-1])
        text = "".join(parts).strip()
        timings["total"] = time.perf_counter() - t0
        abstained = is_abstention(text, g.abstain_text)
        if not has_words(text):
            text = f"{g.abstain_text} (The model gave no answer text.)"
        deciding = is_decision(question)
        ground = grounds(question, prompt.passages) if deciding else None
        if deciding and abstained and decision_of(text) and ground is not None and settles(question, ground.quote):
            # "Yes, I could not find this in the documents.": a decision said, then taken back; when a passage
            # sentence carries most of the question, that sentence decides (below) and the taking back goes
            log.info("decision kept from a reply that also abstained: %r", text)
            text, abstained = f"{decision_of(text).capitalize()}.", False
        if not abstained:
            text = recite(text, prompt.passages, question)
        if ground is not None and not abstained:
            fixed = corrected_decision(text, question, ground.quote)
            if fixed != text:
                log.info("decision corrected by its passage sentence: %r -> %r", text, fixed)
                text = f"{fixed} [{ground.n}]"
        decided = decision_of(text) if deciding else ""
        claim = without_decision(text) if decided else text
        # a decision is checked on the sentence it gives, not on the word "Yes"
        reason = "" if abstained or not has_words(claim) else (unsupported(claim, prompt.passages, question=question)
                                                               or not_the_default(claim, prompt.passages, question))
        repaired = 0.0
        if not abstained and not reason and (stray := misattributed(claim, prompt.passages, question)):
            fixed = self._repair(question, prompt.passages, budget, generator)
            if fixed is None:
                reason = stray
            else:
                log.info("answer repaired (%s): %r -> %r", stray, text, fixed)
                text, repaired = fixed, 1.0
        withheld = ""
        citations: tuple[Citation, ...] = ()
        if not reason:
            citations = () if abstained else tuple(cite(text, prompt.passages, question=question))
            if decided and not citations and ground is not None:
                text = f'{text.rstrip()} "{ground.quote}" [{ground.n}]'  # a bare decision, shown with what it rests on
                citations = (ground,)
            if not abstained and not citations:  # an answer that no passage can be shown to state is not shown
                reason = "no passage states it"
        if reason:  # a draft the passages do not back is not shown as an answer
            log.info("answer withheld (%s): %r", reason, text)
            withheld, text, abstained = text, f"{g.abstain_text} (A draft answer was withheld: {reason}.)", True
        notes = {"dropped_passages": float(prompt.dropped), "trimmed_passages": float(trimmed), "prompt_budget": float(budget),
                 "tokens_counted_exactly": float(count.exact), "asked_again": float(retried), "repaired": repaired,
                 "prompt_tokens": float(generator.last_usage.get("prompt_tokens", 0))}
        yield AnswerDone(Answer(text, citations, tuple(prompt.passages), abstained, {**timings, **notes}, question, withheld,
                                prompt.messages[-1]["content"]))

    def compose(self, question: str, hits: list[Hit], count: TokenCounter) -> tuple[Prompt, int, int]:
        """The prompt for ``question`` over ``hits``: the evidence (compressed or whole), cut to fit the model's
        window with the answer; returns it with the number of passages cut and the prompt budget."""
        g = self.config
        budget = min(g.max_prompt_tokens, g.n_ctx - g.max_tokens - 16)
        room = budget - prompt_overhead(question, g.abstain_text, count) - HEADER_TOKENS
        if g.compress:
            keep = evidence_budget(hits, room, count, g.evidence_tokens, g.evidence_share)
            evidence = compress(question, hits, self.sentences, keep, count, g.lead_share)
        else:
            evidence = whole(hits)
        evidence, trimmed = fit_passages(question, evidence, self.sentences, room, count)
        return build_prompt(question, evidence, budget, g.abstain_text, count), trimmed, budget

    def _repair(self, question: str, passages: list[Hit], budget: int, generator: Queued) -> str | None:
        """Ask once more, shown only the rows and items that name the question's name, rows cut to the cells it asks
        for (the model took a value from a neighbouring row or column); the new answer, its markers numbered as in
        ``passages``, or None when it fails too."""
        g = self.config
        units = named_units(passages, question)
        evidence = [Evidence(hit, "\n".join(units[n]), ()) for n, hit in enumerate(passages, 1) if n in units]
        retry = build_prompt(question, evidence, budget, g.abstain_text, generator.count_tokens)
        try:
            text = generator.complete(retry.messages, g.max_tokens, g.temperature).strip()
        except RagError:
            return None
        number = {i: passages.index(h) + 1 for i, h in enumerate(retry.passages, 1)}
        text = re.sub(r"\[(\d{1,2})\]", lambda m: f"[{number.get(int(m.group(1)), int(m.group(1)))}]", text)
        if (is_abstention(text, g.abstain_text) or not answer_start(text, passages, question)  # a marker for the value
                or unsupported(text, passages, question=question) or misattributed(text, passages, question)):
            return None
        return text

    def _too_weak(self, hits: list[Hit]) -> bool:
        """Nothing worth reading: no keyword match and no passage close in meaning (the LLM is not asked)."""
        dense = max((h.scores.get("dense", 0.0) for h in hits), default=0.0)
        bm25 = max((h.scores.get("bm25", 0.0) for h in hits), default=0.0)
        return bm25 <= 0.0 and dense < self.config.min_dense_score

    def standalone_question(self, question: str, history: list[dict[str, str]]) -> str:
        """Rewrite a follow-up ("and the second one?") into a question that stands alone, using the chat history."""
        if not any(m.get("role") == "user" for m in history):
            return question
        text = self.generator().complete(rewrite_messages(history, question), max_tokens=64, temperature=0.0)
        return clean_rewrite(text, question)
