"""Image files (PNG, JPEG, TIFF; each frame of a multi-page TIFF is a page): their text, read by OCR."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ingest.document import Document, ScannedPage, first_line_title
from ingest.ocr import MAX_PIXELS, Ocr
from rag.core.errors import IngestError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

# an image this large is refused from its header, before it is decoded: 20,000 x 20,000 pixels would take 1.2 GB
# as RGB. Pillow refuses past twice its limit when it opens a file; this process's limit is set accordingly.
MAX_DECODED_PIXELS = 4 * MAX_PIXELS


def load_image(path: Path, source: str, ocr: Ocr | None = None) -> Document:
    from PIL import Image, UnidentifiedImageError

    if ocr is None:
        raise IngestError(source, "an image: its text can only be read with OCR, which is off (ocr.enabled = false)")
    Image.MAX_IMAGE_PIXELS = MAX_DECODED_PIXELS // 2
    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
            pages = ocr.read_all(_frames(image, source, frames), frames)
    except Image.DecompressionBombError as exc:
        size = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow names the size in its message
        pixels = f"{int(size.group(1)) // 1_000_000} million pixels" if size else "more pixels than that"
        raise IngestError(source, _too_large(pixels)) from None
    except UnidentifiedImageError:
        raise IngestError(source, f"not a readable image (the file does not hold {path.suffix.lstrip('.').upper()} data)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated or corrupt image data
        raise IngestError(source, f"corrupt or truncated image ({exc})") from None
    if not any(p.text.strip() for p in pages):
        raise IngestError(source, "no text found in the image")
    texts = tuple(p.text for p in pages)
    scanned = tuple(ScannedPage(n, p.confidence, p.lines) for n, p in enumerate(pages, 1))
    return Document(source, first_line_title("\n".join(texts), path.stem), texts, (), "image", scanned)


def _too_large(size: str) -> str:
    return f"image too large to read: {size} (at most {MAX_DECODED_PIXELS // 1_000_000} million pixels)"


def _frames(image, source: str, frames: int) -> Iterator:  # noqa: ANN001 - a PIL image, imported lazily
    for n in range(frames):
        image.seek(n)
        width, height = image.size
        if width * height > MAX_DECODED_PIXELS:  # a later TIFF frame: Pillow checked the first one only
            raise IngestError(source, _too_large(f"{width} x {height} pixels"))
        yield image.copy() if frames > 1 else image
