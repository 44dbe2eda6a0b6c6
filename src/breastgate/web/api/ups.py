"""UPS-RS (PS3.18 §11, dicom-sr.md §6.1): the reading worklist as Unified Procedure Step workitems.

Workitems are created by breastgate (a study reaching the worklist) and updated when its AI
priority changes; clients search and retrieve them, claim and complete them (state changes with a
Transaction UID), ask to cancel them, and subscribe to event reports on a WebSocket channel.

======  ==================================================  ==========================================
verb    path                                                 what
======  ==================================================  ==========================================
GET     /ups-rs/workitems{?ProcedureStepState,...,limit}     search (200 list, 204 when none match)
GET     /ups-rs/workitems/{uid}                              retrieve
PUT     /ups-rs/workitems/{uid}/state                        change state (0074,1000) + (0008,1195)
POST    /ups-rs/workitems/{uid}/cancelrequest                cancel a SCHEDULED workitem (202)
POST    /ups-rs/workitems/{uid}/subscribers/{AE}             subscribe (global: 1.2.840.10008.5.1.4.34.5)
DELETE  /ups-rs/workitems/{uid}/subscribers/{AE}             unsubscribe
WS      /ups-rs/subscribers/{AE}                             event reports (UPS State Report) as JSON
======  ==================================================  ==========================================

Not supported: creating or updating workitems from outside (the worklist is breastgate's), and
filtered global subscriptions (treated as global).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import Role
from breastgate.store import audit
from breastgate.store import ups as ups_store
from breastgate.store import worklist as worklist_store
from breastgate.web.api.access import READERS_AND_SYSTEMS, AllowSocket, Identity, allow
from breastgate.web.api.deps import AppContext, SessionDep
from breastgate.web.api.worklist import record_status_change
from breastgate.worklist.ups import (
    FILTERED_GLOBAL_SUBSCRIPTION,
    GLOBAL_SUBSCRIPTION,
    SEARCH_KEYS,
    STATE_BY_UPS,
    matches,
    workitem,
    workitems,
)

router = APIRouter(prefix="/ups-rs")

#: Reading systems and people search and follow workitems; performers change their state;
#: subscriptions are made by integrations (and the AI administrator setting one up).
Reader = Annotated[Identity, Depends(allow(*READERS_AND_SYSTEMS, basic_challenge=True))]
Performer = Annotated[
    Identity, Depends(allow(Role.RADIOLOGIST, Role.TECHNOLOGIST, Role.INTEGRATION, basic_challenge=True))
]
Subscriber = Annotated[Identity, Depends(allow(Role.INTEGRATION, Role.AI_ADMIN, basic_challenge=True))]
DICOM_JSON = "application/dicom+json"


def _dicom_json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=DICOM_JSON)


def _query(request: Request) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in request.query_params.items():
        if key in ("limit", "offset", "fuzzymatching", "includefield"):
            continue
        tag = SEARCH_KEYS.get(key, key.upper())
        if tag not in SEARCH_KEYS.values():
            raise HTTPException(400, f"search key {key!r} is not supported ({', '.join(SEARCH_KEYS)})")
        query[tag] = value
    return query


@router.get("/workitems")
def search(
    request: Request,
    session: SessionDep,
    _: Reader,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> Response:
    """Workitems in worklist order (priority, then age), filtered by the search keys."""
    query = _query(request)
    state = query.pop("00741000", None)
    status = STATE_BY_UPS.get(state) if state else None
    if state and status is None:
        return Response(status_code=204)
    rows = worklist_store.list_worklist(session, status=status, limit=10_000)
    found = [w for w in workitems(session, [r for r in rows if r.workitem_uid]) if matches(w, query)]
    page = found[offset : offset + limit]
    return _dicom_json(page) if page else Response(status_code=204)


def _item(session: Any, uid: str) -> worklist_store.WorklistItem:
    item = worklist_store.by_workitem(session, uid)
    if item is None:
        raise HTTPException(404, "No such workitem")
    return item


@router.get("/workitems/{uid}")
def retrieve(uid: str, session: SessionDep, _: Reader) -> Response:
    return _dicom_json([workitem(session, _item(session, uid))])


def _attribute(body: Any, tag: str) -> str | None:
    dataset = body[0] if isinstance(body, list) and body else body
    if not isinstance(dataset, dict):
        return None
    element = dataset.get(tag) or {}
    values = element.get("Value") if isinstance(element, dict) else None
    return str(values[0]) if values else None


@router.put("/workitems/{uid}/state")
def change_state(
    uid: str, session: SessionDep, user: Performer, body: Annotated[Any, Body()] = None
) -> Response:
    """Claim (→ IN PROGRESS, with a new Transaction UID), complete or cancel, or give back."""
    item = _item(session, uid)
    state, transaction = _attribute(body, "00741000"), _attribute(body, "00081195")
    if state is None or state not in STATE_BY_UPS:
        raise HTTPException(400, "the body needs Procedure Step State (0074,1000)")
    try:
        after = worklist_store.set_status(
            session,
            item.study_instance_uid,
            STATE_BY_UPS[state],
            transaction_uid=transaction,
            enforce_transaction=True,
        )
    except InvalidInputError as exc:
        raise HTTPException(409, str(exc)) from None
    record_status_change(session, user.actor, item, after, via="ups-rs")
    return Response(status_code=200)


@router.post("/workitems/{uid}/cancelrequest")
def cancel_request(uid: str, session: SessionDep, user: Performer) -> Response:
    """A SCHEDULED workitem nobody claimed is canceled at once; a claimed one is its performer's."""
    item = _item(session, uid)
    if item.status != "scheduled":
        raise HTTPException(409, f"the workitem is {item.status}; only a scheduled one can be canceled here")
    after = worklist_store.set_status(session, item.study_instance_uid, "canceled")
    record_status_change(session, user.actor, item, after, via="ups-rs cancelrequest")
    return Response(status_code=202)


def _subscription_target(session: Any, uid: str) -> tuple[str, str | None]:
    """The subscription's workitem (``GLOBAL`` for all) and the study it is about (None for all)."""
    if uid in (GLOBAL_SUBSCRIPTION, FILTERED_GLOBAL_SUBSCRIPTION):
        return ups_store.GLOBAL, None
    return uid, _item(session, uid).study_instance_uid


def _ae(ae_title: str) -> str:
    if not 0 < len(ae_title) <= 16 or not ae_title.isprintable() or "\\" in ae_title:
        raise HTTPException(400, "not an AE title (1-16 characters)")
    return ae_title


def _audit_subscription(
    session: Any, kind: AuditKind, who: str, ae_title: str, uid: str, study_uid: str | None, **data: Any
) -> None:
    """``uid`` as the client named it: a workitem, or the well-known UID of a global subscription."""
    audit.append(
        session,
        kind,
        actor=who,
        study_instance_uid=study_uid,
        subject=ae_title,
        data={"ae_title": ae_title, "workitem_uid": uid, **data},
    )


@router.post("/workitems/{uid}/subscribers/{ae_title}")
def subscribe(
    uid: str,
    ae_title: str,
    session: SessionDep,
    user: Subscriber,
    deletionlock: bool = False,
) -> Response:
    """Subscribe ``ae_title`` to one workitem or (global UIDs) to all; audited."""
    ae = _ae(ae_title)
    target, study_uid = _subscription_target(session, uid)
    ups_store.subscribe(session, ae, target, deletion_lock=deletionlock)
    who = user.actor
    _audit_subscription(
        session, AuditKind.UPS_SUBSCRIBED, who, ae, uid, study_uid, deletion_lock=deletionlock
    )
    return Response(status_code=201)


@router.delete("/workitems/{uid}/subscribers/{ae_title}")
def unsubscribe(uid: str, ae_title: str, session: SessionDep, user: Subscriber) -> Response:
    """Remove a subscription (404 when there is none); audited."""
    ae = _ae(ae_title)
    target = ups_store.GLOBAL if uid in (GLOBAL_SUBSCRIPTION, FILTERED_GLOBAL_SUBSCRIPTION) else uid
    if not ups_store.unsubscribe(session, ae, target):
        raise HTTPException(404, "No such subscription")
    found = worklist_store.by_workitem(session, target) if target != ups_store.GLOBAL else None
    study_uid = found.study_instance_uid if found is not None else None
    _audit_subscription(session, AuditKind.UPS_UNSUBSCRIBED, user.actor, ae, uid, study_uid)
    return Response(status_code=200)


@router.websocket("/subscribers/{ae_title}")
async def notifications(
    websocket: WebSocket, ae_title: str, _: Annotated[Identity, Depends(AllowSocket(*READERS_AND_SYSTEMS))]
) -> None:
    """The AE's notification channel: every event report on the workitems it follows, in order,
    from the moment the channel opens, one DICOM JSON object per message."""
    context: AppContext = websocket.app.state.context

    def read(after: int) -> list[ups_store.EventReport]:
        with context.db.session() as session:
            return ups_store.events_after(session, ae_title, after)

    def newest() -> int:
        with context.db.session() as session:
            return ups_store.last_event_id(session)

    # The starting point is fixed before the channel is open: whatever happens once the client
    # sees it open is reported.
    last = await asyncio.to_thread(newest)
    await websocket.accept()
    try:
        while True:
            for report in await asyncio.to_thread(read, last):
                await websocket.send_text(json.dumps(report.payload))
                last = report.id
            try:  # wait a little, and notice a client that went away
                message = await asyncio.wait_for(websocket.receive(), timeout=0.25)
            except TimeoutError:
                continue
            if message.get("type") == "websocket.disconnect":
                return
    except WebSocketDisconnect:
        return
