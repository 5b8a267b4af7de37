"""Who may use the routes beside the page (documents, the HTTP API): the page's own login applies to them.

A browser that logged in to the page carries Gradio's access cookie; a program sends the same username and
password as ``Authorization: Bearer USERNAME:PASSWORD`` (an OpenAI client's ``api_key``) or HTTP Basic auth.
Without a login on the page (loopback only, see ``ui.app.check_exposure``) everyone on this machine may.
"""

from __future__ import annotations

import base64
import hmac
from typing import Any

from fastapi import Request


def logged_in(server: Any, request: Request) -> bool:
    if server.auth is None and getattr(server, "auth_dependency", None) is None:
        return True
    token = request.cookies.get(f"access-token-{server.cookie_id}") or request.cookies.get(
        f"access-token-unsecure-{server.cookie_id}")
    if token and server.tokens.get(token) is not None:
        return True
    given = _credentials(request.headers.get("authorization", ""))
    return given is not None and any(_same(given, pair) for pair in _pairs(server.auth))


def _credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
    elif scheme.lower() != "bearer":
        return None
    user, sep, password = value.strip().partition(":")
    return (user, password) if sep else None


def _pairs(auth: Any) -> list[tuple[str, str]]:
    """Gradio keeps ``auth`` as a dict of username -> password, or as the list or tuple it was given."""
    if isinstance(auth, dict):
        return [(str(u), str(p)) for u, p in auth.items()]
    if isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(x, str) for x in auth):
        return [auth]
    if isinstance(auth, list):
        return [tuple(pair) for pair in auth if isinstance(pair, (tuple, list)) and len(pair) == 2]
    return []


def _same(given: tuple[str, str], pair: tuple[str, str]) -> bool:
    # compared in constant time: how long a refusal takes tells nothing about the password
    return hmac.compare_digest(given[0].encode(), str(pair[0]).encode()) & hmac.compare_digest(
        given[1].encode(), str(pair[1]).encode())
