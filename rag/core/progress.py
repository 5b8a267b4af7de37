"""Progress of long work (ingestion, evaluation) as one stream of ``(step, done, total)`` reports.

Work reports through a ``Report`` callable and never draws bars itself, so each front end shows it its own way:
the command line as a terminal bar per step, the app as the one bar of the action that started it.
"""

from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm

Report = Callable[[str, int, int], None]  # (step, e.g. "reading files"; done; total)
Progress = bool | Report  # what callers pass: True for terminal bars, False for none, or their own Report


def silent(step: str, done: int, total: int) -> None:
    """A ``Report`` that shows nothing."""


# the steps long work reports, and what each counts, so its bar reads "12.40chunk/s" rather than "it/s"
READING, EMBEDDING, EMBEDDING_SENTENCES = "reading files", "embedding passages", "embedding sentences"
ANSWERING = "answering questions"
KEYWORDS = "building the keyword index"
OCR_PAGES = "reading scanned pages (OCR)"
UNITS = {READING: "file", OCR_PAGES: "page", EMBEDDING: "chunk", EMBEDDING_SENTENCES: "chunk", ANSWERING: "question", KEYWORDS: "chunk"}


class TerminalBars:
    """A ``Report`` drawing one tqdm bar per step on the terminal; a new step closes the previous bar."""

    def __init__(self) -> None:
        self._step = ""
        self._bar: tqdm | None = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self._step or self._bar is None:
            self.close()
            self._step, self._bar = step, tqdm(total=total, desc=step, unit=UNITS.get(step, "it"))
        bar = self._bar
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def reporter(progress: Progress) -> Report:
    """The ``Report`` for what a caller passed."""
    if callable(progress):
        return progress
    return TerminalBars() if progress else silent
