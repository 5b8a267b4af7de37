"""The Gradio app, served on 127.0.0.1 and called through its API with gradio_client."""

from pathlib import Path

import pytest

from tests.conftest import free_port


@pytest.fixture(scope="module")
def served(sample_rag):  # noqa: ANN001
    from ui.app import serve

    app, url = serve(sample_rag.with_options({"ui.port": free_port()}), block=False)  # a view: the shared fixture stays as it is
    yield url
    app.close()


@pytest.mark.slow
def test_app_binds_loopback_and_answers_through_its_api(served: str) -> None:
    from gradio_client import Client

    assert served.startswith("http://127.0.0.1:")
    client = Client(served, verbose=False)
    text, citations = client.predict("What is the default value of uplink_window_min?", api_name="/ask")
    assert "20" in text
    assert any(c["source"].endswith("operations-manual.pdf") and c["page"] == 4 for c in citations)


def test_serving_beyond_loopback_needs_auth() -> None:
    from rag.core.errors import RagError
    from ui.app import check_exposure

    assert check_exposure("127.0.0.1", "", "", False) is None
    assert check_exposure("0.0.0.0", "ann", "s3cret", False) == ("ann", "s3cret")
    assert check_exposure("0.0.0.0", "", "", True) is None
    with pytest.raises(RagError, match="--no-auth"):
        check_exposure("0.0.0.0", "", "", False)


def test_upload_names_cannot_escape_the_upload_folder() -> None:
    from ui.files import safe_name

    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..\\windows\\evil.md") == "evil.md"
    assert safe_name('report "final" ü.pdf') == "report _final_ ü.pdf"
    assert safe_name("..") == "upload"


def _get(url: str) -> tuple[int, dict, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, b""


def test_documents_are_served_by_id_and_never_as_active_content(served: str, sample_rag, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.conftest import write_pdf
    from ui.chat import page_links

    base = served.rstrip("/")
    url = page_links(sample_rag)["sample_docs/operations-manual.pdf"]
    status, headers, body = _get(base + url)
    assert status == 200 and body[:5] == b"%PDF-"
    assert headers["x-content-type-options"] == "nosniff" and "default-src 'none'" in headers["content-security-policy"]
    # a folder synced after the server started is served too (the manifest is read at each request)
    late = tmp_path / "late"
    late.mkdir()
    write_pdf(late / "late.pdf", [["# Late", "The late ferry leaves at 21:10."]])
    (late / "page.html").write_text("<html><body><p>Tide tables.</p><script>fetch('/secret')</script></body></html>")
    (late / ".env").write_text("TOKEN=s3cret\n")
    sample_rag.ingest(late, progress=False)
    try:
        docs = {d.source: d for d in sample_rag.documents()}
        assert _get(base + page_links(sample_rag)["late/late.pdf"])[0] == 200
        status, headers, body = _get(f"{base}/document/{docs['late/page.html'].doc_id}")
        assert status == 200 and headers["content-type"].startswith("text/plain")  # never text/html in our origin
        assert headers["content-disposition"].startswith("attachment") and b"<script>" in body
        # what is not an indexed document is not served: an unknown id, any path, the index itself
        assert _get(f"{base}/document/no-such-id")[0] == 404
        for path in (late / ".env", Path(sample_rag.config.index.path) / "manifest.sqlite3", late / "late.pdf"):
            assert _get(f"{base}/gradio_api/file={path.resolve()}")[0] in (403, 404)
    finally:
        sample_rag.delete("late/late.pdf")
        sample_rag.delete("late/page.html")


def test_a_passage_read_by_ocr_is_shown_on_its_page_image(served: str, sample_rag, tmp_path: Path) -> None:  # noqa: ANN001
    import io

    import pypdfium2 as pdfium
    from PIL import Image

    from tests.conftest import write_pdf
    from ui.chat import page_links
    from ui.render import render_sources

    scans = tmp_path / "scans"
    scans.mkdir()
    text = write_pdf(tmp_path / "notice.pdf", [["# Notice", "Visitors sign the harbour logbook at the gatehouse.",
                                               "The quay crane is inspected every spring by the Lloyd surveyor."]])
    pdfium.PdfDocument(str(text))[0].render(scale=150 / 72, grayscale=True).to_pil().save(scans / "notice.png")
    sample_rag.ingest(scans, progress=False)
    try:
        hit = sample_rag.search("quay crane inspected by the Lloyd surveyor", k=1)[0]
        assert hit.chunk.source == "scans/notice.png" and hit.chunk.lines
        card = render_sources([hit], files=page_links(sample_rag))
        assert "read by OCR (confidence" in card
        link = card.split('href="')[1].split('"')[0].replace("&amp;", "&")
        assert "/page/1?hl=" in link
        base = served.rstrip("/")
        status, headers, body = _get(base + link)
        assert status == 200 and headers["content-type"] == "image/png" and headers["x-content-type-options"] == "nosniff"
        marked = Image.open(io.BytesIO(body)).convert("RGB")
        plain = Image.open(io.BytesIO(_get(base + link.split("?")[0])[2])).convert("RGB")
        crane = next(b for b in hit.chunk.lines if "crane" in hit.chunk.text[b.start - hit.chunk.char_start:])
        at = (int((crane.x0 + 0.01) * marked.width), int((crane.y0 + crane.y1) / 2 * marked.height))
        assert marked.getpixel(at) != plain.getpixel(at)  # the line is marked; unmarked, the page is as scanned
        assert _get(base + link.split("?")[0].replace("/page/1", "/page/2"))[0] == 404  # an image has one page
        assert _get(base + link.split("?")[0] + "?hl=<script>")[0] == 200  # what is not a box is ignored
    finally:
        sample_rag.delete("scans/notice.png")


def test_each_answer_carries_its_own_sources() -> None:
    from rag.core.types import Answer, Citation
    from ui.render import link_citations

    cites = (Citation(1, "a:3", "manual.pdf", 4, 10, 40, "Boarding stops above 0.8 m <significant> wave height.", 0.9),
             Citation(2, "b:1", "notes.md", 1, 0, 20, "Buoys are visited monthly.", 0.5))
    answer = Answer("Boarding stops above 0.8 m [1], and visits are monthly [2].", cites, (), False)
    shown = link_citations(answer, {"manual.pdf": "/document/abc"})
    assert "[[1]](/document/abc#page=4)" in shown and "monthly [2]." in shown  # a PDF's marker opens its page
    block = shown.split("<details><summary>Sources (2)</summary>")[1]
    assert '[1] [manual.pdf p.4](/document/abc#page=4): "Boarding stops above 0.8 m &lt;significant&gt; wave height."' in block
    assert '[2] notes.md p.1: "Buoys are visited monthly."' in block


def test_an_exported_chat_is_markdown_with_each_answers_sources() -> None:
    from ui.render import chat_markdown, chat_title

    history = [
        {"role": "user", "content": "When does the ferry &lt;b&gt;leave&lt;/b&gt;?"},
        {"role": "assistant", "content": 'It leaves at 14:30 [1].\n\n<details><summary>Sources (1)</summary>\n\n'
                                         '- [1] docs/ferry.md p.1: "The ferry leaves at 14:30."\n\n</details>'},
    ]
    text = chat_markdown(history)
    assert text.startswith("**You:** When does the ferry <b>leave</b>?")
    assert "**Answer:** It leaves at 14:30 [1].\n\n**Sources (1)**" in text
    assert '- [1] docs/ferry.md p.1: "The ferry leaves at 14:30."' in text and "<details>" not in text
    assert chat_title(history) == "When does the ferry <b>leave</b>?"


def test_source_cards_show_tables_and_headings_and_highlight_only_the_cited_row() -> None:
    from ui.render import card_body

    text = ("## 1.1 Buoy locations\n\nTable 1 - Buoy positions\n"
            "Buoy: B1 | Deployed: 14 May 2022\nBuoy: B2 | Deployed: 14 May 2022\nBuoy: B3 | Deployed: 2 August 2023\n"
            "B1 sits closest to the island. B3 is the furthest out.\n| Part | Interval |\n|---|---|\n| anode | 12 months |")
    b3, sentence = text.index("Buoy: B3"), text.index("B3 is the")
    shown = card_body(text, [(b3, b3 + 33), (sentence, sentence + 25)])
    assert '<div class="heading">1.1 Buoy locations</div>' in shown and "##" not in shown
    assert "<th>Buoy</th><th>Deployed</th>" in shown  # the rows ingestion wrote are a table again
    assert shown.count("<tr class='cited'>") == 1 and "<tr class='cited'><td>B3</td><td>2 August 2023</td></tr>" in shown
    assert "<mark>B3 is the furthest out.</mark>" in shown and "<mark>B1" not in shown  # the sentence, not the paragraph
    assert "<th>Part</th><th>Interval</th>" in shown and "|---|" not in shown and "<td>12 months</td>" in shown
    assert "- <b>Scope</b> - the ratio" in card_body("- **Scope** - the ratio of line to depth", [])
    assert "&lt;script&gt;" in card_body("<script>alert(1)</script> | x: <b>y</b> | z: 1", [])  # cells are text too


def test_collections_are_named_by_their_folders_and_a_folder_of_indexes_stands_for_each(tmp_path: Path) -> None:
    from rag.store.index import MANIFEST, index_folders
    from ui.collections import collection_names

    assert collection_names([tmp_path / "a" / "index", tmp_path / "b" / "index", tmp_path / "manuals"]) == [
        "a/index", "b/index", "manuals"]
    for name in ("acme", "zenith"):
        (tmp_path / "clients" / name).mkdir(parents=True)
        (tmp_path / "clients" / name / MANIFEST).touch()
    (tmp_path / "clients" / "notes").mkdir()  # not an index
    assert index_folders([tmp_path / "clients", tmp_path / "new", tmp_path / "clients" / "acme"]) == [
        tmp_path / "clients" / "acme", tmp_path / "clients" / "zenith", tmp_path / "new"]  # each once, in order
