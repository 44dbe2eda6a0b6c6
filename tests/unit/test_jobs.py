"""Job ledger, lease sweeper and the Huey queue on a real SQLite database."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from breastgate.domain.model import JobState
from breastgate.jobs import ledger
from breastgate.jobs.queue import JobQueue, make_huey
from breastgate.jobs.sweeper import LeaseSweeper
from breastgate.store import tables as t
from breastgate.store.db import Database
from tests.support.db import upgrade

STUDY = "1.2.3.4"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    database = Database(url)
    with database.session() as session:
        session.add(t.Study(study_instance_uid=STUDY))
    return database


def test_job_is_claimed_once_and_completed_by_its_owner(db: Database) -> None:
    with db.session() as s:
        job_id = ledger.schedule(s, STUDY, "breastgate.density", 1)
    with db.session() as s:
        job = ledger.claim(s, job_id, "w1", 60)
        assert job is not None and job.state == JobState.RUNNING and job.attempts == 1
    with db.session() as s:
        assert ledger.claim(s, job_id, "w2", 60) is None  # leased by w1
        assert not ledger.complete(s, job_id, "w2")
        assert ledger.complete(s, job_id, "w1")
    with db.session() as s:
        job = ledger.get(s, job_id)
        assert job is not None and job.state == JobState.DONE
        assert ledger.claim(s, job_id, "w2", 60) is None  # done jobs are not re-run


def test_expired_lease_is_requeued_and_reclaimed(db: Database) -> None:
    with db.session() as s:
        job_id = ledger.schedule(s, STUDY, "a.b", 1)
        ledger.claim(s, job_id, "dead-worker", 60)
    later = datetime.now(UTC) + timedelta(seconds=61)
    with db.session() as s:
        assert ledger.requeue_expired(s, now=datetime.now(UTC)) == []
        assert ledger.requeue_expired(s, now=later) == [job_id]
    with db.session() as s:
        job = ledger.claim(s, job_id, "w2", 60)
        assert job is not None and job.attempts == 2 and job.lease_owner == "w2"
        assert not ledger.complete(s, job_id, "dead-worker")


def test_a_late_outcome_is_not_recorded_over_a_new_lease(db: Database) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with db.session() as s:
        job_id = ledger.schedule(s, STUDY, "a.b", 1)
        assert ledger.claim(s, job_id, "w1", 60, now=t0) is not None
        assert ledger.renew(s, job_id, "w1", 60, now=t0 + timedelta(seconds=30))
        assert ledger.claim(s, job_id, "w2", 60, now=t0 + timedelta(seconds=89)) is None  # renewed
        job = ledger.claim(s, job_id, "w2", 60, now=t0 + timedelta(seconds=90))  # expired at 90 s
        assert job is not None and job.lease_owner == "w2" and job.attempts == 2
        assert job.lease_expires_at == t0 + timedelta(seconds=150)
        assert ledger.fail(s, job_id, "w1", "late", max_attempts=1, now=t0 + timedelta(seconds=91)) is None
        assert not ledger.renew(s, job_id, "w1", 60, now=t0 + timedelta(seconds=91))
        assert ledger.complete(s, job_id, "w2", now=t0 + timedelta(seconds=100))
        job = ledger.get(s, job_id)
    assert job is not None and job.state == JobState.DONE and job.last_error is None


def test_failures_requeue_until_max_attempts(db: Database) -> None:
    with db.session() as s:
        job_id = ledger.schedule(s, STUDY, "a.b", 1)
    states = []
    for _ in range(3):
        with db.session() as s:
            ledger.claim(s, job_id, "w", 60)
            states.append(ledger.fail(s, job_id, "w", "boom", max_attempts=3))
    assert states == [JobState.QUEUED, JobState.QUEUED, JobState.FAILED]
    with db.session() as s:
        job = ledger.get(s, job_id)
        assert job is not None and job.last_error == "boom"


def test_reschedule_resets_a_done_job_for_a_new_generation(db: Database) -> None:
    with db.session() as s:
        job_id = ledger.schedule(s, STUDY, "a.b", 1)
        ledger.claim(s, job_id, "w", 60)
        ledger.complete(s, job_id, "w")
    with db.session() as s:
        assert ledger.schedule(s, STUDY, "a.b", 2) == job_id
        job = ledger.get(s, job_id)
        assert job is not None and job.state == JobState.QUEUED and job.generation == 2 and job.attempts == 0


def test_running_job_of_a_reopened_study_cannot_complete(db: Database) -> None:
    with db.session() as s:
        job_id = ledger.schedule(s, STUDY, "a.b", 1)
        ledger.claim(s, job_id, "w", 60)
    with db.session() as s:
        ledger.schedule(s, STUDY, "a.b", 2)  # a new instance re-opened the study meanwhile
    with db.session() as s:
        assert not ledger.complete(s, job_id, "w")


def test_jobs_of_a_page_of_studies_in_one_call(db: Database) -> None:
    with db.session() as s:
        s.add(t.Study(study_instance_uid="1.2.3.5"))
        first = ledger.schedule(s, STUDY, "breastgate.masses", 1)
        second = ledger.schedule(s, STUDY, "breastgate.density", 1)
        ledger.claim(s, second, "w", 60)
    with db.session() as s:
        jobs = ledger.list_for_studies(s, [STUDY, "1.2.3.5"])
        assert jobs == {STUDY: ledger.list_for_study(s, STUDY), "1.2.3.5": []}
        states = [(j.id, j.state) for j in jobs[STUDY]]
        assert states == [(first, JobState.QUEUED), (second, JobState.RUNNING)]
        assert ledger.list_for_studies(s, []) == {}


def test_sweeper_requeues_expired_leases_onto_the_queue(db: Database) -> None:
    with db.session() as s:
        job_id = ledger.schedule(s, STUDY, "a.b", 1)
        ledger.claim(s, job_id, "dead", lease_seconds=0.1)
    queued: list[int] = []
    time.sleep(0.2)
    assert LeaseSweeper(db, queued.append).tick() == [job_id]
    assert queued == [job_id]


def test_huey_queue_runs_the_handler_in_a_consumer(tmp_path: Path) -> None:
    seen: list[int] = []
    done = threading.Event()

    def handler(job_id: int) -> None:
        seen.append(job_id)
        done.set()

    queue = JobQueue(make_huey(f"sqlite:///{tmp_path / 'q.db'}"), handler)
    queue.enqueue(42)  # enqueued before any consumer runs: kept durably in SQLite
    queue.start_consumer(1)
    try:
        assert done.wait(10)
    finally:
        queue.stop_consumer()
    assert seen == [42]
