from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.loaders import load, markdown_headings
from rag.core.errors import IngestError
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


def test_pdf_running_heads_and_page_numbers_are_removed_but_body_lines_stay(tmp_path: Path) -> None:
    head = "Harbour Office - Notices, Rev. 7"
    tugs = dict(enumerate(("Ardent", "Brora", "Corran", "Dunvegan"), 1))
    pages = [[head, f"# {n} Part {n}", "Report to the harbour office.", f"Berth {n} opens at 0{n}:00.", f"{tug} stands by.",
              f"Page {n} of 4"] for n, tug in tugs.items()]
    doc = load(write_pdf(tmp_path / "notices.pdf", pages), "notices.pdf")
    for (n, tug), text in zip(tugs.items(), doc.pages):
        assert head not in text and "Page " not in text
        assert text.startswith(f"{n} Part {n}")
        # a body line on every page, but not at a page's edge, is text
        assert text.endswith(f"Report to the harbour office.\nBerth {n} opens at 0{n}:00.\n{tug} stands by.")
    assert doc.title == head  # with no metadata title, the running head still names the document
    chunks = chunk_document(doc)
    assert all(head not in c.text for c in chunks)
    assert all(doc.pages[c.page_start - 1][c.char_start : c.char_end] == c.text for c in chunks)


def test_short_pdfs_keep_their_edge_lines(tmp_path: Path) -> None:
    pages = [["Harbour Office", f"Berth {n} opens at dawn."] for n in (1, 2)]  # too few pages to tell a running head
    doc = load(write_pdf(tmp_path / "short.pdf", pages), "short.pdf")
    assert all(text.startswith("Harbour Office") for text in doc.pages)


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


def test_html_keeps_text_and_headings_drops_scripts(tmp_path: Path) -> None:
    page = tmp_path / "guide.html"
    page.write_text(
        "<html><head><title>Dock Guide</title><style>p{color:red}</style><script>var secret=1;</script></head>"
        "<body><h1>Dock guide</h1><p>Boats moor at <b>berth 4</b>.</p><h2>Fuel</h2><p>Diesel only.</p>"
        "<table><tr><th>Item</th><th>Limit</th></tr><tr><td>Speed</td><td>3 knots</td></tr></table></body></html>"
    )
    doc = load(page)
    assert doc.title == "Dock Guide"
    assert "Boats moor at berth 4 ." in doc.pages[0] or "Boats moor at berth 4." in doc.pages[0]
    assert "Item: Speed | Limit: 3 knots" in doc.pages[0]  # a row carries its headers
    assert "secret" not in doc.pages[0] and "color" not in doc.pages[0]
    assert [(h.level, h.text) for h in doc.headings] == [(1, "Dock guide"), (2, "Fuel")]
    assert all(doc.pages[0][h.char_start :].startswith(h.text) for h in doc.headings)


def test_docx_headings_paragraphs_tables(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Winter plan", level=1)
    d.add_paragraph("Snow chains go on all vehicles by 1 November.")
    d.add_heading("Stores", level=2)
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Item", "Stock"
    table.cell(1, 0).text, table.cell(1, 1).text = "Salt", "40 bags"
    d.save(str(tmp_path / "plan.docx"))
    doc = load(tmp_path / "plan.docx")
    assert doc.title == "Winter plan"
    assert "Snow chains go on all vehicles by 1 November." in doc.pages[0]
    assert "Item: Salt | Stock: 40 bags" in doc.pages[0]
    assert [(h.level, h.text) for h in doc.headings] == [(1, "Winter plan"), (2, "Stores")]


@pytest.mark.parametrize(("name", "data", "reason"), [("fake.docx", b"plain text, not a zip", "not a valid DOCX"),
                                                      ("fake.html", b"just words without any markup at all", "not an HTML")])
def test_files_that_are_not_what_their_extension_says(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(IngestError, match=reason):
        load(tmp_path / name, name)


def test_markdown_tables_become_rows_that_name_their_columns(tmp_path: Path) -> None:
    (tmp_path / "buoys.md").write_text(
        "# Buoys\n\n| Buoy | Depth | Deployed |\n|---|---:|---|\n| B1 | 42 m | 14 May 2022 |\n| B3 | 78 m | 2 August 2023 |\n\n"
        "| Field | Detail |\n|---|---|\n| Status | Closed |\n\n```\n| not | a table |\n|---|---|\n```\n")
    page = load(tmp_path / "buoys.md").pages[0]
    assert "Buoy: B3 | Depth: 78 m | Deployed: 2 August 2023" in page
    assert "Status: Closed" in page and "|---|---:|---|" not in page
    assert "| not | a table |\n|---|---|" in page  # code is left as written
    from rag.core.sentences import split_sentences

    assert "Buoy: B1 | Depth: 42 m | Deployed: 14 May 2022" in split_sentences(page)  # a row is a unit of its own


def test_ruled_pdf_tables_become_rows_that_name_their_columns(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 7, "Table 1 - Buoy positions and deployment dates", new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as table:
        for row in (("Buoy", "Water depth", "Deployed"), ("B1", "42 m", "14 May 2022"), ("B3", "78 m", "2 August 2023")):
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.multi_cell(0, 7, "B3 is the furthest out.", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "buoys.pdf"))
    page = load(tmp_path / "buoys.pdf").pages[0]
    assert "Buoy: B3 | Water depth: 78 m | Deployed: 2 August 2023" in page
    assert "Buoy: B1 | Water depth: 42 m | Deployed: 14 May 2022" in page
    assert "B3 is the furthest out." in page


def test_pdf_tables_with_merged_header_cells_name_each_column_by_its_group(tmp_path: Path) -> None:
    """A statistics table: a title across it, group names over two columns each, the columns' own names below."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    with pdf.table(text_align="CENTER") as table:
        table.row().cell("Background checks, November 2015", colspan=5)
        header = table.row()
        header.cell("State")
        header.cell("Pre-Pawn", colspan=2)
        header.cell("Redemption", colspan=2)
        sub = table.row()
        for name in ("", "Handgun", "Long Gun", "Handgun", "Long Gun"):
            sub.cell(name)
        for values in (("Alabama", "14", "15", "2,179", "2,307"), ("Texas", "29", "20", "5,748", "5,331")):
            cells = table.row()
            for value in values:
                cells.cell(value)
    pdf.output(str(tmp_path / "checks.pdf"))
    page = load(tmp_path / "checks.pdf").pages[0]
    assert ("State: Texas | Pre-Pawn Handgun: 29 | Pre-Pawn Long Gun: 20 | Redemption Handgun: 5,748 | "
            "Redemption Long Gun: 5,331") in page, page
    assert "State: Alabama | Pre-Pawn Handgun: 14" in page


def test_dot_leader_tables_become_rows_that_name_their_columns(tmp_path: Path) -> None:
    write_pdf(tmp_path / "costs.pdf", [["ESTIMATED COSTS",
                                         "Action Labor cost Parts cost Cost on U.S. operators",
                                         "AFM revisions ...... 1 work-hour ...... $0 ........ $6,205.",
                                         "MDS installation and verification, INOP",
                                         "marker removal.",
                                         "1 work-hour ...... $0 ........ $6,205.",
                                         "Wiring change .. Up to 79 work-hours =",
                                         "Up to $6,715.",
                                         "Up to $3,790 ........ Up to $766,865.",
                                         "The estimate... is rough, and it",
                                         "may change."]])
    page = load(tmp_path / "costs.pdf").pages[0]
    assert ("Action: AFM revisions | Labor cost: 1 work-hour | Parts cost: $0 | Cost on U.S. operators: $6,205."
            in page), page
    assert ("Action: MDS installation and verification, INOP marker removal. | Labor cost: 1 work-hour | "
            "Parts cost: $0" in page)
    assert ("Action: Wiring change | Labor cost: Up to 79 work-hours = Up to $6,715. | Parts cost: Up to $3,790 | "
            "Cost on U.S. operators: Up to $766,865." in page)
    assert "The estimate... is rough, and it\nmay change." in page  # the text after the table, as it was


def test_words_broken_at_pdf_line_ends_are_whole_and_margin_numbers_go(tmp_path: Path) -> None:
    margin = [str(n) for n in range(1, 26)]
    write_pdf(tmp_path / "ratified.pdf", [[*margin, "Georgia, January 2, 1788; Connecticut, January 9, 1788; Massa-",
                                           "chusetts, February 6, 1788; the self-",
                                           "governing States, each self-governing, and the FAA-",
                                           "approved plan."]])
    page = load(tmp_path / "ratified.pdf").pages[0]
    assert "Massachusetts, February 6, 1788" in page
    assert "self-governing States" in page and "FAA-approved plan" in page  # compounds keep their hyphen
    assert not any(line.strip() == "7" for line in page.split("\n"))


def test_html_navigation_is_dropped_and_a_note_box_is_no_section(tmp_path: Path) -> None:
    (tmp_path / "numeric.html").write_text(
        "<html><head><title>8.1. Numeric Types</title></head><body>"
        '<div class="navheader"><a href="prev.html">Prev</a> <a href="next.html">Next</a></div>'
        "<h2>8.1. Numeric Types</h2>"
        '<div class="toc"><dl><dt>8.1.1. Integer Types</dt><dt>8.1.2. Serial Types</dt></dl></div>'
        "<p>Numeric types consist of integers and decimals.</p>"
        "<h3>8.1.1. Integer Types</h3><p>The type smallint holds -32768 to +32767.</p>"
        '<div class="note"><h3 class="title">Note</h3><p>Overflow raises an error.</p></div>'
        "<p>The type integer is the common choice.</p>"
        '<div class="navfooter"><a href="index.html">Home</a></div></body></html>')
    doc = load(tmp_path / "numeric.html")
    page = doc.pages[0]
    assert "Prev" not in page and "Home" not in page and "8.1.2. Serial Types" not in page
    assert page.startswith("8.1. Numeric Types\n\nNumeric types consist")
    assert "Overflow raises an error." in page  # the note's text stays
    assert [h.text for h in doc.headings] == ["8.1. Numeric Types", "8.1.1. Integer Types"]
    chunks = chunk_document(doc, 1000, 0)
    assert all(c.section.endswith("8.1.1. Integer Types") for c in chunks if "common choice" in c.text)


def test_plain_text_headings_are_found_where_people_type_them(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text(
        "STATION MEETING NOTES\n\nHeld every Monday.\n\n" + "-" * 40 + "\nMEETING OF MONDAY 14 OCTOBER 2024\n" + "-" * 40
        + "\nPresent: MO, HD\nSDO this week: Ingrid Solberg\n\n" + "-" * 40 + "\nWO-1192   2024-10-17   H. Drummond\n"
        "Work done: injector replaced.\n\nSummary\n=======\nAll closed.\nNOT A HEADING because it follows text\n")
    doc = load(tmp_path / "notes.txt")
    assert [h.text for h in doc.headings] == ["STATION MEETING NOTES", "MEETING OF MONDAY 14 OCTOBER 2024",
                                              "WO-1192 2024-10-17 H. Drummond", "Summary"]
    chunks = chunk_document(doc, 1000, 0)
    solberg = next(c for c in chunks if "Ingrid Solberg" in c.text)
    assert solberg.section == "MEETING OF MONDAY 14 OCTOBER 2024" and solberg.text.startswith("MEETING OF MONDAY")
