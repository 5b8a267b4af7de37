from pathlib import Path

import pytest

from ingest.loaders import load, markdown_headings
from rag.errors import IngestError
from tests.conftest import write_pdf


def test_pdf_pages_and_headings(tmp_path: Path) -> None:
    pdf = write_pdf(
        tmp_path / "manual.pdf",
        [["# 1 Introduction", "The pump room is on deck two."], ["# 2 Limits", "# 2.1 Pressure", "Maximum pressure is 7 bar."]],
        title="Pump Manual",
    )
    doc = load(pdf, "manual.pdf")
    assert doc.format == "pdf"
    assert doc.title == "Pump Manual"
    assert len(doc.pages) == 2
    assert "Maximum pressure is 7 bar." in doc.pages[1]
    assert [(h.page, h.level, h.text) for h in doc.headings] == [(1, 1, "1 Introduction"), (2, 1, "2 Limits"), (2, 2, "2.1 Pressure")]


def test_markdown_headings_skip_code_fences(tmp_path: Path) -> None:
    text = "# Title\n\nIntro.\n\n```\n# not a heading\n```\n\n## Part A\nBody.\n"
    path = tmp_path / "a.md"
    path.write_text(text)
    doc = load(path, "a.md")
    assert doc.title == "Title"
    assert [(h.level, h.text) for h in markdown_headings(text)] == [(1, "Title"), (2, "Part A")]
    assert all(text[h.char_start :].startswith("#") for h in doc.headings)


def test_text_encodings(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 cr\xe8me costs 3 euros.".encode("latin-1"))
    (tmp_path / "utf16.txt").write_bytes("Na\u00efve r\u00e9sum\u00e9 text.".encode("utf-16"))  # encode adds the BOM
    assert load(tmp_path / "latin.txt").pages[0].startswith("Café crème")
    assert load(tmp_path / "utf16.txt").pages[0] == "Naïve résumé text."


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("binary.txt", bytes(range(256)) * 4, "binary"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj <<", "corrupt"),
        ("notes.xyz", b"hello", "unsupported"),
    ],
)
def test_bad_files_raise_ingest_error(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(IngestError) as err:
        load(path, name)
    assert err.value.path == name
    assert reason in err.value.reason


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 50, 50, style="F")  # drawing only, no text
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(IngestError, match="no text layer"):
        load(tmp_path / "scan.pdf")
