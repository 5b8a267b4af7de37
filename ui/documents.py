"""The Documents tab: upload files or sync folders into the chosen collection, list what it holds, delete."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.core.errors import RagError
from ui.collections import Collections
from ui.files import safe_name, store_upload
from ui.render import as_written, documents_table, report_table


@dataclass(frozen=True)
class DocumentsTab:
    tab: gr.Tab
    listing: list[Any]  # what a fresh read of the manifest updates: the table and the delete choices
    changes: list[Any]  # the events that change the documents


def shown(action: Callable[..., Any]) -> Callable[..., Any]:
    """An error the user can act on (a read-only index, a full disk) is shown with its message, not as "Error"."""
    @functools.wraps(action)  # Gradio reads the signature through it (the progress parameter)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except RagError as exc:
            raise gr.Error(str(exc)) from None

    return run


def listed(collections: Collections, chosen: str) -> tuple[Any, Any]:
    """The documents table and the delete choices, from one read of the manifest; nothing chosen."""
    docs = collections.get(chosen).documents()
    return documents_table(docs), gr.update(choices=[d.source for d in docs], value=None)


def documents_tab(collections: Collections, collection: gr.State) -> DocumentsTab:
    def ingest_paths(chosen: str, paths: list[Path], progress: gr.Progress) -> tuple[Any, Any, Any]:
        progress(0, desc="reading files")
        # one bar for the whole ingestion: each step (reading, embedding) reports through it
        report = collections.get(chosen).ingest(paths, progress=lambda step, done, total: progress((done, total or None), desc=step))
        return (report_table(report), *listed(collections, chosen))

    def ingest_uploads(chosen: str, files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any, Any]:
        if not files:
            raise gr.Error("Choose one or more files first.")
        uploads = collections.get(chosen).uploads
        for f in files:
            try:
                store_upload(Path(f), uploads, safe_name(Path(f).name))
            except OSError as exc:
                raise gr.Error(f"Could not save {Path(f).name} in {uploads}: {exc.strerror or exc}") from None
        return ingest_paths(chosen, [uploads], progress)  # the upload folder is synced like any other

    def ingest_folder(chosen: str, folder: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any, Any]:
        path = Path((folder or "").strip()).expanduser()
        if not path.is_dir():
            raise gr.Error(f"{folder!r} is not a folder on this machine.")
        return ingest_paths(chosen, [path], progress)

    def resync(chosen: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any, Any]:
        roots = collections.get(chosen).roots()
        if not roots:
            raise gr.Error("Nothing to re-sync yet: ingest a folder first.")
        return ingest_paths(chosen, roots, progress)

    def ask_to_delete(source: str | None) -> tuple[Any, str]:
        if not source:
            raise gr.Error("Choose an indexed document to delete.")
        return gr.update(visible=True), f"Delete **{as_written(source)}** from the index?"

    def delete(chosen: str, source: str) -> tuple[Any, Any, str, Any]:
        if not source or not collections.get(chosen).delete(source):
            raise gr.Error("Choose an indexed document to delete.")
        return (*listed(collections, chosen), f"Deleted {as_written(source)}.", gr.update(visible=False))

    with gr.Tab("Documents") as tab:
        with gr.Row():
            with gr.Column():
                files = gr.File(label="Upload documents", file_count="multiple", type="filepath", elem_id="upload")
                upload_btn = gr.Button("Ingest uploaded files", variant="primary", elem_id="ingest-uploads")
            with gr.Column():
                folder = gr.Textbox(label="Or a folder on this machine", placeholder="/path/to/documents", elem_id="folder")
                folder_btn = gr.Button("Sync folder", elem_id="sync-folder")
                resync_btn = gr.Button("Re-sync all ingested folders", elem_id="resync")
        status = gr.Dataframe(headers=["file", "status", "chunks", "reason"], label="Last ingestion", elem_id="ingest-status",
                              wrap=True, column_widths=["30%", "10%", "8%", "52%"])
        # read from the manifest when the page opens and whenever the tab is shown, never kept from start-up
        docs = gr.Dataframe(label="Indexed documents", elem_id="documents", wrap=True,
                            headers=["document", "status", "chunks", "title", "acronyms", "error"],
                            column_widths=["26%", "8%", "7%", "24%", "8%", "27%"])
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
        upload_btn.click(shown(ingest_uploads), [collection, files], [status, docs, victim], **one_at_a_time),
        folder_btn.click(shown(ingest_folder), [collection, folder], [status, docs, victim], **one_at_a_time),
        resync_btn.click(shown(resync), collection, [status, docs, victim], **one_at_a_time),
        confirm_btn.click(shown(delete), [collection, victim], [docs, victim, deleted, confirm_row], **one_at_a_time),
    ]
    delete_btn.click(ask_to_delete, victim, [confirm_row, confirm_text], api_name=False)
    cancel_btn.click(lambda: gr.update(visible=False), None, confirm_row, api_name=False)
    tab.select(functools.partial(listed, collections), collection, [docs, victim], api_name=False)
    return DocumentsTab(tab, [docs, victim], changes)
