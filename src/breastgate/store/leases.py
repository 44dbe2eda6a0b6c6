"""One leased-queue mechanism: the job ledger, the outbox and the prior pre-fetch queue use it.

A *leased queue* is a table whose rows wait for a worker (DESIGN §2, §5). Every such table has the
columns ``id``, ``state``, ``lease_owner``, ``lease_expires_at`` and ``attempts``; some also have a
due column (``next_attempt_at``: not claimable before it) and a touched column (the ledger's
``updated_at``, set on every lease change). The rules, written once here:

* **claimable** at ``t``: the state is *ready* (or *leased* with an expired lease), the row is due
  (due column ``<= t``) and its lease is free or expired (``lease_expires_at`` NULL or ``<= t``).
  A lease taken at ``t`` for ``s`` seconds is live on ``[t, t + s)``.
* **claim**: one conditional ``UPDATE ... WHERE id = :id AND <claimable>`` per row, so when two
  claimers race for a row exactly one UPDATE matches it, whatever either of them read before
  (SQLite serialises writers with ``BEGIN IMMEDIATE``; PostgreSQL re-checks the WHERE clause of a
  row another transaction changed).
* **renew** and **finish** only while owned: the state is *leased* and ``lease_owner`` matches.
  Finishing records an outcome and clears the lease. ``owner=None`` finishes whoever holds the
  lease; callers use it only where they document why (the outbox records a delivery the peer
  already has, lease or not).
* **sweep**: rows *leased* with an expired lease go back to *ready* (the ledger's re-queue).

Queues that keep their *ready* state while leased (outbox, pre-fetch: ``pending``) need no sweep:
an expired lease is simply claimable again. The ledger moves ``queued -> running`` on claim.

Every function takes a :class:`~sqlalchemy.orm.Session` and leaves committing to the caller. The
SQL is SQLAlchemy core (ORM-enabled UPDATE and SELECT), valid on SQLite and PostgreSQL alike.
Timestamps are UTC; SQLite hands back naive values, which :func:`as_utc` reads as UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

MAX_ERROR_CHARS = 2000
"""Longest ``last_error`` kept; longer texts are cut and end in ``...``."""

RowT = TypeVar("RowT", bound=DeclarativeBase)


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime (SQLite hands back naive values, stored as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def opt_utc(value: datetime | None) -> datetime | None:
    """:func:`as_utc` for an optional value."""
    return None if value is None else as_utc(value)


def utc_now(now: datetime | None = None) -> datetime:
    """``now`` in UTC, or the current time when ``None`` (callers pass ``now`` in tests)."""
    return datetime.now(UTC) if now is None else as_utc(now)


def rowcount(result: object) -> int:
    """Rows matched by an UPDATE or INSERT result (0 when the driver does not say)."""
    return int(getattr(result, "rowcount", 0) or 0)


def error_text(error: str) -> str:
    """``error`` cut to :data:`MAX_ERROR_CHARS` characters, ending in ``...`` when cut."""
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 3] + "..."


def _column(entity: type[Any], name: str) -> InstrumentedAttribute[Any]:
    column = getattr(entity, name, None)
    if not isinstance(column, InstrumentedAttribute):
        raise TypeError(f"a leased queue needs the mapped column {entity.__name__}.{name}")
    return column


class LeasedQueue(Generic[RowT]):
    """The lease rules of one table; valid once built (the columns it needs exist).

    Parameters
    ----------
    entity
        The ORM class of the table.
    ready
        State of a row waiting for a worker (``pending``, ``queued``).
    leased
        State of a leased row; ``None`` (default) when the row keeps ``ready`` while leased.
    due
        Column before whose time a row is not claimable (``next_attempt_at``); ``None`` when every
        ready row is due. Claims take due rows in (due, id) order, else in id order.
    touched
        Column set to ``now`` on every lease change (the ledger's ``updated_at``), or ``None``.
    attempt_on
        When ``attempts`` counts one more: on ``"claim"`` (the ledger) or on ``"finish"``
        (outbox and pre-fetch count an attempt when its outcome is recorded).

    Examples
    --------
    >>> QUEUE = LeasedQueue(OutboxItem, ready="pending", due="next_attempt_at")  # doctest: +SKIP
    >>> ids = QUEUE.claim_due(session, owner="w1", now=now, lease_seconds=60, limit=8)  # doctest: +SKIP
    """

    def __init__(
        self,
        entity: type[RowT],
        *,
        ready: str,
        leased: str | None = None,
        due: str | None = None,
        touched: str | None = None,
        attempt_on: Literal["claim", "finish"] = "finish",
    ) -> None:
        self.entity = entity
        self.ready = ready
        self.leased = ready if leased is None else leased
        self.attempt_on = attempt_on
        self._id = _column(entity, "id")
        self._state = _column(entity, "state")
        self._owner = _column(entity, "lease_owner")
        self._expires = _column(entity, "lease_expires_at")
        self._attempts = _column(entity, "attempts")
        self._due = None if due is None else _column(entity, due)
        self._touched = None if touched is None else _column(entity, touched)
        self._order = (self._id,) if self._due is None else (self._due, self._id)

    # Predicates --------------------------------------------------------------------------------
    def expired(self, at: datetime) -> ColumnElement[bool]:
        """The row's lease has expired at ``at`` (a row without a lease has none to expire)."""
        return self._expires <= as_utc(at)

    def claimable(self, at: datetime) -> ColumnElement[bool]:
        """The row may be leased at ``at``: ready or leased-but-expired, due, lease free or expired."""
        at = as_utc(at)
        if self.leased == self.ready:
            states: ColumnElement[bool] = self._state == self.ready
        else:
            states = self._state.in_((self.ready, self.leased))
        clauses = [states] if self._due is None else [states, self._due <= at]
        return and_(*clauses, or_(self._expires.is_(None), self._expires <= at))

    def owned(self, row_id: int, owner: str | None) -> list[ColumnElement[bool]]:
        """WHERE clauses of a row still leased by ``owner`` (by anyone when ``owner`` is None)."""
        clauses = [self._id == row_id, self._state == self.leased]
        if owner is not None:
            clauses.append(self._owner == owner)
        return clauses

    # Claiming ----------------------------------------------------------------------------------
    def claim_due(
        self, session: Session, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[int]:
        """Lease up to ``limit`` claimable rows, earliest due first; returns the ids this owner won.

        Candidates are read first, then each is taken with :meth:`try_lease`; a row another
        claimer took in between is skipped, so the result may be shorter than the candidates.
        """
        at = as_utc(now)
        candidates = session.scalars(
            select(self._id).where(self.claimable(at)).order_by(*self._order).limit(limit)
        ).all()
        return [
            int(row_id)
            for row_id in candidates
            if self.try_lease(session, row_id, owner=owner, now=at, lease_seconds=lease_seconds)
        ]

    def try_lease(
        self, session: Session, row_id: int, *, owner: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Lease one row if it is claimable at ``now`` (a conditional UPDATE).

        Returns
        -------
        bool
            ``False`` when the row is not claimable, e.g. another claimer got there first.
        """
        at = as_utc(now)
        values: dict[str, Any] = {
            "lease_owner": owner,
            "lease_expires_at": at + timedelta(seconds=lease_seconds),
        }
        if self.leased != self.ready:
            values["state"] = self.leased
        if self.attempt_on == "claim":
            values["attempts"] = self._attempts + 1
        return self._update(session, [self._id == row_id, self.claimable(at)], values, at) == 1

    def load(self, session: Session, ids: Collection[int]) -> list[RowT]:
        """The rows ``ids``, fresh from the database, in claim order (due, id)."""
        if not ids:
            return []
        stmt = (
            select(self.entity)
            .where(self._id.in_(ids))
            .order_by(*self._order)
            .execution_options(populate_existing=True)
        )
        return list(session.scalars(stmt).all())

    def counts(self, session: Session, states: Iterable[str] = ()) -> dict[str, int]:
        """Rows per state; each of ``states`` is present (0 when none), other states when they occur."""
        out = dict.fromkeys(states, 0)
        for state, count in session.execute(select(self._state, func.count()).group_by(self._state)).all():
            out[str(state)] = int(count)
        return out

    # Holding and releasing ---------------------------------------------------------------------
    def renew(
        self, session: Session, row_id: int, *, owner: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Extend ``owner``'s lease to ``now + lease_seconds``; ``False`` if the lease was lost."""
        at = as_utc(now)
        values = {"lease_expires_at": at + timedelta(seconds=lease_seconds)}
        return self._update(session, self.owned(row_id, owner), values, at) == 1

    def finish(
        self, session: Session, row_id: int, *, owner: str | None, now: datetime | None = None, **values: Any
    ) -> bool:
        """Record an outcome (``values``: columns to set) only while ``owner`` holds the lease.

        The lease is cleared, and with ``attempt_on="finish"`` the attempt counted. ``owner=None``
        records whoever holds the lease (see the module docstring: only where documented).

        Returns
        -------
        bool
            ``False`` when the row is no longer leased by ``owner`` (the outcome is not recorded).
        """
        values = {"lease_owner": None, "lease_expires_at": None, **values}
        if self.attempt_on == "finish":
            values["attempts"] = self._attempts + 1
        return self._update(session, self.owned(row_id, owner), values, utc_now(now)) == 1

    def sweep_expired(self, session: Session, *, now: datetime, **values: Any) -> list[int]:
        """Leased rows whose lease expired at ``now`` go back to ready (their worker died).

        ``values`` are further columns to set (e.g. ``last_error``). Returns the ids, in id order.
        """
        at = as_utc(now)
        where = [self._state == self.leased, self.expired(at)]
        released = {"state": self.ready, "lease_owner": None, "lease_expires_at": None, **values}
        return self._select_update(session, where, released, at)

    def touch_stale(self, session: Session, *, before: datetime, now: datetime) -> list[int]:
        """Ready rows not touched since ``before`` (their wake-up may be lost): touch them.

        Needs the ``touched`` column. Returns the ids, in id order, to wake up again.
        """
        if self._touched is None:
            raise TypeError(f"{self.entity.__name__} queue has no touched column")
        where = [self._state == self.ready, self._touched < as_utc(before)]
        return self._select_update(session, where, {}, as_utc(now))

    # Statements --------------------------------------------------------------------------------
    def _update(
        self, session: Session, where: list[ColumnElement[bool]], values: Mapping[str, Any], at: datetime
    ) -> int:
        """One ORM-enabled UPDATE (it autoflushes the session first); returns the rows matched."""
        if self._touched is not None:
            values = {**values, self._touched.key: at}
        stmt = update(self.entity).where(*where).values(values).execution_options(synchronize_session=False)
        return rowcount(session.execute(stmt))

    def _select_update(
        self, session: Session, where: list[ColumnElement[bool]], values: Mapping[str, Any], at: datetime
    ) -> list[int]:
        """Ids matching ``where``, then one UPDATE of those that still match (portable RETURNING)."""
        ids = [int(i) for i in session.scalars(select(self._id).where(*where).order_by(self._id))]
        if ids:
            self._update(session, [self._id.in_(ids), *where], values, at)
        return ids
