"""The one route that serves documents: ``/document/{doc_id}``, for indexed documents only.

A client never names a path: it names a document id, and only a document the index holds with status ok is
served, from the path the index recorded, if that path is still a regular file outside every index folder.
Documents are never served as active content in the app's origin: PDFs go inline (the browser's viewer opens
them at a page) with ``nosniff`` and a policy that lets nothing run; anything else is a download as plain text.
The page's login applies here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request  # FastAPI reads the route's annotations: these must be module names
from fastapi.responses import FileResponse, Response

from ui.access import logged_in
from ui.page_image import PAGE_SUFFIXES, page_png, parse_boxes

PDF_POLICY = "default-src 'none'; object-src 'none'; script-src 'none'; frame-ancestors 'self'"


def document_links(documents: list[Any], slot: int = 0) -> dict[str, str]:
    """Source -> URL for the documents the route serves with pages (PDFs open at a page; a page of a PDF or an
    image is drawn at ``URL/page/N``); ``slot`` is the collection's place when the app serves several indexes."""
    where = f"?c={slot}" if slot else ""
    return {d.source: f"/document/{d.doc_id}{where}" for d in documents
            if d.status == "ok" and d.path.lower().endswith(PAGE_SUFFIXES)}



def servable(documents: list[Any], doc_id: str, index_folder: Path) -> Path | None:
    """The file of an indexed, ok document, when it is a regular file (not a link) outside the index folder (but
    for the app's own upload folder inside it)."""
    doc = next((d for d in documents if d.doc_id == doc_id and d.status == "ok" and d.path), None)
    if doc is None:
        return None
    path = Path(doc.path)
    if path.is_symlink() or not path.is_file():
        return None
    real, index = path.resolve(), index_folder.resolve()
    if (real == index or index in real.parents) and (index / "uploads") not in real.parents:
        return None  # the index's own files (chunk text, manifest) are never documents; its uploads folder is
    return real


def add_document_route(server: Any, indexes: Sequence[tuple[Callable[[], list[Any]], Path]]) -> None:
    """Register ``/document/{doc_id}?c=slot`` and ``/document/{doc_id}/page/{n}?c=slot&hl=boxes`` on Gradio's
    FastAPI app; ``indexes`` holds, per collection in order, a call listing its documents and its index folder."""
    def served(doc_id: str, request: Request, c: int) -> Path:
        if not logged_in(server, request):
            raise HTTPException(status_code=401, detail="Not authenticated")
        if not 0 <= c < len(indexes):
            raise HTTPException(status_code=404, detail="no such collection")
        documents, index_folder = indexes[c]
        path = servable(documents(), doc_id, index_folder)
        if path is None:
            raise HTTPException(status_code=404, detail="no such document")
        return path

    def document(doc_id: str, request: Request, c: int = 0) -> FileResponse:
        path = served(doc_id, request, c)
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
        if path.suffix.lower() == ".pdf":
            headers["Content-Security-Policy"] = PDF_POLICY
            return FileResponse(path, media_type="application/pdf", headers=headers, content_disposition_type="inline",
                                filename=path.name)
        headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return FileResponse(path, media_type="text/plain; charset=utf-8", headers=headers, content_disposition_type="attachment",
                            filename=path.name)

    def page(doc_id: str, n: int, request: Request, c: int = 0, hl: str = "") -> Response:
        path = served(doc_id, request, c)
        try:
            png = page_png(path, n, parse_boxes(hl)) if path.suffix.lower() in PAGE_SUFFIXES else None
        except Exception:  # noqa: BLE001 - a file changed or broken since it was indexed is a page we cannot draw
            png = None
        if png is None:
            raise HTTPException(status_code=404, detail="no such page")
        return Response(png, media_type="image/png", headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                                                              "Content-Security-Policy": "default-src 'none'; sandbox"})

    server.add_api_route("/document/{doc_id}", document, methods=["GET"])
    server.add_api_route("/document/{doc_id}/page/{n}", page, methods=["GET"])


def safe_name(name: str) -> str:
    """A file name with no path parts and no characters that could escape the upload folder."""
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .") or "upload"
    return base[:200]


def store_upload(source: Path, folder: Path, name: str) -> Path:
    """Copy an uploaded file into the upload folder as ``name`` (already made safe); a different file of that name
    is never overwritten: the new one becomes "name (2).ext". The same bytes uploaded again are not copied twice."""
    import filecmp
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = Path(name).stem, Path(name).suffix
    target, n = folder / name, 1
    while target.exists():
        if filecmp.cmp(source, target, shallow=False):
            return target
        n += 1
        target = folder / f"{stem} ({n}){suffix}"
    shutil.copyfile(source, target)
    return target
