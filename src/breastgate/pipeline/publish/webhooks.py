"""Webhook events out (destination ``webhook``, ``BG_WEBHOOKS``): written as JSON files and owed
through the outbox.

Events and their ``data`` (no patient name or identifier: the accession number and the Study
Instance UID are what a receiver looks a study up by):

- ``study.results``: a study's results are complete (summary step): triage, assessment draft,
  density, the shown findings per kind, the algorithms and their status;
- ``worklist.changed``: a study's worklist priority, flags or queue changed, with the policy;
- ``report.confirmed``: a radiologist confirmed the report draft (category and density decided);
- ``drift.alert``: a score distribution drifted (no patient data).

Each event's key derives from what it reports, so a re-run owes nothing new (the receiver also
gets it in ``X-Breastgate-Delivery`` to de-duplicate retries).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from breastgate.delivery.webhooks import webhook_body, webhook_key
from breastgate.domain.governance import Destination
from breastgate.domain.outputs import HttpEndpoint, SenderKind
from breastgate.integrations.sectra.refs import LaunchRefs
from breastgate.pipeline.publish.base import ResultFiles, StudyStep, owe
from breastgate.pipeline.summary import shown_findings, summary_version
from breastgate.worklist.policy import queue_for

LOGGER = logging.getLogger(__name__)


def enqueue_event(
    session: Session,
    files: ResultFiles,
    destinations: Sequence[HttpEndpoint],
    event: str,
    data: Mapping[str, Any],
    *,
    study_uid: str,
    key_parts: Sequence[object],
    now: datetime | None = None,
    subfolder: str | None = None,
) -> str | None:
    """Write the event (under the study's results folder, or ``subfolder`` for an event about no
    study) and owe it to every webhook destination; returns its key (None when none)."""
    if not destinations:
        return None
    key = webhook_key(event, *key_parts)
    body = webhook_body(event, data, occurred_at=now or datetime.now(UTC))
    # The sender reads the delivery id from the file name.
    path = files.file(subfolder or study_uid, f"{key}.json", body)
    owe(session, kind=SenderKind.WEBHOOK, key=key, study_uid=study_uid, path=path, destinations=destinations)
    LOGGER.info("study %s: webhook %s owed to %d destination(s)", study_uid, event, len(destinations))
    return key


class WebhookPublisher:
    """``study.results`` and, when the worklist entry changed, ``worklist.changed``."""

    destination = Destination.WEBHOOK

    def __init__(
        self, files: ResultFiles, destinations: Sequence[HttpEndpoint], launch: LaunchRefs | None = None
    ) -> None:
        self.files, self.destinations, self.launch = files, tuple(destinations), launch

    def publish(self, step: StudyStep) -> None:
        gated = step.results.at(self.destination)
        summary = step.summary(gated, render=False)
        if summary is None or not self.destinations:
            return
        results, decision, uid = gated.results, summary.triage, step.uid
        triage = {
            "priority": decision.priority.value,
            "score": decision.score,
            "flags": list(decision.flags),
            "policy": decision.policy,
        }
        density = next((r.density for r in results if r.density is not None), None)
        kinds: dict[str, int] = {}
        for finding in shown_findings(results):
            kinds[finding.kind.value] = kinds.get(finding.kind.value, 0) + 1
        assessment = summary.assessment
        data: dict[str, Any] = {
            "study_instance_uid": uid,
            "accession_number": step.study.accession_number,
            "generation": step.generation,
            "triage": triage,
            "assessment": None
            if assessment is None
            else {"birads": assessment.birads, "suspicion_score": assessment.suspicion_score},
            "density": density.category if density is not None else None,
            "findings": kinds,
            "algorithms": [
                {"id": r.algorithm_id, "version": r.algorithm_version, "status": r.status.value}
                for r in results
            ],
        }
        if self.launch is not None:
            data["launch"] = self.launch.document(uid, [f.id for f in shown_findings(results)])
        parts = (uid, step.generation, summary_version(results))
        self._event(step, "study.results", data, parts)
        if step.worklist_changed:
            change = {"study_instance_uid": uid, "accession_number": step.study.accession_number, **triage}
            change["queue"] = queue_for(decision)
            self._event(step, "worklist.changed", change, (*parts, decision.priority.value, *decision.flags))

    def _event(self, step: StudyStep, event: str, data: Mapping[str, Any], parts: Sequence[object]) -> None:
        enqueue_event(
            step.session, self.files, self.destinations, event, data, study_uid=step.uid, key_parts=parts
        )
