"""A page of a PDF or image file drawn as a PNG, with boxes highlighted: where the app shows a passage read by OCR
on the page it was read from."""

from __future__ import annotations

import io
import re
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
PAGE_SUFFIXES = (".pdf", *IMAGE_SUFFIXES)
WIDTH = 1100  # pixels across the drawn page: legible on a screen, small to send
MAX_BOXES = 60
MAX_PIXELS = 8_000_000  # a page drawn for the screen, however large the page (a banner-sized PDF page)
_BOX = re.compile(r"^(0(?:\.\d{1,6})?|1(?:\.0{1,6})?),(0(?:\.\d{1,6})?|1(?:\.0{1,6})?),(0(?:\.\d{1,6})?|1(?:\.0{1,6})?),"
                  r"(0(?:\.\d{1,6})?|1(?:\.0{1,6})?)$")


def page_url(document_url: str, page: int, boxes: list[tuple[float, float, float, float]] = ()) -> str:
    """Where the app draws page ``page`` of a document (at ``document_url``, ui.files.document_links) with
    ``boxes`` (fractions of the page: left, top, right, bottom) highlighted."""
    path, _, query = document_url.partition("?")
    hl = "hl=" + ";".join(",".join(f"{v:.4f}" for v in box) for box in boxes[:MAX_BOXES]) if boxes else ""
    return f"{path}/page/{page}" + ("?" + "&".join(q for q in (query, hl) if q) if query or hl else "")


def parse_boxes(value: str) -> list[tuple[float, float, float, float]]:
    """The boxes of an ``hl`` value; anything that is not four fractions is ignored, and there are at most
    ``MAX_BOXES``."""
    boxes = []
    for item in value.split(";")[:MAX_BOXES]:
        m = _BOX.match(item.strip())
        if m:
            x0, y0, x1, y1 = (float(g) for g in m.groups())
            boxes.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    return boxes


def page_png(path: Path, page: int, boxes: list[tuple[float, float, float, float]]) -> bytes | None:
    """Page ``page`` (1-based) of ``path`` as PNG bytes with ``boxes`` highlighted; None when it has no such page."""
    from PIL import Image, ImageDraw

    image = _pdf_page(path, page) if path.suffix.lower() == ".pdf" else _image_frame(path, page)
    if image is None:
        return None
    image = image.convert("RGB")
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    width, height = image.size
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0 * width - 3, y0 * height - 2, x1 * width + 3, y1 * height + 2), fill=(253, 230, 138, 110),
                       outline=(217, 119, 6, 255), width=2)
    out = io.BytesIO()
    Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB").save(out, "PNG", optimize=True)
    return out.getvalue()


def _pdf_page(path: Path, page: int):  # noqa: ANN202 - a PIL image
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        if not 1 <= page <= len(pdf):
            return None
        drawn = pdf[page - 1]
        width, height = (max(1.0, side) for side in drawn.get_size())
        return drawn.render(scale=min(WIDTH / width, (MAX_PIXELS / (width * height)) ** 0.5)).to_pil()
    finally:
        pdf.close()


def _image_frame(path: Path, page: int):  # noqa: ANN202 - a PIL image
    from PIL import Image

    with Image.open(path) as image:
        if not 1 <= page <= getattr(image, "n_frames", 1):
            return None
        image.seek(page - 1)
        if image.format == "JPEG":
            image.draft("RGB", (WIDTH, WIDTH))  # a large photo is decoded at a reduced size
        frame = image.convert("RGB")
    frame.thumbnail((WIDTH, WIDTH * 4))
    return frame
