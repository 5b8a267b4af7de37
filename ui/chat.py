"""The Chat tab: questions stream their answers with the passages beside them; Stop, a queue, past chats."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag.core.types import AnswerDone, Failed, RetrievalDone, Token, Waiting
from rag.pipeline import Rag
from ui.browser_state import export, new_chat, reopen
from ui.collections import Collections
from ui.files import document_links
from ui.render import as_written, link_citations, plain_text, render_sources

CHECKING = "checking the answer against the passages…"
EXAMPLES = 3  # example questions on the first screen
STOPPED = "stopped"
_SOURCES_BLOCK = re.compile(r"\n*<details><summary>Sources.*?</details>", re.S)


@dataclass(frozen=True)
class ChatTab:
    chat: gr.Chatbot
    sources: gr.HTML
    examples: list[gr.Button]
    past: gr.Dropdown
    current_chat: gr.BrowserState
    past_chats: gr.BrowserState


def page_links(rag: Rag, slot: int = 0) -> dict[str, str]:
    """Where the app serves each indexed PDF and image: by document id (ui/files.py), read from the manifest each time."""
    return document_links(rag.documents(), slot)


def stopped(history: list[dict]) -> list[dict]:
    """The answer Stop cut short keeps what was written, marked as stopped rather than as being checked."""
    last = plain_text(history[-1]["content"]) if history and history[-1]["role"] == "assistant" else None
    if last is not None and (not last or CHECKING in last or last.startswith("*waiting")):  # not yet answered
        text = "" if last.startswith("*waiting") else last.replace(f"*{CHECKING}*", "").rstrip()
        history = [*history[:-1], {"role": "assistant", "content": f"{text}\n\n*{STOPPED}*".lstrip()}]
    return history


def chat_tab(collections: Collections, collection: gr.State, settings: gr.State, secret: str | None) -> ChatTab:
    # when each browser session last pressed Stop: an answer started before that ends at its next event, even
    # where Gradio's own cancel missed it (it can, when the cancel arrives as the answer's stream is set up)
    stops: dict[str, float] = {}

    def respond(message: str, history: list[dict], chosen: str, applied: dict, request: gr.Request
                ) -> Iterator[tuple[list[dict], Any, str]]:
        started, session = time.monotonic(), getattr(request, "session_hash", None) or ""
        message = (message or "").strip()
        if not message:
            yield history, gr.skip(), ""
            return
        # what was said, as written, without the sources block under each answer
        prior = [{"role": m["role"], "content": html.unescape(_SOURCES_BLOCK.sub("", plain_text(m["content"])))} for m in history]
        history = [*history, {"role": "user", "content": as_written(message)}, {"role": "assistant", "content": ""}]
        sources, draft = "", ""
        yield history, gr.skip(), ""
        rag = collections.view(chosen, applied)
        files = page_links(rag, collections.slot(chosen))
        events = rag.stream(message, history=prior or None)
        for event in events:
            if stops.get(session, 0.0) > started:
                events.close()  # ends the generation on the server
                yield stopped(history), sources, gr.skip()
                return
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

    # per browser, in its local storage: the chat in progress and the past chats
    current_chat = gr.BrowserState([], storage_key="situated-rag-chat", secret=secret)
    past_chats = gr.BrowserState([], storage_key="situated-rag-chats", secret=secret)
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
    ask = [box, chat, collection, settings]
    asking = [box.submit(respond, ask, [chat, sources, box], api_name="chat"),
              send.click(respond, ask, [chat, sources, box], api_name=False)]
    asking += [ex.click(respond, [ex, *ask[1:]], [chat, sources, box], api_name=False) for ex in examples]
    def stop_answer(history: list[dict], request: gr.Request) -> list[dict]:
        stops[getattr(request, "session_hash", None) or ""] = time.monotonic()
        return stopped(history)

    # cancelling the handler closes its stream, which ends the generation on the server (rag/llm)
    halting = stop.click(stop_answer, chat, chat, cancels=asking, api_name=False)
    for event in [*asking, halting]:  # kept in the browser as it stands after each answer (or a Stop)
        event.then(lambda history: history, chat, current_chat, api_name=False)
    clear.click(new_chat, [chat, past_chats, collection], [chat, sources, current_chat, past_chats, past], cancels=asking,
                api_name=False)
    past.select(reopen, [past, past_chats, collection], [chat, current_chat], api_name=False)
    export_btn.click(export, chat, exported, api_name=False)
    return ChatTab(chat, sources, examples, past, current_chat, past_chats)
