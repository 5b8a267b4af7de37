from pathlib import Path

from ingest.chunking import chunk_document
from ingest.loaders import load
from tests.conftest import write_pdf

LONG = " ".join(f"Sentence {i} talks about valve {i} and its pressure rating." for i in range(60))


def test_offsets_slice_back_to_chunk_text(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "r.pdf", [["# 1 Valves", LONG[:1500]], ["# 2 Pipes", LONG[1500:3000]]])
    md = tmp_path / "r.md"
    md.write_text(f"# Report\n\n## Valves\n\n{LONG}\n\n## Pipes\n\nShort pipe section.\n")
    for path in (pdf, md):
        doc = load(path)
        chunks = chunk_document(doc, size=400, overlap=60)
        assert len(chunks) > 4
        for c in chunks:
            page = doc.pages[c.page_start - 1]
            assert page[c.char_start : c.char_end] == c.text
            assert len(c.text) <= 400


def test_chunks_carry_pages_sections_and_stable_ids(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "r.pdf", [["# 1 Valves", "Valve text on page one."], ["# 2 Pipes", "# 2.1 Copper", "Copper pipe text."]])
    doc = load(pdf)
    chunks = chunk_document(doc)
    by_text = {c.text.split("\n")[-1]: c for c in chunks}
    assert by_text["Copper pipe text."].page_start == 2
    assert by_text["Copper pipe text."].section == "2 Pipes > 2.1 Copper"
    assert by_text["Valve text on page one."].section == "1 Valves"
    assert [c.id for c in chunks] == [c.id for c in chunk_document(load(pdf))]
    assert len({c.id for c in chunks}) == len(chunks)
