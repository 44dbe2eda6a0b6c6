"""Governance repository: algorithm registry, modes, users, feedback, outcomes, approvals.

Every function that changes governance state appends its audit event in the same session
(``store.audit``), so the change and its record commit together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Destination, Mode, roles_text
from breastgate.store import audit
from breastgate.store import tables as t


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# Registry ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlgorithmVersion:
    algorithm_id: str
    version: str
    name: str
    manifest: dict[str, Any]
    available: bool
    availability: str
    first_seen_at: datetime
    last_seen_at: datetime


def register_version(
    session: Session,
    *,
    algorithm_id: str,
    version: str,
    name: str,
    manifest: Mapping[str, Any],
    available: bool,
    availability: str,
    initial_mode: Mode,
    actor: str = "system",
) -> bool:
    """Record an algorithm version the gateway can run; a new one gets ``initial_mode`` at every
    destination (audited). Returns True when the version is new."""
    now = datetime.now(UTC)
    row = session.get(t.AlgorithmVersionRow, (algorithm_id, version))
    if row is not None:
        row.available, row.availability, row.last_seen_at = available, availability, now
        row.manifest = json.dumps(dict(manifest), sort_keys=True)
        return False
    session.add(
        t.AlgorithmVersionRow(
            algorithm_id=algorithm_id,
            version=version,
            name=name,
            manifest=json.dumps(dict(manifest), sort_keys=True),
            available=available,
            availability=availability,
            first_seen_at=now,
            last_seen_at=now,
        )
    )
    audit.append(
        session,
        AuditKind.ALGORITHM_REGISTERED,
        actor=actor,
        subject=f"{algorithm_id}@{version}",
        data={"algorithm_id": algorithm_id, "version": version, "available": available},
    )
    for destination in Destination:
        if session.get(t.AlgorithmMode, (algorithm_id, version, destination.value)) is None:
            set_mode(
                session,
                algorithm_id=algorithm_id,
                version=version,
                destination=destination,
                mode=initial_mode,
                actor=actor,
                reason=f"new algorithm version starts {initial_mode.value}",
            )
    session.flush()
    return True


def versions(session: Session) -> list[AlgorithmVersion]:
    rows = session.scalars(
        select(t.AlgorithmVersionRow).order_by(
            t.AlgorithmVersionRow.algorithm_id, t.AlgorithmVersionRow.first_seen_at
        )
    )
    return [
        AlgorithmVersion(
            r.algorithm_id,
            r.version,
            r.name,
            json.loads(r.manifest),
            r.available,
            r.availability,
            _utc(r.first_seen_at),
            _utc(r.last_seen_at),
        )
        for r in rows
    ]


# Modes -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModeSetting:
    algorithm_id: str
    version: str
    destination: str
    mode: Mode
    approval_required: bool
    changed_by: str
    changed_at: datetime
    reason: str


def set_mode(
    session: Session,
    *,
    algorithm_id: str,
    version: str,
    destination: Destination,
    mode: Mode,
    actor: str,
    reason: str,
    approval_required: bool | None = None,
) -> ModeSetting:
    """Set the mode (and optionally the approval requirement) and audit the change."""
    row = session.get(t.AlgorithmMode, (algorithm_id, version, destination.value))
    old_mode = row.mode if row is not None else None
    old_approval = row.approval_required if row is not None else None
    now = datetime.now(UTC)
    approval = approval_required if approval_required is not None else bool(old_approval) if row else False
    if row is None:
        row = t.AlgorithmMode(
            algorithm_id=algorithm_id,
            version=version,
            destination=destination.value,
            mode=mode.value,
            approval_required=approval,
            changed_by=actor,
            changed_at=now,
            reason=reason,
        )
        session.add(row)
    else:
        row.mode, row.approval_required = mode.value, approval
        row.changed_by, row.changed_at, row.reason = actor, now, reason
    audit.append(
        session,
        AuditKind.MODE_CHANGED,
        actor=actor,
        subject=f"{algorithm_id}@{version}/{destination.value}",
        data={
            "algorithm_id": algorithm_id,
            "version": version,
            "destination": destination.value,
            "old_mode": old_mode,
            "new_mode": mode.value,
            "old_approval_required": old_approval,
            "approval_required": approval,
            "reason": reason,
        },
    )
    session.flush()
    return ModeSetting(algorithm_id, version, destination.value, mode, approval, actor, now, reason)


def modes(session: Session, algorithm_id: str | None = None) -> list[ModeSetting]:
    query = select(t.AlgorithmMode).order_by(
        t.AlgorithmMode.algorithm_id, t.AlgorithmMode.version, t.AlgorithmMode.destination
    )
    if algorithm_id is not None:
        query = query.where(t.AlgorithmMode.algorithm_id == algorithm_id)
    return [
        ModeSetting(
            r.algorithm_id,
            r.version,
            r.destination,
            Mode(r.mode),
            r.approval_required,
            r.changed_by,
            _utc(r.changed_at),
            r.reason,
        )
        for r in session.scalars(query)
    ]


# Users ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class User:
    name: str
    roles: frozenset[str]
    active: bool
    source: str = "local"

    @property
    def role(self) -> str:
        """The roles as one text (``radiologist,ai_admin``)."""
        return roles_text(self.roles)


def _user(row: t.AppUser) -> User:
    return User(row.name, frozenset(r for r in row.role.split(",") if r), row.active, row.source)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(
    session: Session,
    name: str,
    role: str,
    token: str | None = None,
    *,
    actor: str,
    password_hash: str | None = None,
    source: str = "local",
) -> User:
    """Create or update a user with ``role`` (comma-separated roles), an API token and/or an argon2
    password hash (each replaced only when given); audited without the secrets."""
    existing = session.get(t.AppUser, name)
    if existing is None:
        existing = t.AppUser(name=name, role=role, active=True, source=source, failed_sign_ins=0)
        session.add(existing)
    existing.role, existing.active = role, True
    if token is not None:
        existing.token_hash = token_digest(token)
    if password_hash is not None:
        existing.password_hash, existing.failed_sign_ins, existing.locked_until = password_hash, 0, None
    data: dict[str, Any] = {"user": name, "role": role, "active": True}
    if token is not None:
        data["token"] = "issued"
    if password_hash is not None:
        data["password"] = "set"
    if source != "local":
        data["source"] = source
    audit.append(session, AuditKind.USER_CHANGED, actor=actor, subject=name, data=data)
    session.flush()
    return _user(existing)


def deactivate_user(session: Session, name: str, *, actor: str) -> bool:
    """Disable a user and end their browser sessions."""
    result = session.execute(update(t.AppUser).where(t.AppUser.name == name).values(active=False))
    done = int(getattr(result, "rowcount", 0) or 0)
    if done:
        session.execute(delete(t.WebSession).where(t.WebSession.user_name == name))
        audit.append(
            session, AuditKind.USER_CHANGED, actor=actor, subject=name, data={"user": name, "active": False}
        )
    return bool(done)


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalars(
        select(t.AppUser).where(t.AppUser.token_hash == token_digest(token), t.AppUser.active.is_(True))
    ).one_or_none()
    return None if row is None else _user(row)


def get_user(session: Session, name: str) -> User | None:
    row = session.get(t.AppUser, name)
    return None if row is None else _user(row)


@dataclass(frozen=True)
class Credentials:
    """What a password sign-in checks: the stored hash and the account's lockout."""

    user: User
    password_hash: str | None
    failed_sign_ins: int
    locked_until: datetime | None


def credentials(session: Session, name: str) -> Credentials | None:
    row = session.get(t.AppUser, name)
    if row is None:
        return None
    locked = None if row.locked_until is None else _utc(row.locked_until)
    return Credentials(_user(row), row.password_hash, row.failed_sign_ins or 0, locked)


def record_sign_in(
    session: Session, name: str, *, ok: bool, locked_until: datetime | None = None, rehash: str | None = None
) -> int:
    """Count a failed password (locking the account until ``locked_until`` when given) or reset the
    count after a good one (storing ``rehash`` when argon2's parameters changed); the new count."""
    row = session.get(t.AppUser, name)
    if row is None:
        return 0
    if ok:
        row.failed_sign_ins, row.locked_until = 0, None
        if rehash is not None:
            row.password_hash = rehash
    else:
        row.failed_sign_ins = (row.failed_sign_ins or 0) + 1
        if locked_until is not None:
            row.locked_until = locked_until
    session.flush()
    return row.failed_sign_ins


def any_user(session: Session) -> bool:
    return session.scalars(select(t.AppUser.name).limit(1)).first() is not None


def users(session: Session) -> list[User]:
    return [_user(r) for r in session.scalars(select(t.AppUser).order_by(t.AppUser.name))]
