"""Study assembly: a study becomes stable when its screening views are in or it went quiet.

Then routing picks the algorithms and one job per (study, algorithm) goes into the ledger
— committed — before its id is queued (DESIGN §5). A study retrieved from the PACS as a prior
(flagged in ``prior_study`` before its C-MOVE was sent) becomes stable like any other but is not
routed: it is there to be compared with, not analysed as a new examination. A study routed to an
algorithm that wants priors owes a prior pre-fetch in the same transaction
(:meth:`~breastgate.routing.attach.PriorPolicy.owe`); the job waits for it (:mod:`.attach`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from breastgate.domain.audit import AuditKind
from breastgate.jobs import ledger
from breastgate.routing.attach import PriorPolicy
from breastgate.routing.rules import Rule, route
from breastgate.store import audit, prefetch, studies
from breastgate.store.db import Database

LOGGER = logging.getLogger(__name__)


class StudyAssembler:
    """Call :meth:`tick` periodically; it schedules jobs for studies that became stable."""

    def __init__(
        self,
        db: Database,
        rules: Sequence[Rule],
        stable_seconds: float,
        enqueue: Callable[[int], None],
        priors: PriorPolicy | None = None,
    ) -> None:
        self._db, self._rules, self._stable_seconds, self._enqueue = db, rules, stable_seconds, enqueue
        self._priors = priors or PriorPolicy()

    def tick(self, now: datetime | None = None) -> list[int]:
        now = now or datetime.now(UTC)
        job_ids: list[int] = []
        with self._db.session() as session:
            for uid in studies.studies_ready(session, now, self._stable_seconds):
                study = studies.get_study_ref(session, uid)
                studies.mark_stable(session, uid)
                if study is None:
                    continue
                if prefetch.is_prior(session, uid):
                    LOGGER.info(
                        "prior study stable (%s instances): kept for comparison, not routed",
                        len(study.instances),
                    )
                    continue
                chosen = route(study, self._rules)
                LOGGER.info(
                    "study stable (generation %s, %s instances): %s",
                    study.generation,
                    len(study.instances),
                    ", ".join(chosen) or "no algorithm applies",
                )
                scheduled = [ledger.schedule(session, uid, a, study.generation) for a in chosen]
                priors_owed = self._priors.owe(session, study, chosen)
                audit.append(
                    session,
                    AuditKind.STUDY_ROUTED,
                    actor="routing",
                    study_instance_uid=uid,
                    subject=f"generation {study.generation}",
                    data={
                        "generation": study.generation,
                        "instances": len(study.instances),
                        "algorithms": list(chosen),
                        "jobs": scheduled,
                        "priors_owed": priors_owed,
                    },
                )
                job_ids += scheduled
        for job_id in job_ids:
            self._enqueue(job_id)
        return job_ids
