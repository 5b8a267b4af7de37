"""The Gradio app: a thin layer over ``rag.Rag``, one or several indexes (collections) at once. Each tab is its own
module (``ui/chat.py``, ``documents.py``, ``settings.py``, ``evaluate.py``); handlers iterate the facade's events
and render (``ui/render.py``); no retrieval or generation logic lives here."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from rag.core.errors import RagError  # noqa: E402
from rag.pipeline import Rag  # noqa: E402
from ui.api import add_api_routes  # noqa: E402
from ui.browser_state import browser_secret, new_chat, restore_chat  # noqa: E402
from ui.chat import EXAMPLES, chat_tab  # noqa: E402
from ui.collections import Collections  # noqa: E402
from ui.documents import documents_tab, listed  # noqa: E402
from ui.evaluate import evaluate_tab  # noqa: E402
from ui.files import add_document_route  # noqa: E402
from ui.render import CSS, example_questions, overview  # noqa: E402
from ui.settings import kept_settings, settings_tab, shown_settings  # noqa: E402

log = logging.getLogger(__name__)


def build_app(served: Rag | Sequence[Rag] | Collections) -> gr.Blocks:
    collections = served if isinstance(served, Collections) else Collections.of(served)
    several = len(collections.names) > 1

    def summary(chosen: str) -> tuple[Any, ...]:
        """The first screen's line (documents, chunks, the model's state) and example questions, read now."""
        rag = collections.get(chosen)
        docs = rag.documents()
        examples = example_questions(docs, EXAMPLES)
        buttons = [gr.update(value=q, visible=True) for q in examples]
        buttons += [gr.update(visible=False)] * (EXAMPLES - len(examples))
        return (overview(docs, rag.model_state()), *buttons)

    def restore_collection(remembered: str | None) -> tuple[str, Any]:
        name = collections.name(remembered)
        return name, gr.update(value=name)

    def switch(chosen: str, before: str, history: list[dict], chats: list[dict]) -> tuple[Any, ...]:
        """Another collection: the chat asked of the one before goes to its past chats, and a new chat starts."""
        name = collections.name(chosen)
        if name == collections.name(before):  # the same one chosen again, or a second event for one choice
            return (gr.skip(),) * 6
        chat, sources, current, chats, _ = new_chat(history, chats, collections.name(before))
        return (name, name, chat, sources, current, chats)

    def ask_api(question: str) -> tuple[str, list[dict]]:
        answer = collections.get(None).ask(question)
        cites = [{"n": c.n, "source": c.source, "page": c.page, "quote": c.quote} for c in answer.citations]
        return answer.text, cites

    with gr.Blocks(title="situated-rag") as app:
        first = collections.names[0]
        secret = browser_secret(Path(collections.get(first).config.index.path))
        collection = gr.State(first)  # the collection this page works on
        settings = gr.State({})  # collection -> the settings this browser applied to it
        chosen = gr.BrowserState(first, storage_key="situated-rag-collection", secret=secret)
        gr.Markdown("## situated-rag\nAsk questions about your documents. Answers cite the passages they rest on.")
        with gr.Row(equal_height=True):
            status_line = gr.Markdown(elem_id="overview")
            chooser = gr.Dropdown(collections.names, value=first, label="Collection", visible=several, scale=0,
                                  min_width=260, elem_id="collection")
        with gr.Tab("Chat"):
            chat = chat_tab(collections, collection, settings, secret)
        documents = documents_tab(collections, collection)
        configured = settings_tab(collections, collection, settings, secret)
        evaluate_tab(collections, collection, settings)
        # a plain request/response endpoint for scripts (gradio_client): answer text and citations
        api_q = gr.Textbox(visible=False)
        api_a, api_c = gr.Textbox(visible=False), gr.JSON(visible=False)
        api_q.submit(ask_api, api_q, [api_a, api_c], api_name="ask")

        first_screen = [status_line, *chat.examples]
        for event in documents.changes:  # the counts and examples follow every change of the documents
            event.then(summary, collection, first_screen, api_name=False)

        def follow(event: Any) -> None:
            """What depends on the collection, read again for it: the documents, the first screen, the settings."""
            event.then(functools.partial(listed, collections), collection, documents.listing, api_name=False) \
                 .then(summary, collection, first_screen, api_name=False) \
                 .then(functools.partial(shown_settings, collections), [collection, settings], configured.inputs, api_name=False)

        follow(chooser.select(switch, [chooser, collection, chat.chat, chat.past_chats],
                             [collection, chosen, chat.chat, chat.sources, chat.current_chat, chat.past_chats],
                             api_name=False)
               .then(restore_chat, [chat.chat, chat.current_chat, chat.past_chats, collection], [chat.chat, chat.past], api_name=False))
        loading = app.load(restore_collection, chosen, [collection, chooser], api_name=False) \
            .then(restore_chat, [chat.chat, chat.current_chat, chat.past_chats, collection], [chat.chat, chat.past], api_name=False) \
            .then(functools.partial(kept_settings, collections), configured.remembered, settings, api_name=False)
        follow(loading)  # which shows the settings kept for the collection
    return app


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


def serve(served: Rag | Sequence[Rag], block: bool = True, no_auth: bool = False) -> tuple[gr.Blocks, str]:
    """Serve one index, or several as collections (the first one's ``ui`` settings apply)."""
    collections = Collections.of(served)
    rags = list(collections.rags.values())
    ui = rags[0].config.ui
    auth = check_exposure(ui.host, ui.username, ui.password, no_auth)
    app = build_app(collections)
    # chats run side by side up to ui.concurrency (retrieval is concurrent; the model itself serves
    # generate.concurrency requests at a time and queues the rest); document changes run one at a time
    app.queue(default_concurrency_limit=ui.concurrency)
    try:
        server, url, _ = app.launch(server_name=ui.host, server_port=ui.port, auth=auth, prevent_thread_lock=True,
                                    quiet=True, css=CSS, footer_links=["api"])
    except OSError as exc:  # most often the port is taken, e.g. by another `rag serve`
        raise RagError(f"cannot serve on {ui.host}:{ui.port}: {exc} (choose another with --port)") from None
    add_document_route(server, [(r.documents, Path(r.config.index.path)) for r in rags])  # by id, never by path
    add_api_routes(server, collections.rags)
    where = ", ".join(f"{name}: {r.config.index.path}" for name, r in collections.rags.items())
    print(f"situated-rag: serving on http://{ui.host}:{ui.port} ({'collections ' if len(rags) > 1 else 'index '}{where})",
          flush=True)
    if block:
        app.block_thread()  # until Ctrl-C
    return app, url
