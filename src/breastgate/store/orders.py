"""Orders, patients and HL7 message log: repository functions over a SQLAlchemy ``Session``.

Matching an order to its study (DESIGN §4: the accession number links them), whichever arrives
first: the Study Instance UID the RIS assigned (ZDS-1/IPC-3), else the accession number, else
(only when one side has no accession number) the same patient, date and modality when exactly one
study and one order fit. The caller owns the transaction; these functions never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from breastgate.domain.orders import ENDING_CONTROLS, Order, PatientDemographics, PatientMerge
from breastgate.store.tables import Hl7Message as Hl7MessageRow
from breastgate.store.tables import ImagingOrder, Instance, Patient, Study

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderOutcome:
    """What :func:`record_order` did with one order."""

    order_id: int
    created: bool
    active: bool
    study_instance_uid: str | None
    match_method: str | None


@dataclass(frozen=True)
class MergeOutcome:
    """What :func:`merge_patients` moved."""

    studies: int
    orders: int
    linked: int


@dataclass(frozen=True)
class OrderInfo:
    """An order as the API and the worklist read it."""

    id: int
    accession_number: str | None
    placer_order_number: str | None
    patient_id: str
    control: str
    status: str | None
    active: bool
    procedure_code: str | None
    procedure_text: str | None
    modality: str | None
    scheduled: str | None
    priority: str | None
    study_instance_uid: str | None
    match_method: str | None


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def upsert_patient(session: Session, patient: PatientDemographics, *, now: datetime | None = None) -> None:
    """Create or update the patient; empty fields never erase known ones."""
    row = session.get(Patient, patient.patient_id)
    if row is None:
        row = Patient(patient_id=patient.patient_id)
        session.add(row)
    row.issuer = patient.issuer or row.issuer
    row.name = patient.name or row.name
    row.birth_date = patient.birth_date or row.birth_date
    row.sex = patient.sex or row.sex
    row.updated_at = _now(now)


def record_order(session: Session, order: Order, *, now: datetime | None = None) -> OrderOutcome:
    """Create or update the order named by ``order.key`` and match it to its study when it can."""
    key = order.key
    if not key:  # ingest.hl7 refuses such orders; keep the repository safe on its own
        raise ValueError("an order needs a placer order number or an accession number")
    now = _now(now)
    upsert_patient(session, order.patient, now=now)
    row = session.scalars(select(ImagingOrder).where(ImagingOrder.order_key == key)).first()
    created = row is None
    if row is None:
        row = ImagingOrder(
            order_key=key, patient_id=order.patient.patient_id, control=order.control, created_at=now
        )
        session.add(row)
    row.patient_id = order.patient.patient_id
    row.control = order.control
    row.active = order.control not in ENDING_CONTROLS and order.status not in ("CA", "DC")
    for name in (
        "accession_number",
        "placer_order_number",
        "filler_order_number",
        "requested_procedure_id",
        "procedure_code",
        "procedure_text",
        "modality",
        "scheduled",
        "scheduled_date",
        "priority",
        "status",
        "reason",
    ):
        value = getattr(order, name)
        if value:
            setattr(row, name, value)
    if order.study_instance_uid:
        row.requested_study_uid = order.study_instance_uid
    row.updated_at = now
    session.flush()
    if row.active and row.study_instance_uid is None:
        _match_order(session, row, now)
    return OrderOutcome(row.id, created, row.active, row.study_instance_uid, row.match_method)


def _study_modalities(session: Session, study_uid: str) -> set[str]:
    rows = session.scalars(
        select(Instance.modality).where(Instance.study_instance_uid == study_uid).distinct()
    ).all()
    return {m for m in rows if m}


def _link(row: ImagingOrder, study_uid: str, method: str, now: datetime) -> None:
    row.study_instance_uid = study_uid
    row.match_method = method
    row.matched_at = now
    LOGGER.info("order %d matched to study %s by %s", row.id, study_uid, method)


def _order_linked_to(study_uid: str):  # type: ignore[no-untyped-def]
    return exists().where(ImagingOrder.study_instance_uid == study_uid)


def _match_order(session: Session, row: ImagingOrder, now: datetime) -> None:
    if row.requested_study_uid and session.get(Study, row.requested_study_uid) is not None:
        _link(row, row.requested_study_uid, "study_uid", now)
        return
    if row.accession_number:
        studies = session.scalars(
            select(Study.study_instance_uid).where(Study.accession_number == row.accession_number)
        ).all()
        if len(studies) == 1:
            _link(row, studies[0], "accession", now)
            return
        if len(studies) > 1:
            LOGGER.warning(
                "order %d: %d studies share its accession number; not matched", row.id, len(studies)
            )
            return
    if not (row.scheduled_date and row.modality):
        return
    candidates = session.scalars(
        select(Study).where(Study.patient_id == row.patient_id, Study.study_date == row.scheduled_date)
    ).all()
    fits = [
        s.study_instance_uid
        for s in candidates
        if (not row.accession_number or not s.accession_number)
        and row.modality in _study_modalities(session, s.study_instance_uid)
        and not session.scalar(select(_order_linked_to(s.study_instance_uid)))
    ]
    if len(fits) == 1:
        _link(row, fits[0], "patient_date_modality", now)


def link_study(session: Session, study_uid: str, *, now: datetime | None = None) -> list[int]:
    """Match the active, unmatched orders that name this study; returns the order ids matched."""
    now = _now(now)
    study = session.get(Study, study_uid)
    if study is None:
        return []
    open_orders = select(ImagingOrder).where(
        ImagingOrder.active.is_(True), ImagingOrder.study_instance_uid.is_(None)
    )
    rows = list(session.scalars(open_orders.where(ImagingOrder.requested_study_uid == study_uid)).all())
    method = "study_uid"
    if not rows and study.accession_number:
        rows = list(
            session.scalars(open_orders.where(ImagingOrder.accession_number == study.accession_number))
        )
        method = "accession"
    if not rows and study.patient_id and study.study_date:
        modalities = _study_modalities(session, study_uid)
        fits = [
            r
            for r in session.scalars(
                open_orders.where(
                    ImagingOrder.patient_id == study.patient_id,
                    ImagingOrder.scheduled_date == study.study_date,
                )
            )
            if r.modality in modalities and (not r.accession_number or not study.accession_number)
        ]
        if len(fits) == 1:
            rows, method = fits, "patient_date_modality"
    for row in rows:
        _link(row, study_uid, method, now)
    return [r.id for r in rows]


def merge_patients(session: Session, merge: PatientMerge, *, now: datetime | None = None) -> MergeOutcome:
    """ADT^A40: move the prior id's studies and orders to the surviving patient, then re-match."""
    now = _now(now)
    survivor, prior = merge.patient.patient_id, merge.prior_patient_id
    upsert_patient(session, merge.patient, now=now)
    old = session.get(Patient, prior)
    if old is None:
        old = Patient(patient_id=prior)
        session.add(old)
    old.merged_into = survivor
    old.updated_at = now
    session.execute(update(Patient).where(Patient.merged_into == prior).values(merged_into=survivor))
    studies = session.execute(update(Study).where(Study.patient_id == prior).values(patient_id=survivor))
    orders = session.execute(
        update(ImagingOrder)
        .where(ImagingOrder.patient_id == prior)
        .values(patient_id=survivor, updated_at=now)
    )
    session.flush()
    linked = 0
    for row in session.scalars(
        select(ImagingOrder).where(
            ImagingOrder.patient_id == survivor,
            ImagingOrder.active.is_(True),
            ImagingOrder.study_instance_uid.is_(None),
        )
    ).all():
        _match_order(session, row, now)
        linked += row.study_instance_uid is not None
    return MergeOutcome(studies.rowcount or 0, orders.rowcount or 0, linked)  # type: ignore[attr-defined]


def _info(row: ImagingOrder) -> OrderInfo:
    return OrderInfo(
        id=row.id,
        accession_number=row.accession_number,
        placer_order_number=row.placer_order_number,
        patient_id=row.patient_id,
        control=row.control,
        status=row.status,
        active=row.active,
        procedure_code=row.procedure_code,
        procedure_text=row.procedure_text,
        modality=row.modality,
        scheduled=row.scheduled,
        priority=row.priority,
        study_instance_uid=row.study_instance_uid,
        match_method=row.match_method,
    )


def orders_for_study(session: Session, study_uid: str) -> list[OrderInfo]:
    """The orders matched to a study, oldest first."""
    rows = session.scalars(
        select(ImagingOrder).where(ImagingOrder.study_instance_uid == study_uid).order_by(ImagingOrder.id)
    ).all()
    return [_info(r) for r in rows]


def find_orders(
    session: Session, *, accession_number: str | None = None, patient_id: str | None = None, limit: int = 100
) -> list[OrderInfo]:
    """Orders by accession number and/or patient id, newest first."""
    query = select(ImagingOrder).order_by(ImagingOrder.id.desc()).limit(limit)
    if accession_number:
        query = query.where(ImagingOrder.accession_number == accession_number)
    if patient_id:
        query = query.where(ImagingOrder.patient_id == patient_id)
    return [_info(r) for r in session.scalars(query).all()]


def get_patient(session: Session, patient_id: str) -> Patient | None:
    """The patient row (``merged_into`` tells whether the id was retired by a merge)."""
    return session.get(Patient, patient_id)


@dataclass(frozen=True)
class MessageLogEntry:
    """One received HL7 message and its answer (what :func:`log_message` writes)."""

    control_id: str | None
    sending_application: str | None
    sending_facility: str | None
    message_type: str | None
    version: str | None
    ack_code: str
    error_code: str | None
    error_text: str | None
    text: str


def log_message(session: Session, entry: MessageLogEntry, *, now: datetime | None = None) -> int:
    """Keep the received message and how it was answered."""
    row = Hl7MessageRow(
        received_at=_now(now),
        control_id=(entry.control_id or None) and entry.control_id[:199],
        sending_application=(entry.sending_application or None) and entry.sending_application[:227],
        sending_facility=(entry.sending_facility or None) and entry.sending_facility[:227],
        message_type=(entry.message_type or None) and entry.message_type[:16],
        version=(entry.version or None) and entry.version[:16],
        ack_code=entry.ack_code,
        error_code=entry.error_code,
        error_text=entry.error_text,
        text=entry.text,
    )
    session.add(row)
    session.flush()
    return row.id


def demographics_for_study(session: Session, study_uid: str) -> PatientDemographics | None:
    """The patient of a study: the RIS's demographics when known, else what the images carry."""
    study = session.get(Study, study_uid)
    if study is None or not study.patient_id:
        return None
    row = session.get(Patient, study.patient_id)
    if row is not None and row.merged_into:  # a retired id: follow the merge
        row = session.get(Patient, row.merged_into) or row
    if row is None:
        return PatientDemographics(patient_id=study.patient_id, name=study.patient_name)
    return PatientDemographics(
        patient_id=row.patient_id,
        issuer=row.issuer,
        name=row.name or study.patient_name,
        birth_date=row.birth_date,
        sex=row.sex,
    )
