"""Configuration changes in the audit trail.

At start-up every process records a snapshot of its effective configuration (settings without
secrets, the triage policy's id@version, digests of the files it reads); when it differs from the
last one recorded, a ``configuration.changed`` event lists what changed, old and new. Secrets never
enter the trail: a setting named like a secret is replaced by whether it is set, and every URL in a
setting (one, or a comma-separated list) loses its credentials and its query string, where webhook
receivers often take a token.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from breastgate.domain.audit import AuditKind, canonical_data
from breastgate.store import audit
from breastgate.store.db import Database
from breastgate.store.tables import AuditEventRow

SECRET_WORDS = ("secret", "password", "token")


_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<auth>[^/@,\s]*@)?(?P<rest>[^?#,\s]*)(?P<tail>[?#][^,\s]*)?"
)


def _redact_urls(text: str) -> str:
    """Credentials (``user:password@``) and query strings or fragments taken out of every URL."""

    def clean(match: re.Match[str]) -> str:
        auth = "***@" if match.group("auth") else ""
        tail = "?(redacted)" if match.group("tail") else ""
        return f"{match.group('scheme')}{auth}{match.group('rest')}{tail}"

    return _URL.sub(clean, text)


def redact(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """Secrets replaced by "(set)" / "(unset)"; credentials and query strings dropped from URLs."""
    out: dict[str, Any] = {}
    for key, value in snapshot.items():
        if any(word in key.lower() for word in SECRET_WORDS):
            out[key] = "(set)" if value else "(unset)"
        elif isinstance(value, str) and "://" in value:
            out[key] = _redact_urls(value)
        else:
            out[key] = value
    return out


def digest(snapshot: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_data(snapshot).encode("utf-8")).hexdigest()


def record_configuration(
    db: Database, snapshot: Mapping[str, Any], *, actor: str = "system"
) -> dict[str, Any]:
    """Audit the configuration if it changed since the last record; returns the changes (empty
    when nothing changed). The first record lists every key as changed from nothing."""
    current = json.loads(canonical_data(redact(snapshot)))
    with db.session() as session:
        row = session.execute(
            select(AuditEventRow.data)
            .where(AuditEventRow.kind == AuditKind.CONFIGURATION_CHANGED.value)
            .order_by(AuditEventRow.seq.desc())
            .limit(1)
        ).scalar_one_or_none()
        previous: dict[str, Any] = json.loads(row).get("configuration", {}) if row else {}
        changes = {
            key: {"old": previous.get(key), "new": current.get(key)}
            for key in sorted(set(previous) | set(current))
            if previous.get(key) != current.get(key)
        }
        if changes:
            audit.append(
                session,
                AuditKind.CONFIGURATION_CHANGED,
                actor=actor,
                subject="configuration",
                data={"digest": digest(current), "changes": changes, "configuration": current},
            )
    return changes
