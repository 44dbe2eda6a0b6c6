"""HL7 out of a finished study (destination ``hl7``): the ORU^R01 with its results and, when the AI
priority is more urgent than the order's, the order priority update.

Message identities derive from the study, its generation and the results summarised
(``summary_version``): the same results give the same message id (outbox key and MSH-10), new
results (a re-opened study, a new algorithm version) a new message. The priority update is sent
only when the results also reach the worklist (integrated at ``worklist``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from breastgate.domain.governance import Destination
from breastgate.domain.orders import PatientDemographics
from breastgate.domain.outputs import MllpEndpoint, SenderKind
from breastgate.hl7.oru import MessageParties, StudyOrderRef, build_oru, build_priority_update
from breastgate.hl7.oru_final import ConfirmedReport, build_confirmed_oru
from breastgate.hl7.profile import DEFAULT_PROFILE, Hl7Profile
from breastgate.integrations.sectra.refs import LaunchRefs
from breastgate.pipeline.publish.base import ResultFiles, StudyStep, owe
from breastgate.pipeline.summary import StudySummary, shown_findings, summary_version
from breastgate.store.orders import OrderInfo, orders_for_study
from breastgate.store.patients import demographics_for_study

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hl7Outbound:
    """Where results and priority updates go and how they are written."""

    results_to: Sequence[MllpEndpoint] = ()
    priority_to: Sequence[MllpEndpoint] = ()
    #: orm (ORM^O01 XO) | omi (OMI^O23) overrides the profile's update message; empty keeps it.
    priority_style: str = ""
    parties: MessageParties = field(default_factory=MessageParties)
    profile: Hl7Profile = DEFAULT_PROFILE


def raises_priority(ai_code: str, order_code: str | None) -> bool:
    """True when the AI's priority (a table 0027 code) is more urgent than the order's. The AI
    only ever raises a priority: a routine AI result never demotes a STAT, ASAP, pre-operative or
    timing-critical order that the RIS or a clinician set. A site profile ranks its own codes
    (:meth:`Hl7Profile.raises`)."""
    return DEFAULT_PROFILE.rank(ai_code) < DEFAULT_PROFILE.rank(order_code)


def message_id(prefix: str, *parts: object) -> str:
    """A message's outbox key: ``prefix`` and a digest of what it reports."""
    digest = hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()
    return f"{prefix}-{digest[:40]}"


def _order_ref(step: StudyStep, order: OrderInfo | None) -> StudyOrderRef:
    return order_ref(step.session, step.uid, step.study.patient_id, step.study.accession_number, order)


def order_ref(
    session: Session, uid: str, patient_id: str | None, accession_number: str | None, order: OrderInfo | None
) -> StudyOrderRef:
    """Which order and patient a message about study ``uid`` names (the matched order, else the
    study's own identifiers)."""
    patient = demographics_for_study(session, uid) or PatientDemographics(patient_id=patient_id or "")
    return StudyOrderRef(
        study_instance_uid=uid,
        patient=patient,
        accession_number=(order.accession_number if order else None) or accession_number,
        placer_order_number=order.placer_order_number if order else None,
        filler_order_number=order.filler_order_number if order else None,
        requested_procedure_id=order.requested_procedure_id if order else None,
        procedure_code=order.procedure_code if order else None,
        procedure_text=order.procedure_text if order else None,
        modality=(order.modality if order and order.modality else "MG"),
    )


def owe_confirmed_report(
    session: Session,
    files: ResultFiles,
    config: Hl7Outbound,
    uid: str,
    report: ConfirmedReport,
    *,
    patient_id: str | None,
    accession_number: str | None,
) -> str | None:
    """Owe the final ORU of a confirmed report to ``BG_HL7_RESULTS_TO``; its outbox key (None when
    no results destination is set). One message per confirmation (a re-confirmation is another)."""
    if not config.results_to:
        return None
    order = next(iter(orders_for_study(session, uid)), None)
    ref = order_ref(session, uid, patient_id, accession_number, order)
    parts = (uid, report.confirmed_at.isoformat(), report.radiologist, report.birads, report.density)
    key = message_id("final", *parts)
    text = build_confirmed_oru(ref, report, control_id=key[6:26], parties=config.parties)
    path = files.file(uid, f"{key}.hl7", text.encode("utf-8"))
    owe(session, kind=SenderKind.HL7, key=key, study_uid=uid, path=path, destinations=config.results_to)
    LOGGER.info("study %s: final ORU owed to %d destination(s)", uid, len(config.results_to))
    return key


class Hl7Publisher:
    """Writes the study's HL7 messages beside its results and owes them to the RIS."""

    destination = Destination.HL7

    def __init__(self, files: ResultFiles, config: Hl7Outbound, launch: LaunchRefs | None = None) -> None:
        self.files, self.config, self.launch = files, config, launch

    def publish(self, step: StudyStep) -> None:
        config = self.config
        if not (config.results_to or config.priority_to):
            return
        gated = step.results.at(self.destination)
        summary = step.summary(gated, render=False)
        if summary is None:
            return
        order = next(iter(orders_for_study(step.session, step.uid)), None)
        ref = _order_ref(step, order)
        version = summary_version(gated.results)
        if config.results_to:
            key = message_id("oru", step.uid, step.generation, version)
            links = (
                self.launch.pairs(step.uid, [f.id for f in shown_findings(gated.results)])
                if self.launch
                else ()
            )
            text = build_oru(
                ref,
                control_id=key[4:24],
                triage=summary.triage,
                assessment=summary.assessment,
                results=gated.results,
                findings=shown_findings(gated.results),
                report_lines=step.report.text.splitlines() if step.report is not None else (),
                parties=config.parties,
                profile=config.profile,
                links=links,
            )
            self._owe(step, key, text, config.results_to, gated.held)
        if step.worklist_ranked and order is not None and order.active:
            self._priority_update(step, ref, summary, version, order.priority)

    def _priority_update(
        self, step: StudyStep, ref: StudyOrderRef, summary: StudySummary, version: str, current: str | None
    ) -> None:
        config, priority = self.config, summary.triage.priority
        if not config.priority_to or not config.profile.raises(priority, current):
            return
        key = message_id("prio", step.uid, step.generation, version, config.profile.code(priority))
        text = build_priority_update(
            ref,
            control_id=key[5:25],
            priority=priority,
            style=config.priority_style or None,
            parties=config.parties,
            profile=config.profile,
        )
        self._owe(step, key, text, config.priority_to)

    def _owe(
        self, step: StudyStep, key: str, text: str, destinations: Sequence[MllpEndpoint], held: bool = False
    ) -> None:
        path = self.files.file(step.uid, f"{key}.hl7", text.encode("utf-8"))
        owe(step.session, kind=SenderKind.HL7, key=key, study_uid=step.uid, path=path,
            destinations=destinations, held=held)  # fmt: skip
        LOGGER.info(
            "study %s: HL7 %s owed to %d destination(s)", step.uid, key.split("-")[0], len(destinations)
        )
