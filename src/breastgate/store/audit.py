"""Audit trail repository: append events to the hash chain in the caller's transaction.

:func:`append` reads the chain head (locking it: ``SELECT ... FOR UPDATE`` on PostgreSQL; on
SQLite the transaction already holds the write lock from ``BEGIN IMMEDIATE``), writes the event
with the next sequence number and the previous hash, and moves the head, all inside the session's
transaction, so an event exists exactly when the change it records was committed (DESIGN §6).
Nothing here updates or deletes an event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditEvent, canonical_data, event_hash
from breastgate.store.tables import AuditEventRow, AuditHead

_HEAD_ID = 1


@dataclass(frozen=True)
class NewEvent:
    """An event to append (for :func:`append_many`)."""

    kind: str
    actor: str
    data: Mapping[str, Any]
    study_instance_uid: str | None = None
    subject: str | None = None
    at: datetime | None = None


def _at_text(at: datetime | None) -> str:
    value = datetime.now(UTC) if at is None else at.astimezone(UTC)
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _head(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == _HEAD_ID).with_for_update()
    ).one()
    return int(row.seq), str(row.hash)


def append(
    session: Session,
    kind: str,
    *,
    actor: str,
    data: Mapping[str, Any] | None = None,
    study_instance_uid: str | None = None,
    subject: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event in the session's transaction; return it with its hash."""
    return append_many(session, [NewEvent(kind, actor, data or {}, study_instance_uid, subject, at)])[0]


def append_many(session: Session, events: Sequence[NewEvent]) -> list[AuditEvent]:
    """Append events in order, in the session's transaction (one head read, one head update)."""
    if not events:
        return []
    seq, prev = _head(session)
    rows: list[dict[str, Any]] = []
    out: list[AuditEvent] = []
    for new in events:
        seq += 1
        at = _at_text(new.at)
        data_text = canonical_data(new.data)
        digest = event_hash(
            seq=seq,
            at=at,
            kind=new.kind,
            actor=new.actor,
            study_instance_uid=new.study_instance_uid,
            subject=new.subject,
            data_text=data_text,
            prev_hash=prev,
        )
        rows.append(
            {
                "seq": seq,
                "at": at,
                "kind": new.kind,
                "actor": new.actor,
                "study_instance_uid": new.study_instance_uid,
                "subject": new.subject,
                "data": data_text,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        out.append(
            AuditEvent(
                seq=seq,
                at=at,
                kind=new.kind,
                actor=new.actor,
                data=dict(new.data),
                study_instance_uid=new.study_instance_uid,
                subject=new.subject,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    session.execute(insert(AuditEventRow), rows)
    session.execute(update(AuditHead).where(AuditHead.id == _HEAD_ID).values(seq=seq, hash=prev))
    return out


def head(session: Session) -> tuple[int, str]:
    """The recorded chain head: (last sequence number, its hash); (0, genesis) when empty."""
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == _HEAD_ID)).one()
    return int(row.seq), str(row.hash)


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        seq=int(row.seq),
        at=row.at,
        kind=row.kind,
        actor=row.actor,
        data=json.loads(row.data),
        study_instance_uid=row.study_instance_uid,
        subject=row.subject,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


_COLUMNS = (
    AuditEventRow.seq,
    AuditEventRow.at,
    AuditEventRow.kind,
    AuditEventRow.actor,
    AuditEventRow.study_instance_uid,
    AuditEventRow.subject,
    AuditEventRow.data,
    AuditEventRow.prev_hash,
    AuditEventRow.hash,
)


def iter_events(
    session: Session, *, after: int = 0, until: int | None = None, batch: int = 5000
) -> Iterator[AuditEvent]:
    """Events in sequence order, read in keyset pages (constant memory over millions of events)."""
    cursor = after
    while True:
        conditions = [AuditEventRow.seq > cursor]
        if until is not None:
            conditions.append(AuditEventRow.seq <= until)
        rows = session.execute(
            select(*_COLUMNS).where(*conditions).order_by(AuditEventRow.seq).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield _event(row)
        cursor = int(rows[-1].seq)


def for_study(session: Session, study_instance_uid: str) -> list[AuditEvent]:
    """The events about one study, in order."""
    rows = session.execute(
        select(*_COLUMNS)
        .where(AuditEventRow.study_instance_uid == study_instance_uid)
        .order_by(AuditEventRow.seq)
    ).all()
    return [_event(r) for r in rows]
