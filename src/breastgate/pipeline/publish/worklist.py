"""The reading worklist (destination ``worklist``): the study's priority, flags and queue from the
triage policy, applied to the results integrated at ``worklist``; every change recorded with the
policy that made it (``store.worklist``)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from breastgate.domain.governance import Destination
from breastgate.domain.model import Triage
from breastgate.pipeline.publish.base import StudyStep
from breastgate.store import studies
from breastgate.store import worklist as worklist_store
from breastgate.worklist.policy import queue_for

LOGGER = logging.getLogger(__name__)


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


class WorklistPublisher:
    """Ranks the study on the worklist."""

    destination = Destination.WORKLIST

    def publish(self, step: StudyStep) -> None:
        summary = step.summary(step.results.at(self.destination), render=False)
        if summary is None:
            return
        decision, study = summary.triage, step.study
        modalities = sorted({i.modality for i in study.instances if i.modality})
        step.worklist_ranked = True
        step.worklist_changed = rank(
            step.session,
            step.uid,
            decision,
            reason="; ".join(decision.reasons) or f"results of generation {study.generation}",
            modality="MG" if "MG" in modalities else (modalities[0] if modalities else None),
            accession_number=study.accession_number,
            arrived_at=studies.first_received_at(step.session, step.uid),
        )
