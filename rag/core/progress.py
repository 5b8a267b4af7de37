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
INDEXED = "chunks indexed"  # reported as batches are written, total 0 (unknown) until the last: chunks/s of the whole run
UNITS = {READING: "file", OCR_PAGES: "page", INDEXED: "chunk", EMBEDDING: "chunk", EMBEDDING_SENTENCES: "chunk",
         ANSWERING: "question", KEYWORDS: "chunk"}


class TerminalBars:
    """A ``Report`` drawing a tqdm bar per step on the terminal, one under the other while steps overlap (files
    read while chunks are written); a bar closes when its step is done. A total of 0 is unknown: that bar counts
    and shows its rate."""

    def __init__(self) -> None:
        self._bars: dict[str, tqdm] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        bar = self._bars.get(step)
        if bar is None:
            bar = self._bars[step] = tqdm(total=total or None, desc=step, unit=UNITS.get(step, "it"), position=len(self._bars))
        bar.total = total or None
        bar.update(done - bar.n)
        if total and done >= total:
            bar.close()
            del self._bars[step]

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


def reporter(progress: Progress) -> Report:
    """The ``Report`` for what a caller passed."""
    if callable(progress):
        return progress
    return TerminalBars() if progress else silent
