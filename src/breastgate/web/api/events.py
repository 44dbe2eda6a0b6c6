"""``GET /api/worklist/events``: the worklist's changes as server-sent events (the pages' live
update without a reload).

The server polls a fingerprint of the worklist (row count and latest change time) every
``POLL_SECONDS`` and sends ``event: worklist`` with the new fingerprint when it moved; the page
then fetches ``/api/worklist`` again, so the stream itself carries no patient data. A comment line
keeps idle connections open through proxies. A stream ends after ``STREAM_SECONDS`` (the browser's
``EventSource`` reconnects by itself, its identity checked anew), so a stopping server is not held
open by its pages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from breastgate.store.tables import WorklistEntry
from breastgate.web.api.access import ReaderOrSystem

LOGGER = logging.getLogger(__name__)

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 300.0

router = APIRouter(prefix="/api")


def fingerprint(context: Any) -> str:
    """The worklist's state in a few characters: rows and the time of the latest change."""
    with context.db.session() as session:
        count, latest = session.execute(
            select(func.count(), func.max(WorklistEntry.updated_at)).select_from(WorklistEntry)
        ).one()
    return f"{count}:{latest.isoformat() if latest is not None else ''}"


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def _stream(request: Request, context: Any) -> AsyncIterator[str]:
    last = await to_thread.run_sync(fingerprint, context)
    yield "retry: 1000\n\n" + _event("hello", {"version": last})
    started = quiet = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        await asyncio.sleep(POLL_SECONDS)
        if await request.is_disconnected():
            return
        current = await to_thread.run_sync(fingerprint, context)
        if current != last:
            last, quiet = current, time.monotonic()
            yield _event("worklist", {"version": current})
        elif time.monotonic() - quiet > KEEPALIVE_SECONDS:
            quiet = time.monotonic()
            yield ": keep-alive\n\n"


@router.get(
    "/worklist/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": '``event: worklist`` with ``data: {"version": …}`` when the worklist changed',
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def worklist_events(request: Request, _: ReaderOrSystem) -> StreamingResponse:
    """Server-sent events: ``worklist`` whenever a study arrives on the worklist or changes."""
    context = request.app.state.context
    return StreamingResponse(
        _stream(request, context),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
