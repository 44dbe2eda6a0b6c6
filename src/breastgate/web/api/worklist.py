"""``/api/worklist``: the reading worklist, its change history and its status (audited).

A status change, here or through UPS-RS (:mod:`breastgate.web.api.ups`), writes a
``worklist.status_changed`` audit event naming who made it, in the transaction of the change
(STYLE pattern 5, DESIGN §6).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import Role
from breastgate.store import audit
from breastgate.store import worklist as worklist_store
from breastgate.web.api.access import Identity, ReaderOrSystem, allow
from breastgate.web.api.deps import ContextDep, SessionDep
from breastgate.web.api.rows import as_dict
from breastgate.web.api.schemas.gateway import WorklistEntry, WorklistEntryWithChanges, WorklistPage

router = APIRouter(prefix="/api")


def record_status_change(
    session: Session,
    who: str,
    before: worklist_store.WorklistItem,
    after: worklist_store.WorklistItem,
    via: str,
) -> None:
    """Audit a worklist status change (nothing when the status stayed the same).

    Parameters
    ----------
    who
        The actor (:attr:`~breastgate.web.api.access.Identity.actor`).
    before, after
        The entry before and after the change.
    via
        The interface that made it: ``api``, ``ups-rs`` or ``ups-rs cancelrequest``.
    """
    if before.status == after.status:
        return
    audit.append(
        session,
        AuditKind.WORKLIST_STATUS_CHANGED,
        actor=who,
        study_instance_uid=after.study_instance_uid,
        subject="worklist status",
        data={
            "old_status": before.status,
            "new_status": after.status,
            "workitem_uid": after.workitem_uid,
            "via": via,
        },
    )


class StatusChange(BaseModel):
    """Body of ``PUT /api/worklist/{study}/status``."""

    status: Literal["scheduled", "in_progress", "completed", "canceled"]


@router.get("/worklist", response_model=WorklistPage, response_model_exclude_unset=True)
def worklist(
    session: SessionDep,
    context: ContextDep,
    _: ReaderOrSystem,
    flag: str | None = Query(None, max_length=64),
    modality: str | None = Query(None, max_length=16),
    status: str | None = Query(None, max_length=16),
    queue: str | None = Query(None, max_length=16),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """The reading worklist: priority (stat, urgent, routine) then age; filters by flag, modality,
    status (scheduled, in_progress, completed, canceled) and queue (radiologist, technologist)."""
    rows = worklist_store.list_worklist(
        session, flag=flag, modality=modality, status=status, queue=queue, limit=limit, offset=offset
    )
    refs = context.launch_refs()
    items = [as_dict(r) for r in rows]
    if refs is not None:
        for item in items:
            item["launch"] = refs.study(str(item["study_instance_uid"]))
    return {"items": items, "limit": limit, "offset": offset}


@router.get(
    "/worklist/{study_instance_uid}",
    response_model=WorklistEntryWithChanges,
    response_model_exclude_unset=True,
)
def worklist_item(
    study_instance_uid: str, session: SessionDep, context: ContextDep, _: ReaderOrSystem
) -> dict[str, Any]:
    """One worklist entry and every change of its priority or flags, with the policy that made it."""
    item = worklist_store.get_item(session, study_instance_uid)
    if item is None:
        raise HTTPException(404, "Study is not on the worklist")
    refs = context.launch_refs()
    return {
        **as_dict(item),
        **({"launch": refs.study(study_instance_uid)} if refs is not None else {}),
        "changes": [as_dict(c) for c in worklist_store.changes(session, study_instance_uid)],
    }


@router.put(
    "/worklist/{study_instance_uid}/status", response_model=WorklistEntry, response_model_exclude_unset=True
)
def worklist_status(
    study_instance_uid: str,
    body: StatusChange,
    session: SessionDep,
    user: Annotated[Identity, Depends(allow(Role.RADIOLOGIST, Role.TECHNOLOGIST))],
) -> dict[str, Any]:
    """Move a study along scheduled → in_progress → completed (or canceled); audited with the user."""
    before = worklist_store.get_item(session, study_instance_uid)
    if before is None:
        raise HTTPException(404, "Study is not on the worklist")
    try:
        item = worklist_store.set_status(session, study_instance_uid, body.status)
    except LookupError:
        raise HTTPException(404, "Study is not on the worklist") from None
    except InvalidInputError as exc:
        raise HTTPException(409, str(exc)) from None
    record_status_change(session, user.actor, before, item, via="api")
    return as_dict(item)
