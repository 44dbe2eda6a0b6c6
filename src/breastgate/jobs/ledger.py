"""Job ledger: one row per (study, algorithm); the database is the truth, the queue a wake-up.

Rules (DESIGN §5): a job is in the ledger before it is queued; a worker claims it with a lease;
a job whose lease expired (worker died) is re-queued by the sweeper, so every job completes at
least once. Claims are conditional UPDATEs, so two workers never run the same lease.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from breastgate.domain.model import Job, JobState
from breastgate.store import tables as t


def _now() -> datetime:
    return datetime.now(UTC)


def _to_domain(row: t.Job) -> Job:
    return Job(
        id=row.id,
        study_instance_uid=row.study_instance_uid,
        algorithm_id=row.algorithm_id,
        state=JobState(row.state),
        attempts=row.attempts,
        generation=row.generation,
        last_error=row.last_error,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
    )


def schedule(session: Session, study_instance_uid: str, algorithm_id: str, generation: int) -> int:
    """Put (study, algorithm) in the ledger as queued for ``generation``; return the job id.

    An existing row is reset (a re-opened study re-runs what depends on it).
    """
    row = session.scalars(
        select(t.Job).where(
            t.Job.study_instance_uid == study_instance_uid, t.Job.algorithm_id == algorithm_id
        )
    ).one_or_none()
    now = _now()
    if row is None:
        row = t.Job(
            study_instance_uid=study_instance_uid,
            algorithm_id=algorithm_id,
            state=JobState.QUEUED.value,
            generation=generation,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    else:
        row.state = JobState.QUEUED.value
        row.generation = generation
        row.attempts = 0
        row.last_error = None
        row.lease_owner = None
        row.lease_expires_at = None
        row.finished_at = None
        row.updated_at = now
    session.flush()
    return row.id


def get(session: Session, job_id: int) -> Job | None:
    row = session.get(t.Job, job_id)
    return _to_domain(row) if row is not None else None


def claim(
    session: Session, job_id: int, owner: str, lease_seconds: float, now: datetime | None = None
) -> Job | None:
    """Take the lease of a queued job (or of a running one whose lease expired). None if not claimable."""
    now = now or _now()
    result = session.execute(
        update(t.Job)
        .where(
            t.Job.id == job_id,
            or_(
                t.Job.state == JobState.QUEUED.value,
                and_(t.Job.state == JobState.RUNNING.value, t.Job.lease_expires_at < now),
            ),
        )
        .values(
            state=JobState.RUNNING.value,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=t.Job.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = session.get(t.Job, job_id, populate_existing=True)
    return _to_domain(row) if row is not None else None


def renew(session: Session, job_id: int, owner: str, lease_seconds: float) -> bool:
    """Extend the lease while the job runs; False if the lease was lost."""
    now = _now()
    result = session.execute(
        update(t.Job)
        .where(t.Job.id == job_id, t.Job.lease_owner == owner, t.Job.state == JobState.RUNNING.value)
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def complete(session: Session, job_id: int, owner: str) -> bool:
    """Mark done; only the lease holder may. False if the lease was lost meanwhile."""
    now = _now()
    result = session.execute(
        update(t.Job)
        .where(t.Job.id == job_id, t.Job.lease_owner == owner, t.Job.state == JobState.RUNNING.value)
        .values(
            state=JobState.DONE.value,
            lease_owner=None,
            lease_expires_at=None,
            last_error=None,
            finished_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def fail(session: Session, job_id: int, owner: str, error: str, max_attempts: int) -> JobState | None:
    """Record a failed attempt: back to queued while attempts remain, else failed."""
    row = session.get(t.Job, job_id, populate_existing=True)
    if row is None or row.lease_owner != owner or row.state != JobState.RUNNING.value:
        return None
    now = _now()
    row.last_error = error[:2000]
    row.lease_owner = None
    row.lease_expires_at = None
    row.updated_at = now
    if row.attempts >= max_attempts:
        row.state = JobState.FAILED.value
        row.finished_at = now
    else:
        row.state = JobState.QUEUED.value
    session.flush()
    return JobState(row.state)


def requeue_expired(session: Session, now: datetime | None = None) -> list[int]:
    """Running jobs whose lease expired (their worker died): back to queued. Returns their ids."""
    now = now or _now()
    ids = list(
        session.scalars(
            select(t.Job.id).where(t.Job.state == JobState.RUNNING.value, t.Job.lease_expires_at < now)
        )
    )
    if ids:
        session.execute(
            update(t.Job)
            .where(
                t.Job.id.in_(ids),
                t.Job.state == JobState.RUNNING.value,
                t.Job.lease_expires_at < now,
            )
            .values(
                state=JobState.QUEUED.value,
                lease_owner=None,
                lease_expires_at=None,
                last_error="lease expired (worker stopped mid-job); re-queued",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    return ids


def queued_older_than(session: Session, seconds: float, now: datetime | None = None) -> list[int]:
    """Queued jobs untouched for a while (their queue message may be lost): to enqueue again."""
    now = now or _now()
    cutoff = now - timedelta(seconds=seconds)
    ids = list(
        session.scalars(
            select(t.Job.id).where(t.Job.state == JobState.QUEUED.value, t.Job.updated_at < cutoff)
        )
    )
    if ids:
        session.execute(
            update(t.Job)
            .where(t.Job.id.in_(ids))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


def list_for_study(session: Session, study_instance_uid: str) -> list[Job]:
    rows = session.scalars(
        select(t.Job).where(t.Job.study_instance_uid == study_instance_uid).order_by(t.Job.id)
    )
    return [_to_domain(r) for r in rows]


def counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(t.Job.state, func.count()).group_by(t.Job.state))
    return {state: int(n) for state, n in rows}
