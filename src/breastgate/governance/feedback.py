"""Per-finding feedback: a radiologist accepts, rejects (reason from a list + free text) or
modifies (moved or resized mark, changed category) an AI finding. Stored beside the finding,
never over it, and audited in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import FeedbackAction, RejectReason
from breastgate.store import audit
from breastgate.store import results as result_store
from breastgate.store import tables as t

_EVENT = {
    FeedbackAction.ACCEPT: AuditKind.FINDING_ACCEPTED,
    FeedbackAction.REJECT: AuditKind.FINDING_REJECTED,
    FeedbackAction.MODIFY: AuditKind.FINDING_MODIFIED,
}
_CATEGORIES = {"0", "1", "2", "3", "4", "5", "6"}


@dataclass(frozen=True)
class Modification:
    """What a radiologist changed: the mark's point / box (image coordinates, as in results JSON),
    the SOP instance it is on, or the BI-RADS category they give the finding."""

    point: tuple[float, float] | None = None
    bbox: tuple[float, float, float, float] | None = None
    sop_instance_uid: str | None = None
    birads: str | None = None
    kind: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Feedback:
    id: int
    study_instance_uid: str
    algorithm_id: str
    algorithm_version: str
    generation: int
    finding_id: str
    action: str
    reason: str | None
    comment: str
    modification: dict[str, Any] | None
    user: str
    at: datetime


def _locate(session: Session, study_uid: str, finding_id: str) -> tuple[str, str, int]:
    for stored in result_store.for_study(session, study_uid):
        if any(f.get("id") == finding_id for f in stored.payload.get("findings") or []):
            return stored.algorithm_id, stored.algorithm_version, stored.generation
    raise LookupError(f"no finding {finding_id!r} in this study's results")


def record(
    session: Session,
    study_uid: str,
    finding_id: str,
    action: FeedbackAction,
    *,
    user: str,
    reason: RejectReason | None = None,
    comment: str = "",
    modification: Modification | None = None,
) -> Feedback:
    """Store one verdict on a finding (LookupError if the study has no such finding)."""
    if action is FeedbackAction.REJECT and reason is None:
        raise InvalidInputError("a rejection needs a reason from the list")
    if action is FeedbackAction.REJECT and reason is RejectReason.OTHER and not comment.strip():
        raise InvalidInputError("reason 'other' needs a comment")
    if action is FeedbackAction.MODIFY:
        if modification is None or not modification.as_dict():
            raise InvalidInputError("a modification needs a moved/resized mark or a changed category")
        if modification.birads is not None and modification.birads not in _CATEGORIES:
            raise InvalidInputError(f"category {modification.birads!r} is not a BI-RADS category 0-6")
        if modification.bbox is not None:
            c0, r0, c1, r1 = modification.bbox
            if not (c1 > c0 and r1 > r0):
                raise InvalidInputError("bbox must be [c0, r0, c1, r1] with c1 > c0 and r1 > r0")
    elif modification is not None:
        raise InvalidInputError(f"{action.value} takes no modification")
    algorithm_id, version, generation = _locate(session, study_uid, finding_id)
    now = datetime.now(UTC)
    changes = modification.as_dict() if modification is not None else None
    row = t.FindingFeedback(
        study_instance_uid=study_uid,
        algorithm_id=algorithm_id,
        algorithm_version=version,
        generation=generation,
        finding_id=finding_id,
        action=action.value,
        reason=reason.value if reason is not None else None,
        comment=comment,
        modification=json.dumps(changes, sort_keys=True) if changes is not None else None,
        user=user,
        at=now,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        _EVENT[action],
        actor=user,
        study_instance_uid=study_uid,
        subject=finding_id,
        data={
            "algorithm_id": algorithm_id,
            "version": version,
            "generation": generation,
            "finding_id": finding_id,
            "reason": row.reason,
            "comment": comment,
            "modification": changes,
        },
    )
    return _feedback(row)


def _feedback(row: t.FindingFeedback) -> Feedback:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return Feedback(
        row.id,
        row.study_instance_uid,
        row.algorithm_id,
        row.algorithm_version,
        row.generation,
        row.finding_id,
        row.action,
        row.reason,
        row.comment,
        json.loads(row.modification) if row.modification else None,
        row.user,
        at,
    )


def for_study(session: Session, study_uid: str) -> list[Feedback]:
    rows = session.scalars(
        select(t.FindingFeedback)
        .where(t.FindingFeedback.study_instance_uid == study_uid)
        .order_by(t.FindingFeedback.id)
    )
    return [_feedback(r) for r in rows]


def attach(results_json: dict[str, Any], feedback: Sequence[Feedback]) -> dict[str, Any]:
    """Put each finding's feedback beside it in a results JSON (latest verdict as ``feedback``,
    every verdict in ``feedback_history``)."""
    by_finding: dict[str, list[Mapping[str, Any]]] = {}
    for item in feedback:
        by_finding.setdefault(item.finding_id, []).append(
            {
                "action": item.action,
                "reason": item.reason,
                "comment": item.comment,
                "modification": item.modification,
                "user": item.user,
                "at": item.at.isoformat(),
            }
        )
    for finding in results_json.get("findings") or []:
        history = by_finding.get(str(finding.get("id")))
        if history:
            finding["feedback"] = history[-1]
            finding["feedback_history"] = history
    return results_json
