"""The Gradio app: a thin layer over ``rag.Rag``. Handlers iterate the facade's events and render; no
retrieval or generation logic lives here (``ui/render.py`` turns records into HTML and tables)."""

from __future__ import annotations

import functools
import html
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from rag.core.config import write_toml  # noqa: E402
from rag.core.errors import RagError  # noqa: E402
from rag.core.types import AnswerDone, Failed, RetrievalDone, Token, Waiting  # noqa: E402
from rag.eval.runner import evaluate_index  # noqa: E402
from rag.pipeline import Rag  # noqa: E402
from ui.browser_state import browser_secret, export, new_chat, reopen, restore_chat  # noqa: E402
from ui.files import add_document_route, document_links, store_upload  # noqa: E402
from ui.render import (  # noqa: E402
    CSS,
    as_written,
    documents_table,
    example_questions,
    link_citations,
    metrics_table,
    misses_table,
    overview,
    plain_text,
    render_sources,
    report_table,
)

log = logging.getLogger(__name__)

CHECKING = "checking the answer against the passages…"
EXAMPLES = 3  # example questions on the first screen
STOPPED = "stopped"
SETTINGS = {  # UI label -> config key; applied per browser session
    "Retrieval mode": "retrieval.mode",
    "Fusion": "retrieval.fusion",
    "Reranker": "rerank.method",
    "Passages for the answer (top-k)": "generate.passages",
    "Context mode (applies on re-ingest)": "context.mode",
    "LLM model": "generate.model",
    "Prompt budget (tokens)": "generate.max_prompt_tokens",
    "Answer length (tokens)": "generate.max_tokens",
}


def safe_name(name: str) -> str:
    """A file name with no path parts and no characters that could escape the upload folder."""
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .") or "upload"
    return base[:200]


def _shown(action: Callable[..., Any]) -> Callable[..., Any]:
    """An error the user can act on (a read-only index, a full disk) is shown with its message, not as "Error"."""
    @functools.wraps(action)  # Gradio reads the signature through it (the progress parameter)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except RagError as exc:
            raise gr.Error(str(exc)) from None

    return run


def build_app(rag: Rag) -> gr.Blocks:
    uploads = rag.uploads

    def session_rag(overrides: dict[str, Any]) -> Rag:
        return rag.with_options(overrides) if overrides else rag  # one view per settings combination, made once

    def respond(message: str, history: list[dict], overrides: dict) -> Iterator[tuple[list[dict], Any, str]]:
        message = (message or "").strip()
        if not message:
            yield history, gr.skip(), ""
            return
        # what was said, as written, without the sources block under each answer
        prior = [{"role": m["role"], "content": html.unescape(_SOURCES_BLOCK.sub("", plain_text(m["content"])))} for m in history]
        history = [*history, {"role": "user", "content": as_written(message)}, {"role": "assistant", "content": ""}]
        sources, draft = "", ""
        yield history, gr.skip(), ""
        files = pdf_links(rag)
        for event in session_rag(overrides).stream(message, history=prior or None):
            if isinstance(event, RetrievalDone):
                sources = render_sources(event.hits, files=files)
            elif isinstance(event, Waiting):
                history[-1]["content"] = f"*waiting for the model ({event.ahead} question{'s' * (event.ahead > 1)} ahead)…*"
            elif isinstance(event, Token):
                # a draft until the checks have passed it: marked as such, and replaced by the final answer
                draft += event.text
                history[-1]["content"] = f"{as_written(draft)}\n\n*{CHECKING}*"
            elif isinstance(event, Failed):
                history[-1]["content"] = f"Error: {as_written(event.message)}"
            elif isinstance(event, AnswerDone):
                history[-1]["content"] = link_citations(event.answer, files)
                sources = render_sources(event.answer.passages, event.answer, files)
            yield history, sources, gr.skip()  # what the user types meanwhile stays in the box

    def stopped(history: list[dict]) -> list[dict]:
        """The answer Stop cut short keeps what was written, marked as stopped rather than as being checked."""
        last = plain_text(history[-1]["content"]) if history and history[-1]["role"] == "assistant" else None
        if last is not None and (not last or CHECKING in last or last.startswith("*waiting")):  # not yet answered
            text = "" if last.startswith("*waiting") else last.replace(f"*{CHECKING}*", "").rstrip()
            history = [*history[:-1], {"role": "assistant", "content": f"{text}\n\n*{STOPPED}*".lstrip()}]
        return history

    def ask_api(question: str) -> tuple[str, list[dict]]:
        answer = rag.ask(question)
        cites = [{"n": c.n, "source": c.source, "page": c.page, "quote": c.quote} for c in answer.citations]
        return answer.text, cites

    def ingest_paths(paths: list[Path], progress: gr.Progress) -> tuple[Any, Any, Any]:
        progress(0, desc="Reading files")
        report = rag.ingest(paths, progress=True)
        return report_table(report), documents_table(rag.documents()), gr.update(choices=_sources())

    def ingest_uploads(files: list[str] | None, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, Any, Any]:
        if not files:
            raise gr.Error("Choose one or more files first.")
        for f in files:
            try:
                store_upload(Path(f), uploads, safe_name(Path(f).name))
            except OSError as exc:
                raise gr.Error(f"Could not save {Path(f).name} in {uploads}: {exc.strerror or exc}") from None
        return ingest_paths([uploads], progress)  # the upload folder is synced like any other

    def ingest_folder(folder: str, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, Any, Any]:
        path = Path((folder or "").strip()).expanduser()
        if not path.is_dir():
            raise gr.Error(f"{folder!r} is not a folder on this machine.")
        return ingest_paths([path], progress)

    def resync(progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, Any, Any]:
        if not rag.roots():
            raise gr.Error("Nothing to re-sync yet: ingest a folder first.")
        return ingest_paths(rag.roots(), progress)

    def listed() -> tuple[Any, Any]:
        """The documents table and the delete choices, from one read of the manifest; nothing chosen."""
        docs = rag.documents()
        return documents_table(docs), gr.update(choices=[d.source for d in docs], value=None)

    def ask_to_delete(source: str | None) -> tuple[Any, str]:
        if not source:
            raise gr.Error("Choose an indexed document to delete.")
        return gr.update(visible=True), f"Delete **{as_written(source)}** from the index?"

    def delete(source: str) -> tuple[Any, Any, str, Any]:
        if not source or not rag.delete(source):
            raise gr.Error("Choose an indexed document to delete.")
        return (*listed(), f"Deleted {as_written(source)}.", gr.update(visible=False))

    def summary() -> tuple[Any, ...]:
        """The first screen's line (documents, chunks, the model's state) and example questions, read now."""
        docs = rag.documents()
        examples = example_questions(docs)
        buttons = [gr.update(value=q, visible=True) for q in examples]
        buttons += [gr.update(visible=False)] * (EXAMPLES - len(examples))
        return (overview(docs, rag.model_state()), *buttons)

    def _sources() -> list[str]:
        return [d.source for d in rag.documents()]

    def checked(overrides: dict) -> dict:
        rag.check_options(overrides)  # a model that cannot load is refused now
        return overrides

    def apply_settings(*values: Any) -> tuple[dict, dict, str]:
        overrides = {key: v for key, v in zip(SETTINGS.values(), values) if v not in (None, "")}
        try:
            checked(overrides)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return overrides, overrides, "Settings applied; this browser keeps them."

    def restore_settings(saved: dict | None) -> tuple[Any, ...]:
        """The settings this browser applied last time, where they still apply (a removed model does not)."""
        try:
            kept = checked({key: v for key, v in (saved or {}).items() if key in SETTINGS.values()})
        except RagError:
            kept = {}
        return (kept, *(kept.get(key, defaults[key]) for key in SETTINGS.values()))

    def save_default(overrides: dict) -> str:
        path = Path(rag.config.index.path) / "rag.toml"
        try:
            write_toml(rag.config.override(overrides), path)
        except OSError as exc:
            raise gr.Error(f"Could not save {path}: {exc.strerror or exc}") from None
        return f"Saved to {path}. Start with `rag serve --config {path}` (or copy it to ./rag.toml) to use these defaults."

    def evaluate(dataset: str, upload: str | None, compare_mode: str, overrides: dict) -> tuple[Any, Any]:
        path = upload or (dataset or "").strip()
        if not path or not Path(path).exists():
            raise gr.Error(f"No question file at {path!r}.")
        try:
            current = evaluate_index(session_rag(overrides), path)
            other = evaluate_index(session_rag({**overrides, "retrieval.mode": compare_mode}), path) if compare_mode else None
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return metrics_table(current, other, compare_mode), misses_table(current)

    defaults = {key: _get(rag, key) for key in SETTINGS.values()}
    with gr.Blocks(title="situated-rag") as app:
        overrides = gr.State({})
        secret = browser_secret(Path(rag.config.index.path))
        # per browser, in its local storage: the settings applied, the chat in progress, the past chats
        remembered = gr.BrowserState({}, storage_key="situated-rag-settings", secret=secret)
        current_chat = gr.BrowserState([], storage_key="situated-rag-chat", secret=secret)
        past_chats = gr.BrowserState([], storage_key="situated-rag-chats", secret=secret)
        gr.Markdown("## situated-rag\nAsk questions about your documents. Answers cite the passages they rest on.")
        status_line = gr.Markdown(elem_id="overview")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Chat", height=520, buttons=["copy", "copy_all"], elem_id="chat")
                    box = gr.Textbox(placeholder="Ask a question and press Enter", show_label=False, elem_id="question")
                    with gr.Row():
                        send = gr.Button("Send", size="sm", variant="primary", elem_id="send")
                        stop = gr.Button("Stop", size="sm", variant="stop", elem_id="stop")
                        clear = gr.Button("New chat", size="sm", elem_id="new-chat")
                    with gr.Row():
                        examples = [gr.Button(visible=False, size="sm", elem_id=f"example-{n}") for n in range(EXAMPLES)]
                    with gr.Row():
                        past = gr.Dropdown(choices=[], value=None, label="Past chats", scale=3, elem_id="past-chats")
                        export_btn = gr.Button("Export chat (Markdown)", size="sm", scale=1, elem_id="export")
                    exported = gr.File(label="Exported chat", visible=False, elem_id="exported")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    sources = gr.HTML(elem_id="sources")
            asking = [box.submit(respond, [box, chat, overrides], [chat, sources, box], api_name="chat"),
                      send.click(respond, [box, chat, overrides], [chat, sources, box], api_name=False)]
            asking += [ex.click(respond, [ex, chat, overrides], [chat, sources, box], api_name=False) for ex in examples]
            # cancelling the handler closes its stream, which ends the generation on the server (rag/llm)
            halting = stop.click(stopped, chat, chat, cancels=asking, api_name=False)
            for event in [*asking, halting]:  # kept in the browser as it stands after each answer (or a Stop)
                event.then(lambda history: history, chat, current_chat, api_name=False)
            clear.click(new_chat, [chat, past_chats], [chat, sources, current_chat, past_chats, past], cancels=asking,
                        api_name=False)
            past.select(reopen, [past, past_chats], [chat, current_chat], api_name=False)
            export_btn.click(export, chat, exported, api_name=False)
            app.load(restore_chat, [current_chat, past_chats], [chat, past], api_name=False)
        with gr.Tab("Documents") as documents_tab:
            with gr.Row():
                with gr.Column():
                    files = gr.File(label="Upload documents", file_count="multiple", type="filepath", elem_id="upload")
                    upload_btn = gr.Button("Ingest uploaded files", variant="primary", elem_id="ingest-uploads")
                with gr.Column():
                    folder = gr.Textbox(label="Or a folder on this machine", placeholder="/path/to/documents", elem_id="folder")
                    folder_btn = gr.Button("Sync folder", elem_id="sync-folder")
                    resync_btn = gr.Button("Re-sync all ingested folders")
            status = gr.Dataframe(headers=["file", "status", "chunks", "reason"], label="Last ingestion", elem_id="ingest-status")
            # read from the manifest when the page opens and whenever the tab is shown, never kept from start-up
            docs = gr.Dataframe(label="Indexed documents", elem_id="documents",
                                headers=["document", "status", "chunks", "title", "acronyms", "error"])
            with gr.Row():
                victim = gr.Dropdown(choices=[], value=None, label="Document", scale=3, elem_id="victim")
                delete_btn = gr.Button("Delete document", variant="stop", scale=1, elem_id="delete")
            with gr.Row(visible=False, elem_id="confirm-delete") as confirm_row:
                confirm_text = gr.Markdown()
                confirm_btn = gr.Button("Delete", variant="stop", scale=0, elem_id="confirm")
                cancel_btn = gr.Button("Keep it", scale=0, elem_id="cancel")
            deleted = gr.Markdown(elem_id="deleted")
            one_at_a_time = {"api_name": False, "concurrency_limit": 1, "concurrency_id": "documents"}
            changes = [
                upload_btn.click(_shown(ingest_uploads), files, [status, docs, victim], **one_at_a_time),
                folder_btn.click(_shown(ingest_folder), folder, [status, docs, victim], **one_at_a_time),
                resync_btn.click(_shown(resync), None, [status, docs, victim], **one_at_a_time),
                confirm_btn.click(_shown(delete), victim, [docs, victim, deleted, confirm_row], **one_at_a_time),
            ]
            first_screen = [status_line, *examples]
            for event in changes:  # the counts and examples follow every change of the documents
                event.then(summary, None, first_screen, api_name=False)
            delete_btn.click(ask_to_delete, victim, [confirm_row, confirm_text], api_name=False)
            cancel_btn.click(lambda: gr.update(visible=False), None, confirm_row, api_name=False)
            documents_tab.select(listed, None, [docs, victim], api_name=False)
            app.load(listed, None, [docs, victim], api_name=False)
            app.load(summary, None, first_screen, api_name=False)
        with gr.Tab("Settings"):
            inputs = [
                gr.Radio(["hybrid", "bm25", "dense"], value=defaults["retrieval.mode"], label="Retrieval mode"),
                gr.Radio(["rrf", "convex"], value=defaults["retrieval.fusion"], label="Fusion"),
                gr.Dropdown(["none", "prf", "maxsim", "cross-encoder", "llm"], value=defaults["rerank.method"], label="Reranker"),
                gr.Slider(1, 10, step=1, value=defaults["generate.passages"], label="Passages for the answer (top-k)", elem_id="top-k"),
                gr.Radio(["none", "prefix", "residual", "additive"], value=defaults["context.mode"],
                         label="Context mode (applies on re-ingest)"),
                gr.Textbox(value=defaults["generate.model"], label="LLM model (packaged name or .gguf path)", elem_id="model"),
                gr.Slider(500, 6000, step=100, value=defaults["generate.max_prompt_tokens"], label="Prompt budget (tokens)"),
                gr.Slider(32, 1024, step=32, value=defaults["generate.max_tokens"], label="Answer length (tokens)"),
            ]
            with gr.Row():
                apply_btn = gr.Button("Apply to this session", variant="primary", elem_id="apply-settings")
                save_btn = gr.Button("Save as default")
            settings_note = gr.Markdown(elem_id="settings-note")
            apply_btn.click(apply_settings, inputs, [overrides, remembered, settings_note], api_name=False)
            app.load(restore_settings, remembered, [overrides, *inputs], api_name=False)
            save_btn.click(save_default, overrides, settings_note, api_name=False)
        with gr.Tab("Evaluate"):
            gr.Markdown("Score retrieval on the current index with a question file "
                        "(`{id, question, answer, source, page}` per line, like `sample_docs/questions.jsonl`).")
            with gr.Row():
                dataset = gr.Textbox(value="sample_docs/questions.jsonl", label="Question file path", scale=3)
                dataset_upload = gr.File(label="or upload one", type="filepath", file_types=[".jsonl"], scale=2)
                compare = gr.Dropdown(["", "bm25", "dense", "hybrid"], value="", label="Compare with retrieval mode", scale=1)
            eval_btn = gr.Button("Run evaluation", variant="primary", elem_id="run-eval")
            metrics = gr.Dataframe(label="Metrics", elem_id="metrics")
            misses = gr.Dataframe(label="Questions whose page was not in the top 5", elem_id="misses")
            eval_btn.click(evaluate, [dataset, dataset_upload, compare, overrides], [metrics, misses], api_name=False)
        # a plain request/response endpoint for scripts (gradio_client): answer text and citations
        api_q = gr.Textbox(visible=False)
        api_a, api_c = gr.Textbox(visible=False), gr.JSON(visible=False)
        api_q.submit(ask_api, api_q, [api_a, api_c], api_name="ask")
    return app


def pdf_links(rag: Rag) -> dict[str, str]:
    """Where the app serves each indexed PDF: by document id (ui/files.py), read from the manifest each time."""
    return document_links(rag.documents())


def _get(rag: Rag, dotted: str) -> Any:
    section, key = dotted.split(".")
    return getattr(getattr(rag.config, section), key)


_SOURCES_BLOCK = re.compile(r"\n*<details><summary>Sources.*?</details>", re.S)


LOOPBACK = ("127.0.0.1", "localhost", "::1")  # hosts only this machine reaches


def check_exposure(host: str, username: str, password: str, no_auth: bool) -> tuple[str, str] | None:
    """Auth to use. Off loopback the app needs a username and password unless ``no_auth`` is explicit."""
    if username and password:
        return (username, password)
    if host not in LOOPBACK and not no_auth:
        raise RagError(
            f"serving on {host} exposes your documents to the network: set ui.username and ui.password "
            "(RAG_UI_USERNAME / RAG_UI_PASSWORD), or pass --no-auth explicitly"
        )
    return None


def serve(rag: Rag, block: bool = True, no_auth: bool = False) -> tuple[gr.Blocks, str]:
    ui = rag.config.ui
    auth = check_exposure(ui.host, ui.username, ui.password, no_auth)
    app = build_app(rag)
    # chats run side by side up to ui.concurrency (retrieval is concurrent; the model itself serves
    # generate.concurrency requests at a time and queues the rest); document changes run one at a time
    app.queue(default_concurrency_limit=ui.concurrency)
    try:
        server, url, _ = app.launch(server_name=ui.host, server_port=ui.port, auth=auth, prevent_thread_lock=True,
                                    quiet=True, css=CSS, footer_links=["api"])
    except OSError as exc:  # most often the port is taken, e.g. by another `rag serve`
        raise RagError(f"cannot serve on {ui.host}:{ui.port}: {exc} (choose another with --port)") from None
    add_document_route(server, rag.documents, Path(rag.config.index.path))  # documents by id, never by path
    print(f"situated-rag: serving on http://{ui.host}:{ui.port} (index {rag.config.index.path})", flush=True)
    if block:
        app.block_thread()  # until Ctrl-C
    return app, url
