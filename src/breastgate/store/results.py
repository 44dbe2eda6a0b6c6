"""Repository of algorithm results (one row per study × algorithm, JSON payload)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
) -> None:
    """Insert or replace the result of ``algorithm_id`` on the study."""
    row = session.scalars(
        select(t.Result).where(
            t.Result.study_instance_uid == study_instance_uid, t.Result.algorithm_id == algorithm_id
        )
    ).one_or_none()
    text = json.dumps(payload, sort_keys=True)
    now = datetime.now(UTC)
    if row is None:
        session.add(
            t.Result(
                study_instance_uid=study_instance_uid,
                algorithm_id=algorithm_id,
                algorithm_version=algorithm_version,
                status=status,
                generation=generation,
                payload=text,
                created_at=now,
            )
        )
    else:
        row.algorithm_version, row.status, row.generation = algorithm_version, status, generation
        row.payload, row.created_at = text, now
    session.flush()


def for_study(session: Session, study_instance_uid: str) -> list[StoredResult]:
    rows = session.scalars(
        select(t.Result)
        .where(t.Result.study_instance_uid == study_instance_uid)
        .order_by(t.Result.algorithm_id)
    )
    return [
        StoredResult(
            study_instance_uid=r.study_instance_uid,
            algorithm_id=r.algorithm_id,
            algorithm_version=r.algorithm_version,
            status=r.status,
            generation=r.generation,
            payload=json.loads(r.payload),
            created_at=r.created_at,
        )
        for r in rows
    ]
