"""HL7 out of a finished study: the ORU^R01 with its results and, when the AI priority differs from
the order's, the order priority update; both written and owed through the outbox in the job's
transaction (DESIGN §5), so a RIS that is down receives them later and a re-run owes nothing new.

Message identities derive from the study, its generation and the results summarised
(``summary_version``): the same results give the same message id (outbox key and MSH-10), new
results (a re-opened study, a new algorithm version) a new message.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from breastgate.domain.model import AlgorithmResult, StudyRef
from breastgate.domain.orders import PatientDemographics
from breastgate.hl7.oru import (
    MessageParties,
    StudyOrderRef,
    build_oru,
    build_priority_update,
)
from breastgate.hl7.profile import DEFAULT_PROFILE, Hl7Profile
from breastgate.pipeline.summary import StudySummary, shown_findings, summary_version
from breastgate.store import outbox
from breastgate.store.blobs import BlobStore
from breastgate.store.orders import demographics_for_study, orders_for_study

LOGGER = logging.getLogger(__name__)

KIND = "hl7"


@dataclass(frozen=True)
class Hl7Outbound:
    """Where results and priority updates go (``mllp://HOST:PORT`` each) and how they are written."""

    results_to: Sequence[str] = ()
    priority_to: Sequence[str] = ()
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


def _message_id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()
    return f"{prefix}-{digest[:40]}"


def enqueue_hl7(
    session: Session,
    config: Hl7Outbound,
    blobs: BlobStore,
    folder: Path,
    study: StudyRef,
    results: Sequence[AlgorithmResult],
    summary: StudySummary,
    generation: int,
    *,
    report_lines: Sequence[str] = (),
    priority_update: bool = True,
    held: bool = False,
    links: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """Write the study's HL7 messages under ``folder`` and owe them; returns the outbox keys owed.

    ``priority_update``: whether the AI may raise the order's priority (its results are
    integrated at the worklist); ``held``: the ORU waits for a radiologist's approval."""
    if not (config.results_to or config.priority_to):
        return []
    uid = study.study_instance_uid
    patient = demographics_for_study(session, uid) or PatientDemographics(patient_id=study.patient_id or "")
    order = next(iter(orders_for_study(session, uid)), None)
    ref = StudyOrderRef(
        study_instance_uid=uid,
        patient=patient,
        accession_number=(order.accession_number if order else None) or study.accession_number,
        placer_order_number=order.placer_order_number if order else None,
        filler_order_number=order.filler_order_number if order else None,
        requested_procedure_id=order.requested_procedure_id if order else None,
        procedure_code=order.procedure_code if order else None,
        procedure_text=order.procedure_text if order else None,
        modality=(order.modality if order and order.modality else "MG"),
    )
    version = summary_version(results)
    owed: list[str] = []
    if config.results_to:
        key = _message_id("oru", uid, generation, version)
        text = build_oru(
            ref,
            control_id=key[4:24],
            triage=summary.triage,
            assessment=summary.assessment,
            results=results,
            findings=shown_findings(results),
            report_lines=report_lines,
            parties=config.parties,
            profile=config.profile,
            links=links,
        )
        owed += _owe(session, blobs, folder / f"{key}.hl7", uid, key, text, config.results_to, held)
    code = config.profile.code(summary.triage.priority)
    if (
        priority_update
        and config.priority_to
        and order is not None
        and order.active
        and config.profile.raises(summary.triage.priority, order.priority)
    ):
        key = _message_id("prio", uid, generation, version, code)
        text = build_priority_update(
            ref,
            control_id=key[5:25],
            priority=summary.triage.priority,
            style=config.priority_style or None,
            parties=config.parties,
            profile=config.profile,
        )
        owed += _owe(session, blobs, folder / f"{key}.hl7", uid, key, text, config.priority_to)
    return owed


def _owe(
    session: Session,
    blobs: BlobStore,
    path: Path,
    study_uid: str,
    key: str,
    text: str,
    destinations: Sequence[str],
    held: bool = False,
) -> list[str]:
    blobs.write_bytes(path, text.encode("utf-8"))
    for destination in destinations:
        outbox.enqueue(
            session,
            destination=destination,
            kind=KIND,
            sop_instance_uid=key,
            study_instance_uid=study_uid,
            path=str(path),
            held=held,
        )
    LOGGER.info("study %s: HL7 %s owed to %d destination(s)", study_uid, key.split("-")[0], len(destinations))
    return [key]
