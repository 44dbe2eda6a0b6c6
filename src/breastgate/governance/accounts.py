"""Local accounts: argon2 password hashes, password sign-in with lockout, browser sessions.

A password is stored only as its argon2id hash (argon2-cffi's defaults, RFC 9106's low-memory
profile); a hash made with older parameters is replaced at the next good sign-in. After
``LOCK_AFTER`` wrong passwords in a row the account refuses every password for ``LOCK_FOR``, the
right one included, so guessing gains nothing; an unknown name costs the same hash time as a known
one and gets the same answer. Every sign-in, refusal and sign-out is audited (never the password).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.store import audit, sessions
from breastgate.store import governance as users

LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 12

_HASHER = PasswordHasher()
#: Verified against when the name is unknown, so both answers take the same time.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"a password has at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


class SignInRefused(Exception):
    """Wrong name or password, a disabled or locked account: one answer for all (the reason is in
    the audit trail, not in the reply)."""


@dataclass(frozen=True)
class Signed:
    """A started browser session: the cookie's secret (shown once) and the session."""

    secret: str
    record: sessions.WebSessionRecord


def check_password(session: Session, name: str, password: str, *, now: datetime, client: str) -> users.User:
    """The active user ``name`` whose password this is; else :class:`SignInRefused`, with the failure
    counted (and the account locked after ``LOCK_AFTER``) and audited."""
    found = users.credentials(session, name)
    ok = _verify(found.password_hash if found is not None else None, password)
    reason = None
    if found is None:
        reason = "unknown user"
    elif not found.user.active:
        reason = "disabled"
    elif found.locked_until is not None and found.locked_until > now:
        reason = "locked"
    elif not ok:
        reason = "wrong password"
    if reason is not None:
        if found is not None and reason != "locked":
            failures = found.failed_sign_ins + 1
            lock = now + LOCK_FOR if failures >= LOCK_AFTER else None
            users.record_sign_in(session, name, ok=False, locked_until=lock)
            if lock is not None:
                reason = f"{reason}; locked for {int(LOCK_FOR.total_seconds() // 60)} min"
        audit.append(
            session,
            AuditKind.SIGN_IN_REFUSED,
            actor=f"anonymous@{client}",
            subject=name[:128],
            data={"reason": reason, "via": "password"},
        )
        raise SignInRefused("Unknown user name or wrong password")
    assert found is not None and found.password_hash is not None
    rehash = _HASHER.hash(password) if _HASHER.check_needs_rehash(found.password_hash) else None
    users.record_sign_in(session, name, ok=True, rehash=rehash)
    return found.user


def start_session(
    session: Session,
    *,
    user_name: str,
    roles: frozenset[str],
    via: str,
    now: datetime,
    lifetime: timedelta,
    client: str,
) -> Signed:
    """A new browser session for a user already authenticated (password or the IdP); audited."""
    secret = secrets.token_urlsafe(32)
    record = sessions.start(
        session,
        secret,
        user_name=user_name,
        roles=",".join(sorted(roles)),
        via=via,
        csrf_token=secrets.token_urlsafe(24),
        now=now,
        lifetime=lifetime,
    )
    audit.append(
        session,
        AuditKind.SIGNED_IN,
        actor=f"user:{user_name}",
        subject=user_name,
        data={
            "via": via,
            "roles": sorted(roles),
            "client": client,
            "expires_at": record.expires_at.isoformat(),
        },
    )
    return Signed(secret, record)


def end_session(session: Session, secret: str) -> bool:
    record = sessions.end(session, secret)
    if record is None:
        return False
    audit.append(
        session, AuditKind.SIGNED_OUT, actor=f"user:{record.user_name}", subject=record.user_name, data={}
    )
    return True
