"""Scans and images: pages without a text layer are read by OCR (real Tesseract from its wheel), searchable and
cited with their page; bad images are reported per file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import load
from ingest.ocr import Ocr
from rag.core.errors import IngestError
from rag.core.progress import INDEXED, OCR_PAGES
from tests.conftest import write_pdf

FERRY = ["# Harbour ferry timetable",
         "The morning ferry to Kestrel Island leaves the north pier at 07:40 and returns at 09:15.",
         "Bicycles travel free of charge on every crossing."]
LIGHTHOUSE = ["# Lighthouse keeping",
              "The Marrow Point lighthouse lamp is cleaned every Thursday by the relief keeper.",
              "Its fog signal sounds twice every thirty seconds."]


def _images(pdf_path: Path, dpi: int = 150) -> list:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(pdf_path))
    return [pdf[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(pdf))]


def _scan(text_pdf: Path, out: Path) -> Path:
    """What a scanner makes of ``text_pdf``: each page an image, no text layer."""
    first, *rest = _images(text_pdf)
    first.save(out, save_all=True, append_images=rest, resolution=150)
    return out


def test_a_scanned_pdf_is_searchable_and_cited_with_its_page(tmp_path: Path, make_rag) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _scan(write_pdf(tmp_path / "text.pdf", [FERRY, LIGHTHOUSE]), docs / "harbour-scan.pdf")
    (docs / "notes.txt").write_text("The harbour office opens at nine.\n")
    rag = make_rag()
    steps: list[tuple[str, int, int]] = []
    seen_first: list[list[str]] = []

    def progress(step: str, done: int, total: int) -> None:
        if step == OCR_PAGES and not seen_first:  # the text file is written before the scan is read
            seen_first.append([d.source for d in rag.documents()])
        steps.append((step, done, total))

    report = rag.ingest(docs, progress=progress)
    assert not report.failed, report.failed
    assert (OCR_PAGES, 2, 2) in steps  # the bar counts pages
    indexed = [(done, total) for step, done, total in steps if step == INDEXED]
    assert indexed[-1] == (rag.index.count(), rag.index.count())  # and one counts chunks as they are written
    assert seen_first == [["docs/notes.txt"]]
    hit = rag.search("When is the Marrow Point lighthouse lamp cleaned?", k=1)[0]
    assert hit.chunk.source == "docs/harbour-scan.pdf"
    assert hit.chunk.page_start == 2
    assert "cleaned every Thursday" in hit.chunk.text
    assert hit.chunk.ocr_confidence is not None and hit.chunk.ocr_confidence > 0.8
    lamp = next(b for b in hit.chunk.lines if "lamp" in hit.chunk.text[b.start - hit.chunk.char_start : b.end - hit.chunk.char_start])
    assert 0 <= lamp.x0 < lamp.x1 <= 1 and 0 <= lamp.y0 < lamp.y1 <= 1
    text_hit = rag.search("Kestrel Island ferry", k=1)[0]
    assert (text_hit.chunk.source, text_hit.chunk.page_start) == ("docs/harbour-scan.pdf", 1)


def test_a_pdf_of_text_and_scanned_pages_keeps_both(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    text_pdf = write_pdf(tmp_path / "text.pdf", [FERRY, LIGHTHOUSE])
    scanned = _scan(text_pdf, tmp_path / "scan.pdf")
    writer = PdfWriter()
    writer.add_page(PdfReader(text_pdf).pages[0])  # page 1: text layer
    writer.add_page(PdfReader(scanned).pages[1])  # page 2: an image
    writer.write(tmp_path / "mixed.pdf")
    doc = load(tmp_path / "mixed.pdf", "mixed.pdf", Ocr())
    assert "Kestrel Island" in doc.pages[0] and "Marrow Point" in doc.pages[1]
    assert [p.page for p in doc.scanned] == [2]
    with pytest.raises(IngestError, match="OCR is off"):
        load(scanned, "scan.pdf", None)


def test_text_inside_a_figure_on_a_page_with_text_is_read_too(tmp_path: Path) -> None:
    from fpdf import FPDF

    figure = _images(write_pdf(tmp_path / "figure.pdf", [LIGHTHOUSE]), dpi=150)[0]
    figure = figure.crop((0, 0, figure.width, figure.height // 3))  # the paragraph, as a pasted-in image
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 7, "Harbour notice. The figure below is copied from the keepers' handbook.")
    pdf.image(figure, x=10, y=40, w=190)
    pdf.output(str(tmp_path / "notice.pdf"))
    doc = load(tmp_path / "notice.pdf", "notice.pdf", Ocr())
    own, _, read = doc.pages[0].partition("\n\n")
    assert own.startswith("Harbour notice.") and "Marrow Point lighthouse lamp is cleaned every Thursday" in read
    (page,) = doc.scanned
    assert page.lines and all(b.start >= len(own) for b in page.lines)  # only the figure's lines are OCR's
    assert all(b.y0 >= 40 / 297 - 0.01 for b in page.lines)  # boxes on the page, below where the figure starts
    assert "Marrow Point" not in load(tmp_path / "notice.pdf", "notice.pdf", None).pages[0]


def test_an_image_of_a_paragraph_answers_a_question(tmp_path: Path, make_rag) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _images(write_pdf(tmp_path / "text.pdf", [FERRY]))[0].save(docs / "ferry.png")
    first, second = _images(write_pdf(tmp_path / "two.pdf", [FERRY, LIGHTHOUSE]))
    first.save(docs / "both.tiff", save_all=True, append_images=[second])  # a multi-page TIFF: a page per frame
    rag = make_rag()
    assert not rag.ingest(docs, progress=False).failed
    assert load(docs / "both.tiff", "both.tiff", Ocr()).pages[1].count("Marrow Point") == 1
    answer = rag.ask("What time does the morning ferry to Kestrel Island leave?")
    assert not answer.abstained, answer.text
    assert "7:40" in answer.text
    assert answer.citations and answer.citations[0].source in ("docs/ferry.png", "docs/both.tiff")


def test_bad_images_are_reported_per_file_and_the_rest_is_indexed(tmp_path: Path, make_rag) -> None:
    from PIL import Image

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "photo.png").write_text("this is not a picture")
    (docs / "empty.tiff").write_bytes(b"")
    Image.new("1", (20_000, 20_000), 1).save(docs / "huge.png")  # 400 megapixels, a few KB on disk
    Image.new("RGB", (40, 40), "white").save(docs / "blank.jpg")
    (docs / "notes.txt").write_text("The harbour office opens at nine.\n")
    report = make_rag().ingest(docs, progress=False)
    reasons = {r.path: r.reason for r in report.failed}
    assert reasons == {
        "docs/photo.png": "not a readable image (the file does not hold PNG data)",
        "docs/empty.tiff": "empty file (0 bytes)",
        "docs/huge.png": "image too large to read: 400 million pixels (at most 140 million pixels)",
        "docs/blank.jpg": "no text found in the image",
    }
    assert [r.path for r in report.by_status("added")] == ["docs/notes.txt"]
