"""Browser sessions: the cookie's SHA-256 (never the cookie), who, roles, CSRF token, limits.

A session ends at ``expires_at`` (absolute) or when unused for longer than the idle limit the caller
passes; both are checked on every use, and ended sessions are deleted when seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from breastgate.store import tables as t


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def session_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WebSessionRecord:
    user_name: str
    roles: frozenset[str]
    via: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime


def _record(row: t.WebSession) -> WebSessionRecord:
    roles = frozenset(r for r in row.roles.split(",") if r)
    return WebSessionRecord(
        row.user_name, roles, row.via, row.csrf_token, _utc(row.created_at), _utc(row.expires_at)
    )


def start(
    session: Session,
    secret: str,
    *,
    user_name: str,
    roles: str,
    via: str,
    csrf_token: str,
    now: datetime,
    lifetime: timedelta,
) -> WebSessionRecord:
    row = t.WebSession(
        id_hash=session_digest(secret),
        user_name=user_name,
        roles=roles,
        via=via,
        csrf_token=csrf_token,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return _record(row)


def use(session: Session, secret: str, *, now: datetime, idle: timedelta) -> WebSessionRecord | None:
    """The live session of a cookie (its last use moved to ``now``), else None (ended ones deleted).
    A user disabled since sign-in has no live session."""
    row = session.get(t.WebSession, session_digest(secret))
    if row is None:
        return None
    user = session.get(t.AppUser, row.user_name)
    ended = _utc(row.expires_at) <= now or _utc(row.last_seen_at) + idle <= now
    if ended or user is None or not user.active:
        session.delete(row)
        session.flush()
        return None
    if now - _utc(row.last_seen_at) >= timedelta(seconds=30):  # one write per half minute, not per request
        row.last_seen_at = now
    return _record(row)


def end(session: Session, secret: str) -> WebSessionRecord | None:
    row = session.get(t.WebSession, session_digest(secret))
    if row is None:
        return None
    record = _record(row)
    session.delete(row)
    session.flush()
    return record


def purge(session: Session, *, now: datetime) -> int:
    """Delete sessions past their absolute end; how many."""
    result = session.execute(delete(t.WebSession).where(t.WebSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
