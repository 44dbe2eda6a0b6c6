"""Job ledger: one row per (study, algorithm); the database is the truth, the queue a wake-up.

Rules (DESIGN §5): a job is in the ledger before it is queued; a worker claims it with a lease;
a job whose lease expired (worker died) is re-queued by the sweeper, so every job completes at
least once. The lease rules are :class:`~breastgate.store.leases.LeasedQueue`'s: claims are
conditional UPDATEs, so two workers never run the same lease, and only the lease holder records
an outcome. A claim moves ``queued -> running`` and counts an attempt.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from breastgate.domain.model import Job, JobState
from breastgate.store import tables as t
from breastgate.store.leases import LeasedQueue, error_text, opt_utc, rowcount, utc_now

_QUEUE = LeasedQueue(
    t.Job,
    ready=JobState.QUEUED.value,
    leased=JobState.RUNNING.value,
    touched="updated_at",
    attempt_on="claim",
)
_EXPIRED_ERROR = "lease expired (worker stopped mid-job); re-queued"


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
        lease_expires_at=opt_utc(row.lease_expires_at),
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
    now = utc_now()
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
    """One job by id, fresh from the database."""
    row = session.get(t.Job, job_id, populate_existing=True)
    return _to_domain(row) if row is not None else None


def claim(
    session: Session, job_id: int, owner: str, lease_seconds: float, now: datetime | None = None
) -> Job | None:
    """Take the lease of a queued job (or of a running one whose lease expired). None if not claimable."""
    if not _QUEUE.try_lease(session, job_id, owner=owner, now=utc_now(now), lease_seconds=lease_seconds):
        return None
    return get(session, job_id)


def renew(
    session: Session, job_id: int, owner: str, lease_seconds: float, *, now: datetime | None = None
) -> bool:
    """Extend the lease while the job runs; False if the lease was lost."""
    return _QUEUE.renew(session, job_id, owner=owner, now=utc_now(now), lease_seconds=lease_seconds)


def complete(session: Session, job_id: int, owner: str, *, now: datetime | None = None) -> bool:
    """Mark done; only the lease holder may. False if the lease was lost meanwhile."""
    at = utc_now(now)
    return _QUEUE.finish(
        session, job_id, owner=owner, now=at, state=JobState.DONE.value, last_error=None, finished_at=at
    )


def fail(
    session: Session,
    job_id: int,
    owner: str,
    error: str,
    max_attempts: int,
    *,
    now: datetime | None = None,
) -> JobState | None:
    """Record a failed attempt: back to queued while attempts remain, else failed.

    Only the lease holder may (one conditional UPDATE). Returns the new state, or None when the
    lease was lost (nothing recorded).
    """
    at = utc_now(now)
    spent = t.Job.attempts >= max_attempts
    failed = _QUEUE.finish(
        session,
        job_id,
        owner=owner,
        now=at,
        state=case((spent, JobState.FAILED.value), else_=JobState.QUEUED.value),
        finished_at=case((spent, at), else_=t.Job.finished_at),
        last_error=error_text(error),
    )
    if not failed:
        return None
    return JobState(session.scalars(select(t.Job.state).where(t.Job.id == job_id)).one())


def touch_waiting(session: Session, job_id: int, *, now: datetime | None = None) -> bool:
    """A queued job that waits on purpose (for its priors) and was queued again: mark it touched, so
    the sweeper does not take its wake-up for lost and queue a second one. False if not queued."""
    result = session.execute(
        update(t.Job)
        .where(t.Job.id == job_id, t.Job.state == JobState.QUEUED.value)
        .values(updated_at=utc_now(now))
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def requeue_expired(session: Session, now: datetime | None = None) -> list[int]:
    """Running jobs whose lease expired (their worker died): back to queued. Returns their ids."""
    return _QUEUE.sweep_expired(session, now=utc_now(now), last_error=_EXPIRED_ERROR)


def queued_older_than(session: Session, seconds: float, now: datetime | None = None) -> list[int]:
    """Queued jobs untouched for a while (their queue message may be lost): to enqueue again."""
    at = utc_now(now)
    return _QUEUE.touch_stale(session, before=at - timedelta(seconds=seconds), now=at)


def list_for_study(session: Session, study_instance_uid: str) -> list[Job]:
    """The study's jobs, oldest first."""
    rows = session.scalars(
        select(t.Job).where(t.Job.study_instance_uid == study_instance_uid).order_by(t.Job.id)
    )
    return [_to_domain(r) for r in rows]


def list_for_studies(session: Session, study_instance_uids: Collection[str]) -> dict[str, list[Job]]:
    """:func:`list_for_study` for a page of studies in one query: every given UID is a key (its
    jobs oldest first, an empty list when it has none)."""
    jobs: dict[str, list[Job]] = {uid: [] for uid in study_instance_uids}
    if not jobs:
        return jobs
    rows = session.scalars(select(t.Job).where(t.Job.study_instance_uid.in_(list(jobs))).order_by(t.Job.id))
    for row in rows:
        jobs[row.study_instance_uid].append(_to_domain(row))
    return jobs


def counts(session: Session) -> dict[str, int]:
    """Number of jobs per state (states without jobs are absent)."""
    return _QUEUE.counts(session)
