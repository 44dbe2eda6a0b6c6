"""Prior pre-fetch queue and prior studies: repository functions over a SQLAlchemy ``Session``.

An order that arrives before its images owes a pre-fetch (``prior_fetch``, one row per order,
written by the HL7 use-case in the order's own transaction); so does a current study routed to an
algorithm that wants priors (one row per study, written by the assembler in the routing
transaction; :func:`owe_for_study`). A worker claims due rows with a
lease, asks the PACS for the patient's prior studies and retrieves them; each study it asks for
is flagged in ``prior_study`` *before* the C-MOVE, so the assembler knows it is a prior (kept for
comparison, never routed to algorithms) by the time it becomes stable. The caller owns the
transaction; these functions never commit. Timestamps are UTC.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, and_, case, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from breastgate.domain.errors import ConfigurationError
from breastgate.store.leases import MAX_ERROR_CHARS as MAX_ERROR_CHARS
from breastgate.store.leases import LeasedQueue, as_utc, error_text, utc_now
from breastgate.store.tables import ImagingOrder, Instance, PriorFetch, PriorStudy, Study

_FETCH = cast(Table, PriorFetch.__table__)


class FetchState(StrEnum):
    """State of a ``prior_fetch`` row."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class FetchEntry:
    """One ``prior_fetch`` row, detached from the ORM."""

    id: int
    order_id: int | None
    patient_id: str
    before_date: str | None
    state: FetchState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    studies_found: int
    studies_moved: int
    accession_number: str | None = None
    requested_study_uid: str | None = None
    #: The current study that owes this pre-fetch (None for an order's).
    study_instance_uid: str | None = None
    issuer_of_patient_id: str | None = None
    after_date: str | None = None
    #: What a prior must hold (Modalities in Study); empty means MG.
    modalities: tuple[str, ...] = ()
    created_at: datetime | None = None

    @property
    def trigger(self) -> str:
        """``order N`` or ``study-fetch N`` for logs (ids only, no patient data)."""
        return f"order {self.order_id}" if self.order_id is not None else f"study-fetch {self.id}"


_QUEUE = LeasedQueue(PriorFetch, ready=FetchState.PENDING.value, due="next_attempt_at")
"""Rows stay ``pending`` while leased; an attempt counts when its outcome is recorded."""


def _entry(row: PriorFetch, order: ImagingOrder | None = None, study: Study | None = None) -> FetchEntry:
    """The row, with the order's (or the current study's) accession number and Study Instance UID
    (the current examination, which must never be taken for a prior)."""
    accession: str | None
    requested: str | None
    if study is not None:
        accession, requested = study.accession_number, study.study_instance_uid
    elif order is not None:
        accession, requested = order.accession_number, order.requested_study_uid
    else:
        accession, requested = None, row.study_instance_uid
    return FetchEntry(
        id=row.id,
        order_id=row.order_id,
        patient_id=row.patient_id,
        before_date=row.before_date,
        state=FetchState(row.state),
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at),
        last_error=row.last_error,
        studies_found=row.studies_found,
        studies_moved=row.studies_moved,
        accession_number=accession,
        requested_study_uid=requested,
        study_instance_uid=row.study_instance_uid,
        issuer_of_patient_id=row.issuer_of_patient_id,
        after_date=row.after_date,
        modalities=tuple(m for m in (row.modalities or "").split(",") if m),
        created_at=as_utc(row.created_at) if row.created_at is not None else None,
    )


def _load(session: Session, row: PriorFetch) -> FetchEntry:
    order = session.get(ImagingOrder, row.order_id) if row.order_id is not None else None
    study = session.get(Study, row.study_instance_uid) if row.study_instance_uid else None
    return _entry(row, order, study)


@functools.cache
def _owe_upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (order_id): keep a pending row, re-arm a finished one whose question changed."""
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(_FETCH)
    c, new = _FETCH.c, stmt.excluded
    changed = or_(c.patient_id != new.patient_id, c.before_date.is_distinct_from(new.before_date))
    rearm = and_(c.state != FetchState.PENDING.value, changed)
    return stmt.on_conflict_do_update(
        index_elements=["order_id"],
        set_={
            "patient_id": new.patient_id,
            "before_date": new.before_date,
            "state": case((rearm, FetchState.PENDING.value), else_=c.state),
            "attempts": case((rearm, 0), else_=c.attempts),
            "next_attempt_at": case((rearm, new.next_attempt_at), else_=c.next_attempt_at),
            "last_error": case((rearm, None), else_=c.last_error),
            "done_at": case((rearm, None), else_=c.done_at),
        },
    )


def owe(
    session: Session, *, order_id: int, patient_id: str, before_date: str | None, now: datetime | None = None
) -> None:
    """Owe a prior pre-fetch for ``order_id`` (one prepared INSERT ... ON CONFLICT; runs in the ACK path).

    A pending row takes the new patient and date; a finished row (done or failed) is re-armed only
    when the question changed (another patient, another date), so status-only updates of an
    order do not query the PACS again.
    """
    dialect = str(session.get_bind().dialect.name)
    if dialect not in ("sqlite", "postgresql"):
        raise ConfigurationError(f"prior pre-fetch needs SQLite or PostgreSQL (DESIGN §3), not {dialect}")
    at = utc_now(now)
    session.connection().execute(
        _owe_upsert(dialect),
        {
            "order_id": order_id,
            "patient_id": patient_id,
            "before_date": before_date,
            "state": FetchState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": at,
            "studies_found": 0,
            "studies_moved": 0,
            "created_at": at,
        },
    )


def claim_due(
    session: Session, *, owner: str, now: datetime | None = None, lease_seconds: float = 600.0, limit: int = 4
) -> list[FetchEntry]:
    """Lease up to ``limit`` due pending rows (a conditional UPDATE each: two claimers never share one)."""
    at = utc_now(now)
    claimed = _QUEUE.claim_due(session, owner=owner, now=at, lease_seconds=lease_seconds, limit=limit)
    return [_load(session, r) for r in _QUEUE.load(session, claimed)]


def mark_done(
    session: Session, fetch_id: int, *, owner: str, found: int, moved: int, now: datetime | None = None
) -> bool:
    """Record a finished pre-fetch (``found`` priors selected, ``moved`` retrieved); releases the lease."""
    return _QUEUE.finish(
        session,
        fetch_id,
        owner=owner,
        state=FetchState.DONE.value,
        studies_found=found,
        studies_moved=moved,
        last_error=None,
        done_at=utc_now(now),
    )


def mark_retry(session: Session, fetch_id: int, *, owner: str, error: str, next_attempt_at: datetime) -> bool:
    """Record a retryable failure and when to try again; releases the lease (only its holder may)."""
    return _QUEUE.finish(
        session, fetch_id, owner=owner, next_attempt_at=as_utc(next_attempt_at), last_error=error_text(error)
    )


def mark_failed(session: Session, fetch_id: int, *, owner: str, error: str) -> bool:
    """Record a permanent failure (state ``failed``, with the reason); releases the lease (holder only)."""
    return _QUEUE.finish(
        session, fetch_id, owner=owner, state=FetchState.FAILED.value, last_error=error_text(error)
    )


def get(session: Session, fetch_id: int) -> FetchEntry | None:
    """One row by id."""
    row = session.get(PriorFetch, fetch_id, populate_existing=True)
    return None if row is None else _entry(row)


def for_order(session: Session, order_id: int) -> FetchEntry | None:
    """The pre-fetch owed for an order, if any."""
    row = session.scalar(
        select(PriorFetch).where(PriorFetch.order_id == order_id).execution_options(populate_existing=True)
    )
    return None if row is None else _load(session, row)


def owe_for_study(
    session: Session,
    *,
    study_instance_uid: str,
    patient_id: str,
    issuer_of_patient_id: str | None,
    before_date: str | None,
    after_date: str | None,
    modalities: Collection[str],
    now: datetime | None = None,
) -> bool:
    """Owe a prior pre-fetch for a current study (in the routing transaction); False when owed already.

    A re-opened study (new generation) keeps its row: the priors it needs did not change.
    """
    if session.scalar(select(PriorFetch.id).where(PriorFetch.study_instance_uid == study_instance_uid)):
        return False
    at = utc_now(now)
    session.add(
        PriorFetch(
            study_instance_uid=study_instance_uid, patient_id=patient_id,
            issuer_of_patient_id=issuer_of_patient_id, before_date=before_date, after_date=after_date,
            modalities=",".join(sorted({m.upper() for m in modalities})) or None,
            state=FetchState.PENDING.value, attempts=0, next_attempt_at=at, studies_found=0,
            studies_moved=0, created_at=at,
        )
    )  # fmt: skip
    session.flush()
    return True


def for_study(session: Session, study_instance_uid: str) -> FetchEntry | None:
    """The pre-fetch owed for a current study, if any."""
    row = session.scalar(
        select(PriorFetch)
        .where(PriorFetch.study_instance_uid == study_instance_uid)
        .execution_options(populate_existing=True)
    )
    return None if row is None else _load(session, row)


def counts(session: Session) -> dict[str, int]:
    """Rows per state; every state present (0 when none)."""
    return _QUEUE.counts(session, [state.value for state in FetchState])


# Prior studies ---------------------------------------------------------------------------------
def known_studies(session: Session, uids: Collection[str]) -> set[str]:
    """Which of ``uids`` need no retrieval: indexed studies, unless a C-MOVE of them as a prior
    did not complete (flagged ``requested``: retrieve again, the SCP ignores duplicates)."""
    if not uids:
        return set()
    have = set(session.scalars(select(Study.study_instance_uid).where(Study.study_instance_uid.in_(uids))))
    unfinished = set(
        session.scalars(
            select(PriorStudy.study_instance_uid).where(
                PriorStudy.study_instance_uid.in_(uids), PriorStudy.state == "requested"
            )
        )
    )
    return have - unfinished


def flag_priors(
    session: Session, fetch_id: int, studies: Iterable[tuple[str, str | None]], *, now: datetime | None = None
) -> None:
    """Flag (study uid, study date) pairs as priors of ``fetch_id``, before they are retrieved."""
    at = utc_now(now)
    for uid, study_date in studies:
        row = session.get(PriorStudy, uid)
        if row is None:
            session.add(
                PriorStudy(
                    study_instance_uid=uid, fetch_id=fetch_id, study_date=study_date, state="requested",
                    created_at=at,
                )
            )  # fmt: skip


def mark_retrieved(session: Session, study_uid: str, *, now: datetime | None = None) -> None:
    """The C-MOVE of a flagged prior completed."""
    session.execute(
        update(PriorStudy)
        .where(PriorStudy.study_instance_uid == study_uid)
        .values(state="retrieved", retrieved_at=utc_now(now))
        .execution_options(synchronize_session=False)
    )


def held_priors(
    session: Session,
    *,
    patient_id: str,
    issuer_of_patient_id: str | None,
    before_date: str,
    after_date: str | None,
    modalities: Collection[str],
    limit: int,
) -> list[str]:
    """Study UIDs of the patient's priors held here, most recent first: indexed studies of the same
    patient (and issuer, when both sides carry one), dated before ``before_date`` and not before
    ``after_date``, holding an instance of one of ``modalities``; a prior still being retrieved
    (flagged ``requested``) is not held yet."""
    if limit <= 0:
        return []
    issuer = or_(
        Study.issuer_of_patient_id.is_(None),
        literal(issuer_of_patient_id is None),
        Study.issuer_of_patient_id == (issuer_of_patient_id or ""),
    )
    requested = select(PriorStudy.study_instance_uid).where(PriorStudy.state == "requested")
    with_modality = select(Instance.study_instance_uid).where(
        Instance.modality.in_([m.upper() for m in modalities])
    )
    conditions = [
        Study.patient_id == patient_id,
        issuer,
        Study.study_date < before_date,
        Study.study_instance_uid.not_in(requested),
        Study.study_instance_uid.in_(with_modality),
    ]
    if after_date:
        conditions.append(Study.study_date >= after_date)
    rows = session.scalars(
        select(Study.study_instance_uid)
        .where(*conditions)
        .order_by(Study.study_date.desc(), Study.study_instance_uid)
        .limit(limit)
    )
    return list(rows)


def is_prior(session: Session, study_uid: str) -> bool:
    """True when the study was retrieved as a prior (the assembler does not route it)."""
    return session.get(PriorStudy, study_uid) is not None


def prior_uids(session: Session, uids: Collection[str]) -> set[str]:
    """Which of ``uids`` are priors."""
    if not uids:
        return set()
    return set(
        session.scalars(select(PriorStudy.study_instance_uid).where(PriorStudy.study_instance_uid.in_(uids)))
    )
