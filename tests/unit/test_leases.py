"""The leased-queue mechanism itself (store/leases.py), on a table of its own in a real SQLite file.

Two queues over the same kind of table: one that keeps its ready state while leased (like the outbox
and the pre-fetch queue) and one that moves ``queued -> running`` on claim (like the job ledger).
Every time is passed as ``now=``; nothing depends on the clock or on thread timing. The same tests
run on PostgreSQL when ``BG_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from breastgate.store.db import Database
from breastgate.store.leases import (
    MAX_ERROR_CHARS,
    LeasedQueue,
    as_utc,
    error_text,
    opt_utc,
    rowcount,
    utc_now,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEASE = 60.0


class Base(DeclarativeBase):
    pass


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Unleased(Base):
    __tablename__ = "unleased"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))


DUE = LeasedQueue(Task, ready="pending", due="next_attempt_at")  # outbox-like
LEDGER = LeasedQueue(Task, ready="queued", leased="running", touched="updated_at", attempt_on="claim")


# SQLite always; PostgreSQL too when BG_TEST_POSTGRES_URL names a scratch database (its ``task`` and
# ``unleased`` tables are dropped and created again).
DIALECTS = ["sqlite", *(["postgresql"] if os.environ.get("BG_TEST_POSTGRES_URL") else [])]


@pytest.fixture(params=DIALECTS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'leases.db'}")
    else:
        database = Database(os.environ["BG_TEST_POSTGRES_URL"])
        Base.metadata.drop_all(database.engine)
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def add(db: Database, *dues: datetime, state: str = "pending") -> list[int]:
    with db.session() as s:
        rows = [Task(state=state, next_attempt_at=due) for due in dues]
        s.add_all(rows)
        s.flush()
        return [row.id for row in rows]


def row(db: Database, task_id: int) -> Task:
    with db.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        s.expunge(task)
        return task


def claim(db: Database, queue: LeasedQueue[Task], owner: str, now: datetime, limit: int = 10) -> list[int]:
    with db.session() as s:
        return queue.claim_due(s, owner=owner, now=now, lease_seconds=LEASE, limit=limit)


# Racing claimers --------------------------------------------------------------------------------
def test_a_stale_read_cannot_take_a_live_lease(db: Database) -> None:
    """The race itself: b read the rows as free before a's claim; b's conditional UPDATEs match none."""
    ids = add(db, T0, T0)
    with db.session() as s:
        seen_by_b = list(s.scalars(select(Task.id).where(DUE.claimable(T0))))
    assert seen_by_b == ids
    assert claim(db, DUE, "a", T0) == ids
    with db.session() as s:
        assert [DUE.try_lease(s, i, owner="b", now=T0, lease_seconds=LEASE) for i in seen_by_b] == [
            False,
            False,
        ]
    assert claim(db, DUE, "b", T0 + timedelta(seconds=30)) == []
    assert {row(db, i).lease_owner for i in ids} == {"a"}


def test_a_claimed_queued_row_is_not_claimed_twice(db: Database) -> None:
    (task,) = add(db, T0, state="queued")
    with db.session() as s:
        assert LEDGER.try_lease(s, task, owner="a", now=T0, lease_seconds=LEASE)
        assert not LEDGER.try_lease(s, task, owner="b", now=T0, lease_seconds=LEASE)
    leased = row(db, task)
    assert (leased.state, leased.lease_owner, leased.attempts) == ("running", "a", 1)


def test_two_engines_racing_for_each_row_exactly_one_wins(db: Database) -> None:
    ids = add(db, *[T0] * 20)
    other = Database(db.url)  # a second engine, as a second process would have
    won: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2, timeout=30)

    def race(owner: str, database: Database) -> None:
        for task_id in ids:
            barrier.wait()  # both go for the same row at once
            with database.session() as s:
                if DUE.try_lease(s, task_id, owner=owner, now=T0, lease_seconds=LEASE):
                    won[owner].append(task_id)

    threads = [threading.Thread(target=race, args=args) for args in (("a", db), ("b", other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    other.dispose()
    assert sorted(won["a"] + won["b"]) == ids  # every row won, none twice
    assert all(row(db, i).lease_owner == owner for owner, got in won.items() for i in got)


# Expiry ----------------------------------------------------------------------------------------
def test_an_expired_lease_is_claimable_again_from_its_expiry_on(db: Database) -> None:
    (task,) = add(db, T0)
    assert claim(db, DUE, "dead", T0) == [task]
    expiry = T0 + timedelta(seconds=LEASE)
    assert claim(db, DUE, "alive", expiry - timedelta(microseconds=1)) == []
    assert claim(db, DUE, "alive", expiry) == [task]
    again = row(db, task)
    assert again.lease_owner == "alive"
    assert as_utc(again.lease_expires_at or T0) == expiry + timedelta(seconds=LEASE)


def test_an_expired_running_row_is_claimable_and_swept_back_to_ready(db: Database) -> None:
    dead, live = add(db, T0, T0, state="queued")
    with db.session() as s:
        assert LEDGER.try_lease(s, dead, owner="dead", now=T0, lease_seconds=LEASE)
        assert LEDGER.try_lease(s, live, owner="live", now=T0 + timedelta(seconds=30), lease_seconds=LEASE)
    later = T0 + timedelta(seconds=LEASE)
    with db.session() as s:
        assert list(s.scalars(select(Task.id).where(LEDGER.claimable(later)))) == [dead]
        assert LEDGER.sweep_expired(s, now=later - timedelta(microseconds=1)) == []
        assert LEDGER.sweep_expired(s, now=later, last_error="expired") == [dead]
    swept, kept = row(db, dead), row(db, live)
    assert (swept.state, swept.lease_owner, swept.lease_expires_at, swept.last_error) == (
        "queued",
        None,
        None,
        "expired",
    )
    assert as_utc(swept.updated_at or T0) == later
    assert (kept.state, kept.lease_owner) == ("running", "live")


# Outcomes only by the owner --------------------------------------------------------------------
def test_a_non_owner_cannot_finish_or_renew(db: Database) -> None:
    (task,) = add(db, T0)
    claim(db, DUE, "a", T0)
    with db.session() as s:
        assert not DUE.finish(s, task, owner="b", state="done")
        assert not DUE.renew(s, task, owner="b", now=T0, lease_seconds=600)
    unchanged = row(db, task)
    assert (unchanged.state, unchanged.lease_owner, unchanged.attempts) == ("pending", "a", 0)
    assert as_utc(unchanged.lease_expires_at or T0) == T0 + timedelta(seconds=LEASE)
    with db.session() as s:
        assert DUE.finish(s, task, owner="a", state="done", last_error=None)
        assert not DUE.finish(s, task, owner="a", state="failed")  # finished: no longer leased
    done = row(db, task)
    assert (done.state, done.lease_owner, done.lease_expires_at, done.attempts) == ("done", None, None, 1)


def test_the_first_owner_cannot_finish_after_its_lease_was_taken_over(db: Database) -> None:
    (task,) = add(db, T0)
    claim(db, DUE, "dead", T0)
    claim(db, DUE, "alive", T0 + timedelta(seconds=LEASE))
    with db.session() as s:
        assert not DUE.finish(s, task, owner="dead", last_error="late")
        assert DUE.finish(s, task, owner="alive", next_attempt_at=T0 + timedelta(hours=1))
    retried = row(db, task)
    assert (retried.state, retried.lease_owner, retried.last_error) == ("pending", None, None)


def test_finishing_without_an_owner_takes_any_lease_but_only_a_leased_state(db: Database) -> None:
    (task,) = add(db, T0)
    claim(db, DUE, "a", T0)
    with db.session() as s:
        assert DUE.finish(s, task, owner=None, state="sent")
        assert not DUE.finish(s, task, owner=None, state="failed")
    assert row(db, task).state == "sent"


def test_renew_extends_the_owners_lease(db: Database) -> None:
    (task,) = add(db, T0, state="queued")
    with db.session() as s:
        LEDGER.try_lease(s, task, owner="a", now=T0, lease_seconds=LEASE)
    renewed_at = T0 + timedelta(seconds=50)
    with db.session() as s:
        assert LEDGER.renew(s, task, owner="a", now=renewed_at, lease_seconds=LEASE)
        assert not LEDGER.try_lease(s, task, owner="b", now=T0 + timedelta(seconds=LEASE), lease_seconds=1)
        assert LEDGER.sweep_expired(s, now=T0 + timedelta(seconds=LEASE)) == []
    renewed = row(db, task)
    assert as_utc(renewed.lease_expires_at or T0) == renewed_at + timedelta(seconds=LEASE)
    assert as_utc(renewed.updated_at or T0) == renewed_at and renewed.attempts == 1


# Due time, order and limit ---------------------------------------------------------------------
def test_claims_take_due_rows_earliest_first(db: Database) -> None:
    late, early, future, middle = add(
        db, T0 + timedelta(seconds=20), T0, T0 + timedelta(minutes=5), T0 + timedelta(seconds=10)
    )
    now = T0 + timedelta(seconds=30)
    claimed = claim(db, DUE, "a", now)
    assert claimed == [early, middle, late]
    with db.session() as s:
        assert [task.id for task in DUE.load(s, list(reversed(claimed)))] == claimed
        assert DUE.load(s, []) == []
        assert all(DUE.finish(s, i, owner="a", state="done") for i in claimed)
    assert claim(db, DUE, "a", T0 + timedelta(minutes=5) - timedelta(microseconds=1)) == []
    assert claim(db, DUE, "b", T0 + timedelta(minutes=5)) == [future]


def test_equal_due_times_are_taken_in_id_order(db: Database) -> None:
    ids = add(db, T0, T0, T0)
    assert claim(db, DUE, "a", T0) == ids


def test_limit_bounds_each_claim(db: Database) -> None:
    ids = add(db, *[T0 + timedelta(seconds=i) for i in range(5)])
    now = T0 + timedelta(minutes=1)
    assert claim(db, DUE, "a", now, limit=2) == ids[:2]
    assert claim(db, DUE, "b", now, limit=2) == ids[2:4]
    assert claim(db, DUE, "c", now, limit=2) == ids[4:]
    assert claim(db, DUE, "d", now, limit=2) == []


# Attempts, stale rows, construction, helpers --------------------------------------------------
def test_attempts_count_on_claim_or_on_finish(db: Database) -> None:
    on_finish, on_claim = add(db, T0), add(db, T0, state="queued")
    with db.session() as s:
        DUE.try_lease(s, on_finish[0], owner="w", now=T0, lease_seconds=LEASE)
        LEDGER.try_lease(s, on_claim[0], owner="w", now=T0, lease_seconds=LEASE)
    assert (row(db, on_finish[0]).attempts, row(db, on_claim[0]).attempts) == (0, 1)
    with db.session() as s:
        DUE.finish(s, on_finish[0], owner="w")
        LEDGER.finish(s, on_claim[0], owner="w", now=T0, state="done")
    assert (row(db, on_finish[0]).attempts, row(db, on_claim[0]).attempts) == (1, 1)


def test_touch_stale_wakes_ready_rows_untouched_since_a_time(db: Database) -> None:
    old, fresh, running = add(db, T0, T0, T0, state="queued")
    with db.session() as s:
        for task_id, at in ((old, T0), (fresh, T0 + timedelta(seconds=50))):
            s.get_one(Task, task_id).updated_at = at
        LEDGER.try_lease(s, running, owner="w", now=T0, lease_seconds=LEASE)
    now = T0 + timedelta(seconds=60)
    with db.session() as s:
        assert LEDGER.touch_stale(s, before=T0 + timedelta(seconds=30), now=now) == [old]
        assert LEDGER.touch_stale(s, before=T0 + timedelta(seconds=30), now=now) == []
    assert as_utc(row(db, old).updated_at or T0) == now
    with db.session() as s, pytest.raises(TypeError, match="touched"):
        DUE.touch_stale(s, before=T0, now=now)


def test_counts_per_state(db: Database) -> None:
    add(db, T0, T0, state="queued")
    add(db, T0, state="running")
    with db.session() as s:
        assert LEDGER.counts(s) == {"queued": 2, "running": 1}
        assert LEDGER.counts(s, ["done", "queued"]) == {"done": 0, "queued": 2, "running": 1}


def test_a_queue_needs_the_lease_columns() -> None:
    with pytest.raises(TypeError, match=r"Unleased\.lease_owner"):
        LeasedQueue(Unleased, ready="pending")
    with pytest.raises(TypeError, match=r"Task\.due_at"):
        LeasedQueue(Task, ready="pending", due="due_at")


def test_helpers() -> None:
    naive = datetime(2026, 3, 1, 9, 0)
    assert as_utc(naive) == T0 and as_utc(naive).tzinfo is UTC
    paris = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(paris) == T0 and as_utc(paris).tzinfo is UTC
    assert opt_utc(None) is None and opt_utc(naive) == T0
    assert utc_now(naive) == T0 and utc_now().tzinfo is UTC
    assert error_text("short") == "short"
    cut = error_text("x" * (MAX_ERROR_CHARS + 1))
    assert len(cut) == MAX_ERROR_CHARS and cut.endswith("...")
    assert error_text("x" * MAX_ERROR_CHARS) == "x" * MAX_ERROR_CHARS

    class Result:
        rowcount = 3

    assert rowcount(Result()) == 3 and rowcount(object()) == 0


def test_session_is_left_uncommitted(db: Database) -> None:
    (task,) = add(db, T0)
    with Session(db.engine) as s:
        assert DUE.try_lease(s, task, owner="a", now=T0, lease_seconds=LEASE)
        s.rollback()
    assert row(db, task).lease_owner is None
