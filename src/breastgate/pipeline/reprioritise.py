"""Re-apply the triage policy to the open worklist when the site changes it.

At start-up the gateway compares each open entry's policy (``id@version``) with the configured
one; entries made under another policy are triaged again from their stored results, and every
change is recorded with the new policy version (``store.worklist``), so a priority can always be
traced to the policy that set it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from breastgate.domain.model import Triage
from breastgate.results.json import result_from_payload
from breastgate.store import results as result_store
from breastgate.store import worklist as worklist_store
from breastgate.store.db import Database
from breastgate.worklist.policy import TriagePolicy, queue_for, triage

LOGGER = logging.getLogger(__name__)

OPEN = ("scheduled", "in_progress")


def rank(session: Session, study_uid: str, decision: Triage, *, reason: str, **study: Any) -> bool:
    """Put a study on the worklist, or re-rank it, with a triage decision; True when it changed.

    ``study`` passes the entry's modality, accession number and arrival time when known."""
    changed = worklist_store.apply_triage(
        session,
        study_uid,
        priority=decision.priority.value,
        score=decision.score,
        flags=decision.flags,
        policy=decision.policy,
        queue=queue_for(decision),
        reason=reason,
        **study,
    )
    if changed:
        LOGGER.info(
            "worklist: study %s %s [%s] by %s", study_uid, decision.priority.value, ",".join(decision.flags),
            decision.policy,
        )  # fmt: skip
    return changed


def reapply_policy(db: Database, policy: TriagePolicy) -> int:
    """Triage again every open entry made under another policy; returns how many changed."""
    changed = 0
    with db.session() as session:
        stale = [
            item
            for status in OPEN
            for item in worklist_store.list_worklist(session, status=status, limit=100_000)
            if item.policy != policy.name
        ]
    for item in stale:
        with db.session() as session:
            results = [
                result_from_payload(r.payload)
                for r in result_store.for_study(session, item.study_instance_uid)
            ]
            _, decision = triage(results, policy)
            reason = f"policy changed from {item.policy} to {policy.name}"
            changed += rank(session, item.study_instance_uid, decision, reason=reason)
    return changed
