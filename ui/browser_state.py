"""What each browser keeps in its local storage, sealed with a key kept in the index folder: the settings it
applied, the chat in progress and its past chats (the app's handlers for them)."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from ui.render import chat_markdown, chat_title

CHATS = 20  # past chats a browser keeps


def browser_secret(folder: Path) -> str | None:
    """The key the browser's stored settings and chats are sealed with, kept in the index folder so that they outlive a
    restart of the server; None (a new key each start) where the folder cannot be written."""
    path = folder / "ui-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another server made it first
        return path.read_text().strip()
    except OSError:
        return None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(16))
    return path.read_text().strip()


def titles(chats: list[dict] | None, collection: str) -> Any:
    """The past chats list for a collection: its own chats (a chat kept before collections existed shows in all)."""
    return gr.update(choices=[c["title"] for c in chats or [] if c.get("collection", collection) == collection], value=None)


def new_chat(history: list[dict], chats: list[dict], collection: str) -> tuple[Any, ...]:
    """The chat so far goes to the top of this browser's past chats (once: a chat reopened and continued
    replaces its earlier copy), and a new one starts."""
    chats = list(chats or [])
    if history:
        title = chat_title(history)
        same = [c for c in chats if c.get("title") == title and c.get("collection", collection) == collection]
        chats = [{"title": title, "messages": history, "collection": collection}, *(c for c in chats if c not in same)][:CHATS]
    return [], "", [], chats, titles(chats, collection)


def reopen(title: str | None, chats: list[dict], collection: str) -> tuple[Any, Any]:
    chosen = next((c["messages"] for c in chats or []
                   if c.get("title") == title and c.get("collection", collection) == collection), None)
    return (chosen, chosen) if chosen is not None else (gr.skip(), gr.skip())


def restore_chat(shown: list[dict] | None, current: list[dict] | None, chats: list[dict] | None, collection: str
                 ) -> tuple[Any, Any]:
    """The chat this browser kept, unless one is already on the page (a question asked before the page finished
    loading)."""
    return (gr.skip() if shown else current or []), titles(chats, collection)


def export(history: list[dict]) -> Any:
    """The chat as a Markdown file to download, with each answer's sources."""
    if not history:
        raise gr.Error("Nothing to export yet: ask a question first.")
    folder = Path(tempfile.mkdtemp(prefix="rag-chat-"))
    path = folder / f"chat-{time.strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(chat_markdown(history), encoding="utf-8")
    return gr.update(value=str(path), visible=True)
