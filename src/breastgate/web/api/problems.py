"""RFC 9457 problem+json responses: failures map once, at the boundary (DESIGN §5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str = "") -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


#: At most this many validation errors are listed (a huge body can fail everywhere).
MAX_ERRORS = 20


def validation_detail(errors: Sequence[Any]) -> str:
    """Where and what, never the input: an answer does not echo what was sent (it may be large, or
    carry patient data into a client's logs)."""
    parts = []
    for error in list(errors)[:MAX_ERRORS]:
        where = ".".join(str(p) for p in error.get("loc", ()))[:200]
        parts.append(f"{where}: {str(error.get('msg', 'invalid'))[:200]}")
    more = len(errors) - MAX_ERRORS
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = problem(exc.status_code, str(exc.detail) if exc.detail else "Error")
        response.headers.update(exc.headers or {})  # e.g. WWW-Authenticate of a 401
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, "Invalid request", validation_detail(exc.errors()))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return problem(500, "Internal error", type(exc).__name__)
