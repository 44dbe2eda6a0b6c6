"""Human approval before results enter the permanent record (DESIGN §6).

When a mode requires approval, the study's PACS objects and HL7 results wait in the outbox as
``held``. A radiologist approves (they become due and are sent) or withholds them (never sent);
either decision is audited with the reason, in the transaction that applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.store import audit, outbox
from breastgate.store import tables as t


class Decision(StrEnum):
    APPROVE = "approve"
    WITHHOLD = "withhold"


@dataclass(frozen=True)
class Approval:
    study_instance_uid: str
    generation: int
    state: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    held: int


def request(session: Session, study_instance_uid: str, generation: int) -> None:
    """Record that the generation's results wait for a decision (idempotent)."""
    if session.get(t.ResultApproval, (study_instance_uid, generation)) is None:
        session.add(t.ResultApproval(study_instance_uid=study_instance_uid, generation=generation))
        session.flush()


def latest(session: Session, study_instance_uid: str) -> Approval | None:
    row = session.scalars(
        select(t.ResultApproval)
        .where(t.ResultApproval.study_instance_uid == study_instance_uid)
        .order_by(t.ResultApproval.generation.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    held = len(outbox.list_items(session, outbox.OutboxState.HELD, study_instance_uid))
    decided_at = (
        row.decided_at.replace(tzinfo=UTC) if row.decided_at and not row.decided_at.tzinfo else row.decided_at
    )
    return Approval(
        row.study_instance_uid, row.generation, row.state, row.decided_by, decided_at, row.reason, held
    )


def decide(
    session: Session, study_instance_uid: str, decision: Decision, *, user: str, reason: str
) -> Approval:
    """Apply a radiologist's decision to the study's latest pending generation."""
    row = session.scalars(
        select(t.ResultApproval)
        .where(t.ResultApproval.study_instance_uid == study_instance_uid, t.ResultApproval.state == "pending")
        .order_by(t.ResultApproval.generation.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        raise InvalidInputError("no results of this study are waiting for approval")
    if decision is Decision.WITHHOLD and not reason.strip():
        raise InvalidInputError("withholding results needs a reason")
    if decision is Decision.APPROVE:
        count = outbox.release_held(session, study_instance_uid)
        row.state, kind = "approved", AuditKind.RESULT_APPROVED
    else:
        count = outbox.withhold_held(session, study_instance_uid)
        row.state, kind = "withheld", AuditKind.RESULT_WITHHELD
    row.decided_by, row.decided_at, row.reason = user, datetime.now(UTC), reason
    audit.append(
        session,
        kind,
        actor=user,
        study_instance_uid=study_instance_uid,
        subject=f"generation {row.generation}",
        data={"generation": row.generation, "objects": count, "reason": reason},
    )
    session.flush()
    result = latest(session, study_instance_uid)
    assert result is not None
    return result
