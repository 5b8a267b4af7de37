"""The HTTP API beside the page, for other programs: ``POST /v1/chat/completions`` (OpenAI-compatible, so any
OpenAI client or chat front end can ask the corpus), ``POST /v1/search`` and ``GET /v1/models``.

A chat reply is the checked answer with a ``citations`` list (source, page, span, quote). Streamed, the
model's words arrive as they are written, each chunk marked ``"draft": true``; the last chunk carries the checked
answer (``final``: content, citations, abstained), which replaces the draft where the checks withheld it. Each
collection the app serves is a "model" (the first one when the request names none). The page's login applies:
a logged-in browser, or ``Authorization: Bearer USERNAME:PASSWORD`` (an OpenAI client's ``api_key``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import HTTPException, Request  # FastAPI reads the route's annotations: these must be module names
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from rag.core.errors import RagError
from rag.core.types import Answer, AnswerDone, Citation, Failed, Hit, Token
from ui.access import logged_in


def citation_json(c: Citation) -> dict[str, Any]:
    return {"n": c.n, "chunk_id": c.chunk_id, "source": c.source, "page": c.page, "char_start": c.char_start,
            "char_end": c.char_end, "quote": c.quote}


def hit_json(h: Hit) -> dict[str, Any]:
    c = h.chunk
    return {"chunk_id": c.id, "source": c.source, "title": c.title, "section": c.section, "page_start": c.page_start,
            "page_end": c.page_end, "char_start": c.char_start, "char_end": c.char_end, "text": c.text,
            "score": h.score, "scores": h.scores}


def final_json(answer: Answer) -> dict[str, Any]:
    return {"content": answer.text, "citations": [citation_json(c) for c in answer.citations],
            "abstained": answer.abstained, "passages": [hit_json(h) for h in answer.passages]}


def question_and_history(messages: Any) -> tuple[str, list[dict[str, str]]]:
    """The last user message is the question; the user and assistant turns before it are the conversation."""
    if not isinstance(messages, list) or not messages:
        raise HTTPException(status_code=400, detail="messages must be a non-empty list")
    turns = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise HTTPException(status_code=400, detail="each message needs a role and content")
        content = m.get("content")
        if isinstance(content, list):  # OpenAI's content parts: the text ones
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if not isinstance(content, str):
            raise HTTPException(status_code=400, detail="each message needs a role and content")
        turns.append({"role": m["role"], "content": content})
    if turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise HTTPException(status_code=400, detail="the last message must be the user's question")
    history = [t for t in turns[:-1] if t["role"] in ("user", "assistant")]
    return turns[-1]["content"].strip(), history


def add_api_routes(server: Any, rags: Mapping[str, Any]) -> None:
    """Register the API on Gradio's FastAPI app; ``rags`` maps each collection's name to its ``Rag``."""
    names = list(rags)

    def pick(request: Request, model: Any) -> tuple[str, Any]:
        if not logged_in(server, request):
            raise HTTPException(status_code=401, detail="Not authenticated: send Authorization: Bearer USERNAME:PASSWORD")
        name = model if isinstance(model, str) and model in rags else names[0]
        return name, rags[name]

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise HTTPException(status_code=400, detail="the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(status_code=400, detail="the body must be a JSON object")
        return body

    def models(request: Request) -> dict[str, Any]:
        pick(request, None)
        return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "situated-rag"} for n in names]}

    async def search(request: Request) -> dict[str, Any]:
        body = await body_of(request)
        _, rag = pick(request, body.get("collection"))
        query, k = body.get("query"), body.get("k", 10)
        if not isinstance(query, str) or not query.strip():
            raise HTTPException(status_code=400, detail="query must be a non-empty string")
        if not isinstance(k, int) or not 1 <= k <= 100:
            raise HTTPException(status_code=400, detail="k must be a whole number from 1 to 100")
        try:  # in a worker thread, as every blocking call here: the page shares this event loop
            hits = await run_in_threadpool(rag.search, query, k, body.get("filters"))
        except RagError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return {"query": query, "hits": [hit_json(h) for h in hits]}

    async def chat(request: Request) -> Any:
        body = await body_of(request)
        name, rag = pick(request, body.get("model"))
        question, history = question_and_history(body.get("messages"))
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.get("stream"):
            events = rag.stream(question, history)  # Starlette reads a plain generator in a worker thread
            return StreamingResponse(_sse(events, reply_id, created, name), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-store"})
        try:
            answer = await run_in_threadpool(rag.ask, question, history)
        except RagError as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from None
        final = final_json(answer)
        return {"id": reply_id, "object": "chat.completion", "created": created, "model": name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}],
                "citations": final["citations"], "abstained": answer.abstained, "passages": final["passages"],
                "usage": {"prompt_tokens": int(answer.timings.get("prompt_tokens", 0)), "completion_tokens": 0,
                          "total_tokens": int(answer.timings.get("prompt_tokens", 0))}}

    server.add_api_route("/v1/models", models, methods=["GET"])
    server.add_api_route("/v1/search", search, methods=["POST"])
    server.add_api_route("/v1/chat/completions", chat, methods=["POST"])


def _sse(events: Iterator[Any], reply_id: str, created: int, model: str) -> Iterator[str]:
    """OpenAI's chunk stream: drafts as they come, then the checked answer; a failure ends it with an error."""
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data)}\n\n"

    yield chunk({"role": "assistant"}, draft=True)
    for event in events:
        if isinstance(event, Token):
            yield chunk({"content": event.text}, draft=True)
        elif isinstance(event, Failed):
            yield f"data: {json.dumps({'error': {'message': event.message, 'type': 'rag_error'}})}\n\n"
            break
        elif isinstance(event, AnswerDone):
            yield chunk({}, "stop", draft=False, final=final_json(event.answer))
            break
    yield "data: [DONE]\n\n"
