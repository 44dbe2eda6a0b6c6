"""Worklist repository: each study's current AI priority and reading status, and every change.

Sorted by priority (stat, urgent, routine) then age (oldest arrival first), the order a reading
list is worked in. A change of priority, flags or queue writes a ``worklist_change`` row naming the
policy version that made it (the audit trail of the governance issue will take these over). The
caller owns the transaction.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from breastgate.domain.errors import InvalidInputError
from breastgate.store.tables import UpsEvent, WorklistChange, WorklistEntry

RANK = {"stat": 0, "urgent": 1, "routine": 2}
#: UPS Scheduled Procedure Step Priority (0074,1200) of each worklist priority (dicom-sr.md §6.1:
#: HIGH is urgent/emergent like STAT, LOW routine, MEDIUM between).
UPS_PRIORITY = {"stat": "HIGH", "urgent": "MEDIUM", "routine": "LOW"}
#: UPS Procedure Step State (0074,1000) of each worklist status.
UPS_STATE = {
    "scheduled": "SCHEDULED",
    "in_progress": "IN PROGRESS",
    "completed": "COMPLETED",
    "canceled": "CANCELED",
}
UPS_STATE_REPORT = 1  # Event Type ID of a UPS State Report (PS3.4 CC.2.4)
_UPS_NAMESPACE = uuid.UUID("6f1c3e2a-5b7d-4c1e-9a3f-2d8b7e6c5a41")


def workitem_uid(study_uid: str) -> str:
    """The UPS SOP Instance UID of a study's workitem: a UUID-derived UID (PS3.5 B.2), stable."""
    return f"2.25.{uuid.uuid5(_UPS_NAMESPACE, study_uid).int}"


def _state_report(session: Session, row: WorklistEntry, at: datetime) -> None:
    """Owe subscribers a UPS State Report for the workitem's current state and priority."""
    payload = {
        "00001000": {"vr": "UI", "Value": [row.workitem_uid]},
        "00001002": {"vr": "US", "Value": [UPS_STATE_REPORT]},
        "00404041": {"vr": "CS", "Value": ["READY"]},
        "00741000": {"vr": "CS", "Value": [UPS_STATE[row.status]]},
        "00741200": {"vr": "CS", "Value": [UPS_PRIORITY[row.priority]]},
    }
    session.add(
        UpsEvent(
            workitem_uid=row.workitem_uid, event_type=UPS_STATE_REPORT, payload=json.dumps(payload), at=at
        )
    )


STATUSES = ("scheduled", "in_progress", "completed", "canceled")
#: Allowed status changes (the UPS procedure step state machine, PS3.4 CC.1.1).
TRANSITIONS = {
    "scheduled": {"in_progress", "canceled"},
    "in_progress": {"completed", "canceled", "scheduled"},
    "completed": set(),
    "canceled": set(),
}


@dataclass(frozen=True)
class WorklistItem:
    """One row of the worklist as the API serves it."""

    study_instance_uid: str
    priority: str
    score: float
    flags: tuple[str, ...]
    policy: str
    queue: str
    status: str
    modality: str | None
    accession_number: str | None
    arrived_at: datetime
    updated_at: datetime
    workitem_uid: str | None = None


@dataclass(frozen=True)
class WorklistChangeRow:
    """One recorded change."""

    at: datetime
    old_priority: str | None
    new_priority: str
    old_flags: tuple[str, ...] | None
    new_flags: tuple[str, ...]
    policy: str
    reason: str


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _flags(text: str | None) -> tuple[str, ...]:
    return tuple(f for f in (text or "").split(",") if f)


def _item(row: WorklistEntry) -> WorklistItem:
    return WorklistItem(
        study_instance_uid=row.study_instance_uid,
        priority=row.priority,
        score=row.score,
        flags=_flags(row.flags),
        policy=row.policy,
        queue=row.queue,
        status=row.status,
        modality=row.modality,
        accession_number=row.accession_number,
        arrived_at=_utc(row.arrived_at),
        updated_at=_utc(row.updated_at),
        workitem_uid=row.workitem_uid,
    )


def apply_triage(
    session: Session,
    study_uid: str,
    *,
    priority: str,
    score: float,
    flags: tuple[str, ...],
    policy: str,
    queue: str,
    reason: str = "",
    modality: str | None = None,
    accession_number: str | None = None,
    arrived_at: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Put the study on the worklist or update it; True when priority, flags or queue changed."""
    if priority not in RANK:
        raise InvalidInputError(f"unknown worklist priority {priority!r}")
    now = now or datetime.now(UTC)
    text = ",".join(flags)
    row = session.get(WorklistEntry, study_uid)
    old_priority, old_flags = (row.priority, row.flags) if row is not None else (None, None)
    if row is None:
        row = WorklistEntry(
            study_instance_uid=study_uid,
            status="scheduled",
            arrived_at=arrived_at or now,
            workitem_uid=workitem_uid(study_uid),
        )
        session.add(row)
    changed = old_priority != priority or old_flags != text or row.queue != queue
    row.priority, row.rank, row.flags, row.queue = priority, RANK[priority], text, queue
    row.score, row.policy, row.updated_at = score, policy, now
    row.modality = modality or row.modality
    row.accession_number = accession_number or row.accession_number
    if changed:
        _state_report(session, row, now)
        session.add(
            WorklistChange(
                study_instance_uid=study_uid,
                at=now,
                old_priority=old_priority,
                new_priority=priority,
                old_flags=old_flags,
                new_flags=text,
                policy=policy,
                reason=reason,
            )
        )
    session.flush()
    return changed


def list_worklist(
    session: Session,
    *,
    flag: str | None = None,
    modality: str | None = None,
    status: str | None = None,
    queue: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[WorklistItem]:
    """The worklist, highest priority first, then oldest first; optional filters."""
    query = select(WorklistEntry)
    if flag:
        query = query.where((literal(",") + WorklistEntry.flags + ",").contains(f",{flag},", autoescape=True))
    if modality:
        query = query.where(WorklistEntry.modality == modality)
    if status:
        query = query.where(WorklistEntry.status == status)
    if queue:
        query = query.where(WorklistEntry.queue == queue)
    query = query.order_by(
        WorklistEntry.rank, WorklistEntry.arrived_at, WorklistEntry.study_instance_uid
    ).limit(limit).offset(offset)  # fmt: skip
    return [_item(r) for r in session.scalars(query).all()]


def get_item(session: Session, study_uid: str) -> WorklistItem | None:
    row = session.get(WorklistEntry, study_uid)
    return _item(row) if row is not None else None


def set_status(
    session: Session,
    study_uid: str,
    status: str,
    *,
    transaction_uid: str | None = None,
    enforce_transaction: bool = False,
    now: datetime | None = None,
) -> WorklistItem:
    """Move a worklist entry to ``status`` along the UPS state machine; InvalidInputError otherwise.

    With ``enforce_transaction`` (UPS-RS), claiming (→ in_progress) needs a Transaction UID, and
    every later change must present the same one (PS3.4 CC.1.1); the gateway's own API does not.
    """
    row = session.get(WorklistEntry, study_uid)
    if row is None:
        raise LookupError(study_uid)
    if status not in STATUSES:
        raise InvalidInputError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    if status != row.status and status not in TRANSITIONS[row.status]:
        raise InvalidInputError(f"a {row.status} study cannot become {status}")
    if enforce_transaction:
        if row.status == "scheduled" and status == "in_progress":
            if not transaction_uid:
                raise InvalidInputError("claiming a workitem needs a Transaction UID")
        elif row.status == "in_progress" and transaction_uid != row.transaction_uid:
            raise InvalidInputError("the Transaction UID does not match the one that claimed the workitem")
    if status == row.status:
        return _item(row)
    at = now or datetime.now(UTC)
    row.transaction_uid = transaction_uid if status == "in_progress" else row.transaction_uid
    row.status = status
    row.updated_at = at
    if row.workitem_uid:
        _state_report(session, row, at)
    session.flush()
    return _item(row)


def changes(session: Session, study_uid: str) -> list[WorklistChangeRow]:
    """The recorded changes of one study, oldest first."""
    rows = session.scalars(
        select(WorklistChange)
        .where(WorklistChange.study_instance_uid == study_uid)
        .order_by(WorklistChange.id)
    ).all()
    return [
        WorklistChangeRow(
            _utc(r.at), r.old_priority, r.new_priority,
            _flags(r.old_flags) if r.old_flags is not None else None, _flags(r.new_flags), r.policy, r.reason,
        )
        for r in rows
    ]  # fmt: skip


def by_workitem(session: Session, uid: str) -> WorklistItem | None:
    """The worklist entry of a UPS workitem."""
    row = session.scalars(select(WorklistEntry).where(WorklistEntry.workitem_uid == uid)).first()
    return _item(row) if row is not None else None


def transaction_of(session: Session, study_uid: str) -> str | None:
    row = session.get(WorklistEntry, study_uid)
    return row.transaction_uid if row is not None else None
