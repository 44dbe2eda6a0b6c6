"""Outbox repository: every outbound object, owed to one destination, delivered exactly once.

A row is unique per (destination, SOP Instance UID) (DESIGN §5: "every outbound object goes through
the outbox ... never dropped"). Rows move ``pending -> sent`` or ``pending -> failed`` (permanent
failure, visible to operators); re-enqueueing a failed row puts it back to ``pending``.

Claiming uses a lease (``lease_owner`` / ``lease_expires_at``) taken with a conditional UPDATE, so
two workers never claim the same row at once, and a row whose worker died is claimed again once its
lease expires (at-least-once; C-STORE of the same SOP Instance is idempotent at the peer).

All functions take a SQLAlchemy :class:`~sqlalchemy.orm.Session` and leave committing to the caller
(``Database.session()``). Timestamps are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.store import audit
from breastgate.store.leases import MAX_ERROR_CHARS as MAX_ERROR_CHARS
from breastgate.store.leases import LeasedQueue, as_utc, error_text, opt_utc, rowcount, utc_now
from breastgate.store.tables import OutboxItem


class OutboxState(StrEnum):
    """State of an outbox row."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"  # waits for a radiologist's approval (governance)
    WITHHELD = "withheld"  # the radiologist withheld it: never sent


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox row, detached from the ORM."""

    id: int
    destination: str
    kind: str
    sop_instance_uid: str
    study_instance_uid: str
    path: str
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    sent_at: datetime | None


_QUEUE = LeasedQueue(OutboxItem, ready=OutboxState.PENDING.value, due="next_attempt_at")
"""Rows stay ``pending`` while leased; an attempt counts when its outcome is recorded."""


def _entry(row: OutboxItem) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        destination=row.destination,
        kind=row.kind,
        sop_instance_uid=row.sop_instance_uid,
        study_instance_uid=row.study_instance_uid,
        path=row.path,
        state=OutboxState(row.state),
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at),
        last_error=row.last_error,
        lease_owner=row.lease_owner,
        lease_expires_at=opt_utc(row.lease_expires_at),
        created_at=as_utc(row.created_at),
        sent_at=opt_utc(row.sent_at),
    )


def enqueue(
    session: Session,
    *,
    destination: str,
    kind: str,
    sop_instance_uid: str,
    study_instance_uid: str,
    path: str,
    now: datetime | None = None,
    held: bool = False,
) -> bool:
    """Owe ``sop_instance_uid`` to ``destination``; idempotent. With ``held`` the row waits in
    state ``held`` until :func:`release_held` (a radiologist approved the results).

    Returns
    -------
    bool
        ``True`` when a new row was added or a ``failed`` row was put back to ``pending``;
        ``False`` when the object is already pending or sent (left alone: delivered once).
    """
    at = utc_now(now)
    values = {
        "destination": destination,
        "kind": kind,
        "sop_instance_uid": sop_instance_uid,
        "study_instance_uid": study_instance_uid,
        "path": str(path),
        "state": (OutboxState.HELD if held else OutboxState.PENDING).value,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }
    if _insert_if_absent(session, values):
        return True
    reset = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.destination == destination,
            OutboxItem.sop_instance_uid == sop_instance_uid,
            OutboxItem.state == OutboxState.FAILED.value,
        )
        .values(
            kind=kind,
            path=str(path),
            state=OutboxState.PENDING.value,
            attempts=0,
            next_attempt_at=at,
            last_error=None,
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(reset) == 1


def _insert_if_absent(session: Session, values: dict[str, object]) -> bool:
    """INSERT unless (destination, SOP Instance UID) exists; ``True`` if a row was inserted."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt = (
            insert(OutboxItem)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["destination", "sop_instance_uid"])
        )
        return rowcount(session.execute(stmt)) == 1
    exists = session.scalar(
        select(OutboxItem.id).where(
            OutboxItem.destination == values["destination"],
            OutboxItem.sop_instance_uid == values["sop_instance_uid"],
        )
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(OutboxItem(**values))
    except IntegrityError:
        return False
    return True


def claim_due(
    session: Session,
    *,
    owner: str,
    now: datetime | None = None,
    lease_seconds: float = 300.0,
    limit: int = 16,
) -> list[OutboxEntry]:
    """Lease up to ``limit`` pending rows that are due and not leased by a live worker.

    Each row is taken with a conditional UPDATE (``... WHERE lease is free``), so when two
    claimers race for a row exactly one UPDATE matches it (:meth:`LeasedQueue.claim_due`).
    """
    at = utc_now(now)
    claimed = _QUEUE.claim_due(session, owner=owner, now=at, lease_seconds=lease_seconds, limit=limit)
    return [_entry(row) for row in _QUEUE.load(session, claimed)]


def try_lease(session: Session, item_id: int, *, owner: str, now: datetime, lease_seconds: float) -> bool:
    """Lease one row if it is still pending, due and unleased at ``now`` (a conditional UPDATE).

    ``False`` when another claimer got there first, whatever this caller read before.
    """
    return _QUEUE.try_lease(session, item_id, owner=owner, now=now, lease_seconds=lease_seconds)


def mark_sent(session: Session, item_id: int, *, now: datetime | None = None) -> bool:
    """Record a delivery, and its audit event in the same transaction. Not conditional on the
    lease: the peer has the object either way."""
    sent = _QUEUE.finish(
        session, item_id, owner=None, state=OutboxState.SENT.value, sent_at=utc_now(now), last_error=None
    )
    if not sent:
        return False
    row = session.execute(
        select(
            OutboxItem.destination,
            OutboxItem.kind,
            OutboxItem.sop_instance_uid,
            OutboxItem.study_instance_uid,
            OutboxItem.attempts,
        ).where(OutboxItem.id == item_id)
    ).one()
    audit.append(
        session,
        AuditKind.OBJECT_DELIVERED,
        actor="delivery",
        study_instance_uid=row.study_instance_uid,
        subject=row.sop_instance_uid,
        data={
            "destination": redact_destination(row.destination),
            "kind": row.kind,
            "object": row.sop_instance_uid,
            "attempts": row.attempts,
        },
        at=now,
    )
    return True


def redact_destination(destination: str) -> str:
    """A destination as it may be logged and audited: no credentials, query or fragment."""
    if "://" not in destination:
        return destination
    parts = urlsplit(destination)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def release_held(session: Session, study_instance_uid: str) -> int:
    """Approved: every held row of the study becomes pending (due now). Returns how many."""
    return _move_held(session, study_instance_uid, state=OutboxState.PENDING.value, next_attempt_at=utc_now())


def withhold_held(session: Session, study_instance_uid: str) -> int:
    """Withheld: every held row of the study is never sent. Returns how many."""
    return _move_held(session, study_instance_uid, state=OutboxState.WITHHELD.value)


def _move_held(session: Session, study_instance_uid: str, **values: object) -> int:
    result = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.study_instance_uid == study_instance_uid,
            OutboxItem.state == OutboxState.HELD.value,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def mark_retry(
    session: Session,
    item_id: int,
    *,
    error: str,
    next_attempt_at: datetime,
    owner: str | None = None,
) -> bool:
    """Record a retryable failure and when to try again; releases the lease.

    With ``owner``, only the lease holder may record (``False`` if the lease was lost).
    """
    return _QUEUE.finish(
        session, item_id, owner=owner, next_attempt_at=as_utc(next_attempt_at), last_error=error_text(error)
    )


def mark_failed(session: Session, item_id: int, *, error: str, owner: str | None = None) -> bool:
    """Record a permanent failure (state ``failed``, visible to operators); releases the lease.

    With ``owner``, only the lease holder may record (``False`` if the lease was lost).
    """
    return _QUEUE.finish(
        session, item_id, owner=owner, state=OutboxState.FAILED.value, last_error=error_text(error)
    )


def get(session: Session, item_id: int) -> OutboxEntry | None:
    """One row by id."""
    row = session.get(OutboxItem, item_id, populate_existing=True)
    return None if row is None else _entry(row)


def list_items(
    session: Session,
    state: OutboxState | str | None = None,
    study: str | None = None,
    *,
    destination: str | None = None,
) -> list[OutboxEntry]:
    """Rows, oldest first, optionally filtered by state, Study Instance UID and destination."""
    stmt = select(OutboxItem).order_by(OutboxItem.id).execution_options(populate_existing=True)
    if state is not None:
        stmt = stmt.where(OutboxItem.state == OutboxState(state).value)
    if study is not None:
        stmt = stmt.where(OutboxItem.study_instance_uid == study)
    if destination is not None:
        stmt = stmt.where(OutboxItem.destination == destination)
    return [_entry(row) for row in session.scalars(stmt).all()]


def counts(session: Session) -> dict[str, int]:
    """Number of rows per state; every state is present (0 when none)."""
    return _QUEUE.counts(session, [state.value for state in OutboxState])
