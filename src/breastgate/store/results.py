"""Repository of algorithm results (JSON payload).

``result`` holds the latest result per study × algorithm (what the study's results document
shows); ``result_history`` keeps one row per study × algorithm × version, written by the same
:func:`save`, so versions run on the same studies can be compared (``governance.compare``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from breastgate.store import tables as t


@dataclass(frozen=True)
class StoredResult:
    study_instance_uid: str
    algorithm_id: str
    algorithm_version: str
    status: str
    generation: int
    payload: dict[str, Any]
    created_at: datetime


def save(
    session: Session,
    *,
    study_instance_uid: str,
    algorithm_id: str,
    algorithm_version: str,
    status: str,
    generation: int,
    payload: dict[str, Any],
    now: datetime | None = None,
) -> None:
    """Insert or replace the result of ``algorithm_id`` on the study, and the history row of
    ``algorithm_version`` (same transaction); ``created_at`` = ``now`` (default: the current time)."""
    text = json.dumps(payload, sort_keys=True)
    now = now or datetime.now(UTC)
    values = {
        "study_instance_uid": study_instance_uid,
        "algorithm_id": algorithm_id,
        "algorithm_version": algorithm_version,
        "status": status,
        "generation": generation,
        "payload": text,
        "created_at": now,
    }
    _upsert(session, t.Result, values, ("study_instance_uid", "algorithm_id"))
    _upsert(session, t.ResultHistory, values, ("study_instance_uid", "algorithm_id", "algorithm_version"))
    session.flush()


def _upsert(
    session: Session,
    table: type[t.Result] | type[t.ResultHistory],
    values: dict[str, Any],
    key: tuple[str, ...],
) -> None:
    """Update the row of ``table`` matching ``values`` on ``key``, or add one."""
    row = session.scalars(select(table).where(*(getattr(table, k) == values[k] for k in key))).one_or_none()
    if row is None:
        session.add(table(**values))
    else:
        for name, value in values.items():
            setattr(row, name, value)


def _stored(r: t.Result | t.ResultHistory) -> StoredResult:
    created = r.created_at if r.created_at.tzinfo is not None else r.created_at.replace(tzinfo=UTC)
    return StoredResult(
        study_instance_uid=r.study_instance_uid,
        algorithm_id=r.algorithm_id,
        algorithm_version=r.algorithm_version,
        status=r.status,
        generation=r.generation,
        payload=json.loads(r.payload),
        created_at=created,
    )


def for_study(session: Session, study_instance_uid: str) -> list[StoredResult]:
    """The latest result of every algorithm on the study, by algorithm id."""
    rows = session.scalars(
        select(t.Result)
        .where(t.Result.study_instance_uid == study_instance_uid)
        .order_by(t.Result.algorithm_id)
    )
    return [_stored(r) for r in rows]


def history(
    session: Session, algorithm_id: str, version: str, *, status: str | None = None
) -> list[StoredResult]:
    """Every study's result of ``algorithm_id`` at ``version`` (optionally only one ``status``),
    by Study Instance UID; kept after a newer version replaced it in :func:`for_study`."""
    query = select(t.ResultHistory).where(
        t.ResultHistory.algorithm_id == algorithm_id, t.ResultHistory.algorithm_version == version
    )
    if status is not None:
        query = query.where(t.ResultHistory.status == status)
    return [_stored(r) for r in session.scalars(query.order_by(t.ResultHistory.study_instance_uid))]


def common_ok_studies(session: Session, a: tuple[str, str], b: tuple[str, str]) -> list[str]:
    """Study Instance UIDs (sorted) where both ``a`` and ``b`` — each ``(algorithm_id, version)``
    — have an ``ok`` result."""
    ha, hb = aliased(t.ResultHistory), aliased(t.ResultHistory)
    query = (
        select(ha.study_instance_uid)
        .join(hb, hb.study_instance_uid == ha.study_instance_uid)
        .where(
            ha.algorithm_id == a[0],
            ha.algorithm_version == a[1],
            ha.status == "ok",
            hb.algorithm_id == b[0],
            hb.algorithm_version == b[1],
            hb.status == "ok",
        )
        .order_by(ha.study_instance_uid)
    )
    return list(session.scalars(query))
