"""Priors for the job about to run: wait for them a bounded time, then attach what is held and say
what became of the rest (``StudyRef.priors``, ``StudyRef.prior_status``).

The assembler owes a pre-fetch for a current study routed to an algorithm whose manifest names
``prior_modalities`` (:meth:`PriorPolicy.owe`); the job runner asks :func:`priors_for` before it
runs such an algorithm. While the study's pre-fetch is pending and the wait
(``BG_PRIOR_WAIT_SECONDS``, from when the pre-fetch was owed) has not run out, the answer is
"wait"; afterwards the job runs with the priors held here, most recent first:

- pre-fetch done: ``held`` when any prior is held, else ``none_available`` (the PACS answered and
  nothing fits);
- pre-fetch still pending when the wait ran out, or failed (the PACS down, slow or refusing):
  ``held`` when priors were already here, else ``not_in_time``;
- no pre-fetch owed (no PACS to ask, no patient id): ``held`` when priors are here anyway, else
  ``not_sought``.

An algorithm that wants no priors never waits and gets ``not_sought``. The clock is injected.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from breastgate.domain.model import PriorStatus, StudyRef
from breastgate.routing.priors import window
from breastgate.store import prefetch, studies
from breastgate.store.prefetch import FetchState

LOGGER = logging.getLogger(__name__)

#: How often a waiting job looks again (at most).
RECHECK_SECONDS = 2.0


@dataclass(frozen=True)
class PriorPolicy:
    """The selection rules and the wait, as configured (``BG_PRIOR_COUNT``, ``BG_PRIOR_YEARS``,
    ``BG_PRIOR_WAIT_SECONDS``), and what each algorithm wants (manifest ``prior_modalities``)."""

    wanted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    count: int = 2
    years: float = 0.0
    wait_seconds: float = 300.0
    #: A PACS is configured to ask (otherwise nothing is owed and priors are ``not_sought``).
    fetching: bool = False

    def modalities_for(self, algorithm_ids: Sequence[str]) -> tuple[str, ...]:
        """The prior modalities the given algorithms want together (sorted, upper case)."""
        return tuple(sorted({m.upper() for a in algorithm_ids for m in self.wanted.get(a, ())}))

    def owe(self, session: Session, study: StudyRef, algorithm_ids: Sequence[str]) -> bool:
        """Owe a pre-fetch for ``study`` when one of ``algorithm_ids`` wants priors (in the routing
        transaction); True when a new one was owed."""
        modalities = self.modalities_for(algorithm_ids)
        if not (self.fetching and self.count > 0 and modalities and study.patient_id):
            return False
        before, after = window(study.study_date, self.years)
        return prefetch.owe_for_study(
            session,
            study_instance_uid=study.study_instance_uid,
            patient_id=study.patient_id,
            issuer_of_patient_id=studies.get_issuer(session, study.study_instance_uid),
            before_date=before,
            after_date=after,
            modalities=modalities,
        )


@dataclass(frozen=True)
class PriorAnswer:
    """Run with ``study`` (priors attached), or wait ``wait_seconds`` and ask again (``study`` None)."""

    study: StudyRef | None
    wait_seconds: float = 0.0


def priors_for(
    session: Session,
    study: StudyRef,
    modalities: Sequence[str],
    policy: PriorPolicy,
    now: datetime | None,
) -> PriorAnswer:
    """The study as an algorithm wanting priors of ``modalities`` should see it, or how long to
    wait for them; ``now`` None means the wait is over (run with what is held)."""
    if not modalities or policy.count <= 0:
        return PriorAnswer(study)
    entry = prefetch.for_study(session, study.study_instance_uid)
    if now is not None and entry is not None and entry.state is FetchState.PENDING and entry.created_at:
        remaining = (entry.created_at + timedelta(seconds=policy.wait_seconds) - now).total_seconds()
        if remaining > 0:
            return PriorAnswer(None, min(remaining, RECHECK_SECONDS))
    held = _held(session, study, modalities, policy)
    if held:
        status = PriorStatus.HELD
    elif entry is None:
        status = PriorStatus.NOT_SOUGHT
    elif entry.state is FetchState.DONE:
        status = PriorStatus.NONE_AVAILABLE
    else:
        status = PriorStatus.NOT_IN_TIME
    if entry is not None and entry.state is not FetchState.DONE:
        LOGGER.info(
            "priors of study-fetch %d not complete (%s, %d attempt(s)): running with %d held",
            entry.id, entry.state, entry.attempts, len(held),
        )  # fmt: skip
    return PriorAnswer(dataclasses.replace(study, priors=held, prior_status=status))


def _held(
    session: Session, study: StudyRef, modalities: Sequence[str], policy: PriorPolicy
) -> tuple[StudyRef, ...]:
    if not study.patient_id:
        return ()
    before, after = window(study.study_date, policy.years)
    uids = prefetch.held_priors(
        session,
        patient_id=study.patient_id,
        issuer_of_patient_id=studies.get_issuer(session, study.study_instance_uid),
        before_date=before,
        after_date=after,
        modalities=modalities,
        limit=policy.count,
    )
    refs = (studies.get_study_ref(session, uid) for uid in uids)
    return tuple(ref for ref in refs if ref is not None and ref.instances)
