"""The real app in headless Chromium (Debian's, driven by Playwright): upload, ask, settings, evaluate.

Screenshots of each step go to $RAG_SCREENSHOTS (the README's come from `RAG_SCREENSHOTS=docs/screenshots`),
else to a temp folder.
"""

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")]


@pytest.fixture(scope="module")
def app_url(sample_rag):  # noqa: ANN001
    from rag.pipeline import Rag
    from ui.app import serve

    rag = Rag(replace(sample_rag.config, ui=replace(sample_rag.config.ui, port=free_port())), index=sample_rag.index)
    app, url = serve(rag, block=False)
    yield url
    app.close()


@pytest.fixture(scope="module")
def page(app_url: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.set_default_timeout(240_000)
        expect.set_options(timeout=240_000)
        page.goto(app_url)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("RAG_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_1_upload_shows_status(page, shots: Path, tmp_path: Path) -> None:  # noqa: ANN001
    doc = tmp_path / "galley-rules.md"
    doc.write_text("# Galley rules\n\nThe galley closes at 21:00. The Galley Hygiene Lead (GHL) inspects the fridges on Fridays.\n")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.locator("#ingest-uploads").click()
    expect(page.locator("#ingest-status")).to_contain_text("galley-rules.md")
    expect(page.locator("#ingest-status")).to_contain_text("added")
    expect(page.locator("#documents")).to_contain_text("uploads/galley-rules.md")
    page.screenshot(path=str(shots / "1-documents.png"), full_page=True)


def test_2_ask_streams_answer_and_source_card(page, shots: Path) -> None:  # noqa: ANN001
    page.get_by_role("tab", name="Chat").click()
    page.locator("#question textarea").fill("What is the maximum significant wave height at which someone may board a buoy?")
    page.locator("#question textarea").press("Enter")
    card = page.locator("#sources .source-card").first
    card.wait_for()  # sources arrive when retrieval is done, before the answer finishes
    page.locator("#sources .source-card.cited").first.wait_for()  # the answer is done and cites
    answer = page.locator("#chat .message.bot, #chat [data-testid='bot']").last.inner_text()
    assert "0.8" in answer
    cited = page.locator("#sources .source-card.cited").first.inner_text()
    assert "buoy-equipment-specification.pdf" in cited and "page 4" in cited
    # the answer carries its own sources (the panel shows only the latest answer's), its markers open the page
    bot = page.locator("#chat .message.bot, #chat [data-testid='bot']").last
    bot.locator("details summary").first.click()
    expect(bot.locator("details")).to_contain_text("buoy-equipment-specification.pdf p.4")
    assert bot.locator("a[href*='/document/'][href$='#page=4']").count() >= 1
    page.screenshot(path=str(shots / "2-chat.png"))


def test_3_settings_change_top_k(page, shots: Path) -> None:  # noqa: ANN001
    page.get_by_role("tab", name="Settings").click()
    number = page.locator("#top-k input[type=number]")
    number.fill("3")
    number.press("Enter")
    page.locator("#apply-settings").click()
    expect(page.locator("#settings-note")).to_contain_text("Settings applied")
    page.screenshot(path=str(shots / "3-settings.png"))
    # a model that cannot load is refused when applied, with what would load
    page.locator("#model textarea, #model input").first.fill("gpt-7")
    page.locator("#apply-settings").click()
    expect(page.get_by_text("unknown model 'gpt-7'").first).to_be_visible()
    page.reload()  # this browser keeps the settings it applied (top-k 3), not the refused model
    page.get_by_role("tab", name="Settings").click()
    expect(page.locator("#top-k input[type=number]")).to_have_value("3")
    expect(page.locator("#model textarea, #model input").first).not_to_have_value("gpt-7")
    page.get_by_role("tab", name="Chat").click()
    page.locator("#question textarea").fill("What is the default value of uplink_window_min?")
    page.locator("#question textarea").press("Enter")
    expect(page.locator("#sources .source-card")).to_have_count(3)  # top-k 3 after the reload too


def test_4_evaluate_tab(page, shots: Path, sample_rag, tmp_path: Path) -> None:  # noqa: ANN001
    def score(questions: Path) -> None:
        page.get_by_label("Question file path").fill(str(questions))
        page.locator("#run-eval").click()

    page.get_by_role("tab", name="Evaluate").click()
    score(Path(sample_rag.documents()[0].path).parent / "questions.jsonl")
    expect(page.locator("#metrics")).to_contain_text("ndcg@10")
    expect(page.locator("#metrics")).to_contain_text("n_queries")
    # a bad file gets its reason, and the results already on the page stay
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "q1", "question": "When was buoy B3 deployed?", "source": "buoy-equipment-specification.pdf", "page": 2}\n'
                   '{"id": "q2", "question": oops}\n')
    score(bad)
    expect(page.locator("#eval-note")).to_contain_text("bad.jsonl:2: not valid JSON")
    expect(page.locator("#metrics")).to_contain_text("ndcg@10")
    # a question no document answers is counted, and with the answers scored, its refusal is scored too
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"id": "known", "question": "What is the default value of uplink_window_min?", "answer": "20", '
                     '"source": "operations-manual.pdf", "page": 4}\n'
                     '{"id": "unknown", "question": "What colour is pump QX-7777?"}\n')
    page.locator("#score-answers input").check()
    score(mixed)
    expect(page.locator("#eval-note")).to_contain_text("1 question with a page to find and 1 that no document answers")
    expect(page.locator("#metrics")).to_contain_text("answer_accuracy")
    answers = page.locator("#answers")
    expect(answers).to_contain_text("refused, rightly: no document answers")
    expect(answers).to_contain_text("cited the right page")  # the known question was answered and scored
    page.screenshot(path=str(shots / "4-evaluate.png"), full_page=True)
    page.locator("#score-answers input").uncheck()


def test_5_an_uploaded_html_page_never_runs_in_the_app(page, tmp_path: Path) -> None:  # noqa: ANN001
    from ingest.chunking import doc_id_for

    evil = tmp_path / "tide-notice.html"
    evil.write_text("<html><body><p>Tide tables are posted at the harbour office every Monday.</p>"
                    "<script>window.top.pwned = document.cookie || 'ran';</script></body></html>")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(evil))
    page.locator("#ingest-uploads").click()
    expect(page.locator("#ingest-status")).to_contain_text("tide-notice.html")
    url = f"/document/{doc_id_for('uploads/tide-notice.html')}"
    status, kind, disposition = page.evaluate(
        "async url => { const r = await fetch(url); return [r.status, r.headers.get('content-type'), "
        "r.headers.get('content-disposition')]; }", url)
    assert status == 200 and kind.startswith("text/plain") and disposition.startswith("attachment")
    page.evaluate("url => { const f = document.createElement('iframe'); f.src = url; document.body.appendChild(f); }", url)
    page.wait_for_timeout(2000)
    assert page.evaluate("window.pwned === undefined")  # its script never ran in the app's origin


def test_6_a_folder_synced_after_the_server_started_opens_at_its_page(page, tmp_path: Path) -> None:  # noqa: ANN001
    from ingest.chunking import doc_id_for
    from tests.conftest import write_pdf

    folder = tmp_path / "winter"
    folder.mkdir()
    write_pdf(folder / "winter-timetable.pdf", [["# Winter timetable", "The winter ferry Skua leaves the quay at 07:15 on Tuesdays."]])
    page.get_by_role("tab", name="Documents").click()
    page.locator("#folder textarea").fill(str(folder))
    page.locator("#sync-folder").click()
    expect(page.locator("#ingest-status")).to_contain_text("winter-timetable.pdf")
    # the link a source card gives for it ("open page N") answers at once: no restart needed
    url = f"/document/{doc_id_for('winter/winter-timetable.pdf')}#page=1"
    status, kind = page.evaluate("async url => { const r = await fetch(url); return [r.status, r.headers.get('content-type')]; }", url)
    assert status == 200 and kind == "application/pdf"


def test_7_the_documents_list_is_read_on_each_visit_and_a_delete_asks_first(page, sample_rag, tmp_path: Path) -> None:  # noqa: ANN001
    page.reload()  # uploads and synced folders came after the server started: a reload still lists them
    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#documents")).to_contain_text("uploads/galley-rules.md")
    expect(page.locator("#documents")).to_contain_text("winter/winter-timetable.pdf")
    page.locator("#delete").click()  # nothing is chosen for deletion until the user chooses
    expect(page.locator("#confirm-delete")).to_be_hidden()
    page.locator("#victim input").click()
    page.get_by_role("option", name="uploads/galley-rules.md").click()
    page.locator("#delete").click()
    expect(page.locator("#confirm-delete")).to_be_visible()
    page.locator("#cancel").click()
    expect(page.locator("#confirm-delete")).to_be_hidden()
    assert "uploads/galley-rules.md" in [d.source for d in sample_rag.documents()]  # kept
    page.locator("#delete").click()
    page.locator("#confirm").click()
    expect(page.locator("#deleted")).to_contain_text("Deleted uploads/galley-rules.md")
    expect(page.locator("#documents")).not_to_contain_text("uploads/galley-rules.md")
    assert "uploads/galley-rules.md" not in [d.source for d in sample_rag.documents()]
    # the next upload syncs the upload folder: the deleted file does not come back
    rota = tmp_path / "mess-rota.md"
    rota.write_text("# Mess rota\n\nWashing up rotates daily in alphabetical order.\n")
    page.locator("#upload input[type=file]").set_input_files(str(rota))
    page.locator("#ingest-uploads").click()
    expect(page.locator("#ingest-status")).to_contain_text("mess-rota.md")
    expect(page.locator("#documents")).to_contain_text("uploads/mess-rota.md")
    expect(page.locator("#documents")).not_to_contain_text("uploads/galley-rules.md")


def test_8_what_the_user_writes_is_shown_as_written(page) -> None:  # noqa: ANN001
    page.get_by_role("tab", name="Chat").click()
    # about a pump no document mentions, so the answer comes at once, without the model
    page.locator("#question textarea").fill("Is <b>bold</b> or <img src=x onerror=alert(1)> allowed on pump QX-9041?")
    page.locator("#question textarea").press("Enter")
    user = page.locator("#chat .message.user, #chat [data-testid='user']").last
    expect(user).to_contain_text("<b>bold</b> or <img src=x onerror=alert(1)>")
    assert user.locator("b, img").count() == 0
    expect(page.locator("#chat .message.bot, #chat [data-testid='bot']").last).to_contain_text("do not mention QX-9041")


def test_9_the_first_screen_shows_counts_the_models_state_examples_and_a_send_button(page, sample_rag) -> None:  # noqa: ANN001
    sample_rag.warm_up()  # as `rag serve` does before it listens (the app shares the loaded model)
    page.reload()
    indexed = [d for d in sample_rag.documents() if d.status == "ok"]
    overview = page.locator("#overview")
    expect(overview).to_contain_text(f"{len(indexed)} documents, {sum(d.chunks for d in indexed)} chunks")
    expect(overview).to_contain_text("ready")
    user = page.locator("#chat .message.user, #chat [data-testid='user']")
    page.locator("#question textarea").fill("What colour is pump QX-7777?")  # no document names it: answered at once
    page.locator("#send").click()
    expect(page.locator("#chat .message.bot, #chat [data-testid='bot']").last).to_contain_text("do not mention QX-7777")
    example = page.locator("#example-0")
    expect(example).to_be_visible()
    question = example.inner_text()
    names = {name for d in indexed for name in [d.title, *(d.meta.get("acronyms") or {})] if name}
    assert any(name in question for name in names)  # drawn from what the documents hold
    example.click()
    expect(user.last).to_contain_text(question)
    page.locator("#stop").click()


def test_10_the_chat_survives_a_reload_and_past_chats_reopen_and_export(page) -> None:  # noqa: ANN001
    chat = page.locator("#chat")
    page.locator("#new-chat").click()
    expect(chat).not_to_contain_text("QX-7777")
    stored = page.evaluate("localStorage.getItem('situated-rag-chat')")
    page.locator("#question textarea").fill("Which colour is valve QX-5150?")  # answered at once, without the model
    page.locator("#question textarea").press("Enter")
    expect(chat).to_contain_text("do not mention QX-5150")
    # the browser stores the chat once the answer is done (sealed: its text cannot be read back here)
    page.wait_for_function("before => localStorage.getItem('situated-rag-chat') !== before", arg=stored)
    page.reload()
    expect(chat).to_contain_text("Which colour is valve QX-5150?")  # this browser kept the chat
    page.locator("#export").click()
    expect(page.locator("#exported")).to_contain_text(".md")
    page.locator("#new-chat").click()
    expect(chat).not_to_contain_text("QX-5150")
    page.locator("#past-chats input").click()
    page.get_by_role("option", name="Which colour is valve QX-5150?").click()
    expect(chat).to_contain_text("do not mention QX-5150")


def test_11_stop_ends_the_answer_on_the_server_and_typed_text_is_kept(page, make_rag, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.fake_openai import app_over_fake
    from ui.chat import CHECKING, STOPPED

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe supply ferry leaves the harbour at 14:30 every Thursday.\n")
    asked = []

    def reply(body: dict) -> list[str]:  # a long answer first, short ones after; a piece every 0.3 s
        if not body.get("stream"):  # the follow-up question, rewritten to stand alone
            return ["On which day does the supply ferry leave?"]
        asked.append(body)
        return ["The ferry ", "leaves ", "at 14:30 [1]."] + ([" It is a supply ferry [1]."] * (40 if len(asked) == 1 else 6))

    with app_over_fake(make_rag, docs, reply, delay=0.3) as (llm, url):
        page.goto(url)
        bot = page.locator("#chat .message.bot, #chat [data-testid='bot']")
        page.locator("#question textarea").fill("When does the ferry leave?")
        page.locator("#question textarea").press("Enter")
        expect(bot.last).to_contain_text(CHECKING)  # the answer is being written
        page.locator("#stop").click()
        expect(bot.last).to_contain_text(STOPPED)
        expect(bot.last).not_to_contain_text(CHECKING)
        for _ in range(600):  # the server sees its reader go: it stops writing long before the 43rd piece
            if llm.in_flight == 0:
                break
            page.wait_for_timeout(100)
        assert llm.in_flight == 0 and llm.written < 43
        # the model is free again; what is typed while an answer streams stays in the box
        page.locator("#question textarea").fill("And on which day?")
        page.locator("#question textarea").press("Enter")
        expect(bot.last).to_contain_text(CHECKING)
        page.locator("#question textarea").fill("a question for later")
        expect(bot.last).not_to_contain_text(CHECKING)
        expect(bot.last).to_contain_text("14:30")
        assert page.locator("#question textarea").input_value() == "a question for later"


def test_12_source_cards_show_tables_as_tables_and_the_cited_row(page, app_url: str) -> None:  # noqa: ANN001
    page.goto(app_url)  # back from test 11's own server
    page.locator("#new-chat").click()
    bots = page.locator("#chat .message.bot, #chat [data-testid='bot']")
    page.locator("#question textarea").fill("When was buoy B3 deployed?")
    page.locator("#question textarea").press("Enter")
    table = page.locator("#sources .source-card table").first
    expect(table).to_contain_text("2 August 2023")  # Table 1's rows, under their column names
    expect(table.locator("th").first).to_be_visible()
    page.locator("#sources .source-card.cited").first.wait_for()  # the answer is done
    assert "|" not in page.locator("#sources .source-card table").first.inner_text()
    expect(page.locator("#sources .source-card.cited tr.cited")).to_have_count(1)  # the row it rests on, no other
    expect(page.locator("#sources .source-card.cited tr.cited")).to_contain_text("B3")
    # a second answer takes the panel; the first keeps its own sources, and its [1] opens its own page
    page.locator("#question textarea").fill("Which colour is valve QX-5150?")  # answered at once, without the model
    page.locator("#question textarea").press("Enter")
    expect(bots.last).to_contain_text("QX-5150")
    expect(page.locator("#sources .source-card.cited")).to_have_count(0)
    # the B3 answer, the one with sources (on a loaded machine this page may restore its stored chat after the
    # new chat began, so the chat's first message can be test 10's)
    first = bots.filter(has=page.locator("details")).first
    first.locator("details summary").first.click()
    expect(first.locator("details")).to_contain_text("buoy-equipment-specification.pdf p.1")
    assert first.locator("a[href*='/document/'][href$='#page=1']").count() >= 1


def test_13_collections_switch_documents_chats_and_files(page, shots: Path, make_rag, tmp_path: Path) -> None:  # noqa: ANN001
    from ingest.chunking import doc_id_for
    from ui.app import serve

    rags = []
    for name, text in (("ferry", "# Ferry\n\nThe supply ferry leaves at 14:30 every Thursday.\n"),
                       ("galley", "# Galley\n\nThe galley closes at 21:00.\n\n## Fridges\n\nFridges are cleaned on Fridays.\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.md").write_text(text)
        rag = make_rag(**{"ui.port": str(free_port())})
        rag.ingest(tmp_path / name, progress=False)
        rags.append(rag)
    app, url = serve(rags, block=False)
    try:
        page.goto(url)
        chooser, overview, chat = page.locator("#collection"), page.locator("#overview"), page.locator("#chat")
        expect(chooser).to_be_visible()
        expect(overview).to_contain_text("1 document, 1 chunks")  # the page has loaded what it keeps
        page.locator("#question textarea").fill("Which colour is valve QX-5150?")  # answered at once, without a model
        page.locator("#question textarea").press("Enter")
        expect(chat).to_contain_text("could not find this in the documents")
        page.locator("#collection input").click()
        page.get_by_role("option", name="index1").click()
        expect(overview).to_contain_text("1 document, 2 chunks")
        expect(chat).not_to_contain_text("QX-5150")  # a new chat: the last one stays with its collection
        page.get_by_role("tab", name="Documents").click()
        expect(page.locator("#documents")).to_contain_text("galley/galley.md")
        expect(page.locator("#documents")).not_to_contain_text("ferry/ferry.md")
        page.screenshot(path=str(shots / "5-collections.png"))
        # a document is served from its own collection only
        for slot, status in ((1, 200), (0, 404)):
            got = page.evaluate("async url => (await fetch(url)).status", f"/document/{doc_id_for('galley/galley.md')}?c={slot}")
            assert got == status
        page.get_by_role("tab", name="Settings").click()  # settings apply to the collection they were applied in
        page.locator("#top-k input[type=number]").fill("2")
        page.locator("#top-k input[type=number]").press("Enter")
        page.locator("#apply-settings").click()
        expect(page.locator("#settings-note")).to_contain_text("applied to index1")
        page.reload()  # the browser keeps the collection it chose, and its settings
        expect(overview).to_contain_text("1 document, 2 chunks")
        page.get_by_role("tab", name="Settings").click()
        expect(page.locator("#top-k input[type=number]")).to_have_value("2")
        page.locator("#collection input").click()
        page.get_by_role("option", name="index0").click()
        expect(page.locator("#top-k input[type=number]")).to_have_value(str(rags[0].config.generate.passages))
        page.get_by_role("tab", name="Chat").click()
        page.locator("#past-chats input").click()
        page.get_by_role("option", name="Which colour is valve QX-5150?").click()
        expect(chat).to_contain_text("could not find this in the documents")
    finally:
        app.close()
