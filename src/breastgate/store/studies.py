"""Study and instance index: repository functions over a SQLAlchemy ``Session``.

The caller owns the transaction (``Database.session()``); these functions never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from breastgate.domain.model import (
    SCREENING_VIEWS,
    InstanceRef,
    PresentationIntent,
    StudyRef,
    StudyState,
)
from breastgate.store.tables import Instance, Study

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstanceInfo:
    """What ingest indexes about one stored instance (header fields plus where it lives)."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    path: str
    modality: str | None = None
    laterality: str | None = None
    view: str | None = None
    presentation_intent: str | None = None
    transfer_syntax_uid: str | None = None
    number_of_frames: int = 1
    size_bytes: int = 0
    calling_ae: str | None = None
    patient_id: str | None = None
    patient_name: str | None = None
    accession_number: str | None = None
    study_date: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    patient_age: int | None = None
    issuer_of_patient_id: str | None = None


@dataclass(frozen=True)
class RecordOutcome:
    """What :func:`record_instance` did."""

    duplicate: bool
    study_created: bool
    reopened: bool
    generation: int
    instance_count: int


@dataclass(frozen=True)
class StudySummary:
    """One row of :func:`list_studies` (no patient name)."""

    study_instance_uid: str
    state: str
    generation: int
    instance_count: int
    series_count: int
    modalities: tuple[str, ...]
    accession_number: str | None
    study_date: str | None
    first_received_at: datetime
    last_received_at: datetime
    stable_at: datetime | None


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored timestamp is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value else None


def instance_exists(session: Session, sop_instance_uid: str) -> bool:
    """True when the SOP Instance UID is already indexed."""
    return session.get(Instance, sop_instance_uid) is not None


def record_instance(session: Session, info: InstanceInfo, *, now: datetime | None = None) -> RecordOutcome:
    """Index one stored instance and upsert its study.

    Idempotent: an already indexed SOP Instance UID changes nothing (``duplicate=True``).
    A new instance for a ``stable`` study re-opens it (state ``receiving``, generation + 1).
    """
    now = now or datetime.now(UTC)
    study = session.get(Study, info.study_instance_uid, with_for_update=True)
    if session.get(Instance, info.sop_instance_uid) is not None:
        generation = study.generation if study is not None else 1
        count = study.instance_count if study is not None else 0
        return RecordOutcome(True, False, False, generation, count)
    created = reopened = False
    if study is None:
        created = True
        study = Study(
            study_instance_uid=info.study_instance_uid,
            state=StudyState.RECEIVING.value,
            generation=1,
            instance_count=0,
            first_received_at=now,
        )
        session.add(study)
        session.flush()  # the study row must exist before the instance row refers to it
    elif study.state == StudyState.STABLE.value:
        reopened = True
        study.state = StudyState.RECEIVING.value
        study.generation += 1
        study.stable_at = None
    study.patient_id = _clip(info.patient_id, 64) or study.patient_id
    study.patient_name = _clip(info.patient_name, 324) or study.patient_name
    study.accession_number = _clip(info.accession_number, 16) or study.accession_number
    study.study_date = _clip(info.study_date, 8) or study.study_date
    if info.patient_age is not None:
        study.patient_age = info.patient_age
    study.issuer_of_patient_id = _clip(info.issuer_of_patient_id, 64) or study.issuer_of_patient_id
    study.last_received_at = now
    study.instance_count = (study.instance_count or 0) + 1
    session.add(
        Instance(
            sop_instance_uid=info.sop_instance_uid,
            study_instance_uid=info.study_instance_uid,
            series_instance_uid=info.series_instance_uid,
            sop_class_uid=info.sop_class_uid,
            modality=_clip(info.modality, 16),
            laterality=_clip(info.laterality, 1),
            view=_clip(info.view, 16),
            presentation_intent=_clip(info.presentation_intent, 16),
            transfer_syntax_uid=_clip(info.transfer_syntax_uid, 64),
            number_of_frames=max(1, info.number_of_frames),
            path=info.path,
            size_bytes=info.size_bytes,
            calling_ae=_clip(info.calling_ae, 16),
            manufacturer=_clip(info.manufacturer, 64),
            model=_clip(info.model, 64),
            received_at=now,
        )
    )
    session.flush()
    return RecordOutcome(False, created, reopened, study.generation, study.instance_count)


def _instance_ref(row: Instance) -> InstanceRef:
    return InstanceRef(
        study_instance_uid=row.study_instance_uid,
        series_instance_uid=row.series_instance_uid,
        sop_instance_uid=row.sop_instance_uid,
        sop_class_uid=row.sop_class_uid,
        modality=row.modality or "",
        path=row.path,
        laterality=row.laterality,
        view=row.view,
        presentation_intent=row.presentation_intent,
        number_of_frames=row.number_of_frames,
    )


def get_study_ref(session: Session, study_instance_uid: str) -> StudyRef | None:
    """The study and its instances as domain types, or None when unknown."""
    study = session.get(Study, study_instance_uid)
    if study is None:
        return None
    rows = session.scalars(
        select(Instance)
        .where(Instance.study_instance_uid == study_instance_uid)
        .order_by(Instance.series_instance_uid, Instance.received_at, Instance.sop_instance_uid)
    ).all()
    return StudyRef(
        study_instance_uid=study.study_instance_uid,
        instances=tuple(_instance_ref(r) for r in rows),
        patient_id=study.patient_id,
        accession_number=study.accession_number,
        generation=study.generation,
        study_date=study.study_date,
    )


def modalities_in(session: Session, uids: list[str]) -> dict[str, set[str]]:
    """The modalities of each study's instances (ModalitiesInStudy), in one query."""
    modalities: dict[str, set[str]] = {u: set() for u in uids}
    if uids:
        for uid, modality in session.execute(
            select(Instance.study_instance_uid, Instance.modality)
            .where(Instance.study_instance_uid.in_(uids))
            .distinct()
        ):
            if modality:
                modalities[uid].add(modality)
    return modalities


def list_studies(session: Session, limit: int = 50, offset: int = 0) -> list[StudySummary]:
    """Studies, most recently received first."""
    studies = session.scalars(
        select(Study)
        .order_by(Study.last_received_at.desc(), Study.study_instance_uid)
        .limit(limit)
        .offset(offset)
    ).all()
    uids = [s.study_instance_uid for s in studies]
    modalities = modalities_in(session, uids)
    series: dict[str, int] = {}
    if uids:
        for uid, count in session.execute(
            select(Instance.study_instance_uid, func.count(func.distinct(Instance.series_instance_uid)))
            .where(Instance.study_instance_uid.in_(uids))
            .group_by(Instance.study_instance_uid)
        ):
            series[uid] = int(count)
    return [
        StudySummary(
            study_instance_uid=s.study_instance_uid,
            state=s.state,
            generation=s.generation,
            instance_count=s.instance_count,
            series_count=series.get(s.study_instance_uid, 0),
            modalities=tuple(sorted(modalities[s.study_instance_uid])),
            accession_number=s.accession_number,
            study_date=s.study_date,
            first_received_at=_utc(s.first_received_at),
            last_received_at=_utc(s.last_received_at),
            stable_at=_utc(s.stable_at) if s.stable_at else None,
        )
        for s in studies
    ]


def studies_ready(session: Session, now: datetime, stable_seconds: float) -> list[str]:
    """UIDs of ``receiving`` studies ready to become stable.

    Ready means: the four screening views (R CC, L CC, R MLO, L MLO; PS3.16 CID 4014) are all
    in as For Presentation MG images, or nothing arrived for ``stable_seconds``.
    """
    cutoff = now - timedelta(seconds=stable_seconds)
    receiving = Study.state == StudyState.RECEIVING.value
    quiet = set(
        session.scalars(select(Study.study_instance_uid).where(receiving, Study.last_received_at <= cutoff))
    )
    views = {f"{lat}{view}" for lat, view in SCREENING_VIEWS}
    view_key = Instance.laterality + Instance.view
    complete = set(
        session.scalars(
            select(Instance.study_instance_uid)
            .join(Study, Study.study_instance_uid == Instance.study_instance_uid)
            .where(
                receiving,
                Instance.modality == "MG",
                or_(
                    Instance.presentation_intent.is_(None),
                    Instance.presentation_intent != PresentationIntent.FOR_PROCESSING.value,
                ),
                view_key.in_(views),
            )
            .group_by(Instance.study_instance_uid)
            .having(func.count(func.distinct(view_key)) == len(views))
        )
    )
    return sorted(quiet | complete)


def mark_stable(session: Session, study_instance_uid: str, *, now: datetime | None = None) -> bool:
    """Set a study ``stable``; returns False when it is unknown."""
    study = session.get(Study, study_instance_uid, with_for_update=True)
    if study is None:
        return False
    study.state = StudyState.STABLE.value
    study.stable_at = now or datetime.now(UTC)
    return True


def first_received_at(session: Session, study_instance_uid: str) -> datetime | None:
    """When the study's first instance arrived (the worklist's age)."""
    value = session.scalar(
        select(Study.first_received_at).where(Study.study_instance_uid == study_instance_uid)
    )
    return _utc(value) if value is not None else None


def get_issuer(session: Session, study_instance_uid: str) -> str | None:
    """Issuer of Patient ID (0010,0021) of the study's patient, as the images carry it."""
    return session.scalar(
        select(Study.issuer_of_patient_id).where(Study.study_instance_uid == study_instance_uid)
    )


def get_study_date(session: Session, study_instance_uid: str) -> str | None:
    """Study Date (YYYYMMDD) as the images carry it."""
    return session.scalar(select(Study.study_date).where(Study.study_instance_uid == study_instance_uid))


def accession_numbers(session: Session, study_instance_uids: Sequence[str]) -> dict[str, str | None]:
    """Accession number of each known study of ``study_instance_uids`` (None when it has none)."""
    found: dict[str, str | None] = {}
    for start in range(0, len(study_instance_uids), 500):  # bounded IN lists
        chunk = list(study_instance_uids[start : start + 500])
        rows = session.execute(
            select(Study.study_instance_uid, Study.accession_number).where(
                Study.study_instance_uid.in_(chunk)
            )
        )
        found.update({uid: accession for uid, accession in rows})
    return found


def study_for_accession(session: Session, accession_number: str) -> str | None:
    """Study Instance UID of the study carrying ``accession_number`` (the most recently received
    when several do), or None."""
    return session.scalar(
        select(Study.study_instance_uid)
        .where(Study.accession_number == accession_number)
        .order_by(Study.last_received_at.desc(), Study.study_instance_uid)
        .limit(1)
    )
