"""The Gradio app: a thin layer over ``rag.Rag``. Handlers only iterate the facade's events and render."""

from __future__ import annotations

import html
import logging
import os
from typing import Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from rag.pipeline import Rag  # noqa: E402
from rag.types import Answer, AnswerDone, Failed, Hit, RetrievalDone, Token  # noqa: E402

log = logging.getLogger(__name__)

CSS = """
.source-card {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 6px 0;}
.source-card .where {font-weight: 600;}
.source-card .score {color: var(--body-text-color-subdued); font-size: 0.85em;}
.source-card mark {background: #fde68a; color: inherit;}
.source-card .text {white-space: pre-wrap; font-size: 0.9em;}
"""


def render_sources(hits: tuple[Hit, ...] | list[Hit], answer: Answer | None = None) -> str:
    """Source cards; when an answer is done, cited passages come first with their quoted span highlighted."""
    if not hits:
        return "<p>No passages found.</p>"
    quotes: dict[str, list[tuple[int, int]]] = {}
    cited_numbers: dict[str, int] = {}
    if answer is not None:
        for c in answer.citations:
            quotes.setdefault(c.chunk_id, []).append((c.char_start, c.char_end))
            cited_numbers[c.chunk_id] = c.n
    cards = []
    for n, hit in enumerate(hits, 1):
        c = hit.chunk
        label = "cited" if c.id in cited_numbers else "retrieved"
        body = _highlight(c.text, [(a - c.char_start, b - c.char_start) for a, b in quotes.get(c.id, [])])
        cards.append(
            f'<div class="source-card" data-chunk="{html.escape(c.id)}" id="source-{n}">'
            f'<div class="where">[{n}] {html.escape(c.source)} &middot; page {c.page_start}</div>'
            f'<div class="score">{label} &middot; score {hit.score:.4f}{" &middot; " + html.escape(c.section) if c.section else ""}</div>'
            f'<div class="text">{body}</div></div>'
        )
    return "\n".join(cards)


def _highlight(text: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for a, b in sorted((max(0, a), min(len(text), b)) for a, b in spans):
        if a < at or a >= b:
            continue
        out += [html.escape(text[at:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
        at = b
    out.append(html.escape(text[at:]))
    return "".join(out)


def build_app(rag: Rag) -> gr.Blocks:
    def respond(message: str, history: list[dict]) -> Iterator[tuple[list[dict], str, str]]:
        message = (message or "").strip()
        if not message:
            yield history, gr.skip(), ""
            return
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        sources = ""
        for event in rag.stream(message):
            if isinstance(event, RetrievalDone):
                sources = render_sources(event.hits)
            elif isinstance(event, Token):
                history[-1]["content"] += event.text
            elif isinstance(event, Failed):
                history[-1]["content"] = f"Error: {event.message}"
            elif isinstance(event, AnswerDone):
                history[-1]["content"] = event.answer.text
                sources = render_sources(event.answer.passages, event.answer)
            yield history, sources, ""

    def ask_api(question: str) -> tuple[str, list[dict]]:
        answer = rag.ask(question)
        cites = [{"n": c.n, "source": c.source, "page": c.page, "quote": c.quote} for c in answer.citations]
        return answer.text, cites

    with gr.Blocks(title="situated-rag") as app:
        gr.Markdown("## situated-rag\nAsk questions about your documents. Answers cite the passages they rest on.")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=520, buttons=["copy"])
                box = gr.Textbox(placeholder="Ask a question and press Enter", show_label=False, elem_id="question")
                with gr.Row():
                    clear = gr.Button("New chat", size="sm")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(elem_id="sources")
        box.submit(respond, [box, chat], [chat, sources, box], api_name="chat")
        clear.click(lambda: ([], "", ""), None, [chat, sources, box], api_name=False)
        # a plain request/response endpoint for scripts (gradio_client): answer text and citations
        api_q = gr.Textbox(visible=False)
        api_a, api_c = gr.Textbox(visible=False), gr.JSON(visible=False)
        api_q.submit(ask_api, api_q, [api_a, api_c], api_name="ask")
    return app


def serve(rag: Rag, block: bool = True) -> tuple[gr.Blocks, str]:
    ui = rag.config.ui
    auth = (ui.username, ui.password) if ui.username and ui.password else None
    app = build_app(rag)
    app.queue(default_concurrency_limit=1)  # one generation at a time on a 2-core machine
    print(f"situated-rag: serving on http://{ui.host}:{ui.port} (index {rag.config.index.path})", flush=True)
    _, url, _ = app.launch(server_name=ui.host, server_port=ui.port, auth=auth, prevent_thread_lock=not block,
                           quiet=True, css=CSS, footer_links=["api"])
    return app, url
