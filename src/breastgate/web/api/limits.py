"""Request bodies have a size limit per route: the API's JSON is small; STOW-RS and CSV imports are not.

An ASGI middleware: a ``Content-Length`` over the limit is refused before anything is read (413
problem+json); a body sent without one (chunked) is counted as it arrives and refused when it
passes the limit. The limit of a path is the longest matching prefix of :data:`LIMITS`.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024
#: The default: every JSON body of the API is well under it (a BCRAT questionnaire is < 2 KiB).
DEFAULT_LIMIT = 1 * MIB
#: Larger limits by path prefix (longest prefix wins).
LIMITS: dict[str, int] = {
    "/api/outcomes/csv": 32 * MIB,  # a year of a screening programme's outcomes
    "/dicomweb/studies": 2048 * MIB,  # STOW-RS: a tomosynthesis study is hundreds of MiB
}


def limit_for(path: str) -> int:
    best, limit = -1, DEFAULT_LIMIT
    for prefix, value in LIMITS.items():
        if path.startswith(prefix) and len(prefix) > best:
            best, limit = len(prefix), value
    return limit


class _TooLarge(HTTPException):
    """Raised while the body is read: the app's problem handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body too large: this route takes at most {limit} bytes")


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Request body too large",
            "status": 413,
            "detail": f"this route takes at most {limit} bytes",
        }
    ).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False
            if too_large:
                await _refuse(send, limit)
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _refuse(send, limit)
