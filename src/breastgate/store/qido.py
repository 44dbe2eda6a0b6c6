"""QIDO-RS searches over the study and instance index (PS3.18 §10.6, matching per PS3.4 C.2.2.2).

Only attributes the index holds are matched here (Study/Series/SOP Instance UID lists, Patient ID,
Patient's Name with ``*``/``?`` wildcards, Accession Number, Study Date ranges, Modalities in
Study, Modality, SOP Class UID); the web layer says which keys it ignored. Repository functions
over a caller-owned ``Session``, like the rest of ``store/``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from breastgate.domain.audit import AuditKind
from breastgate.store.studies import modalities_in
from breastgate.store.tables import AuditEventRow, Instance, Study

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """Matching keys of one QIDO request (empty: match everything)."""

    study_uids: tuple[str, ...] = ()
    series_uids: tuple[str, ...] = ()
    sop_uids: tuple[str, ...] = ()
    sop_classes: tuple[str, ...] = ()
    patient_id: str | None = None
    patient_name: str | None = None
    accession_number: str | None = None
    study_date: tuple[str | None, str | None] | None = None  # inclusive range, YYYYMMDD
    modalities_in_study: tuple[str, ...] = ()
    modality: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudyRow:
    """One study as QIDO describes it, plus one of its instances to read further attributes from."""

    study_instance_uid: str
    patient_id: str | None
    patient_name: str | None
    accession_number: str | None
    study_date: str | None
    series_count: int
    instance_count: int
    modalities: tuple[str, ...]
    sample_path: str | None


@dataclass(frozen=True)
class SeriesRow:
    study_instance_uid: str
    series_instance_uid: str
    modality: str | None
    instance_count: int
    sample_path: str


@dataclass(frozen=True)
class InstanceRow:
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    modality: str | None
    transfer_syntax_uid: str | None
    number_of_frames: int
    path: str


def like_pattern(value: str) -> str:
    """A DICOM wildcard (``*``, ``?``) as a SQL LIKE pattern (``\\`` escapes)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _study_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.study_uids:
        found.append(Study.study_instance_uid.in_(filters.study_uids))
    if filters.patient_id:
        found.append(Study.patient_id == filters.patient_id)
    if filters.patient_name:
        found.append(func.upper(Study.patient_name).like(like_pattern(filters.patient_name.upper()), "\\"))
    if filters.accession_number:
        found.append(Study.accession_number == filters.accession_number)
    if filters.study_date is not None:
        low, high = filters.study_date
        if low:
            found.append(Study.study_date >= low)
        if high:
            found.append(Study.study_date <= high)
    if filters.modalities_in_study:
        found.append(
            exists().where(
                Instance.study_instance_uid == Study.study_instance_uid,
                Instance.modality.in_(filters.modalities_in_study),
            )
        )
    return found


def _instance_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.series_uids:
        found.append(Instance.series_instance_uid.in_(filters.series_uids))
    if filters.sop_uids:
        found.append(Instance.sop_instance_uid.in_(filters.sop_uids))
    if filters.sop_classes:
        found.append(Instance.sop_class_uid.in_(filters.sop_classes))
    if filters.modality:
        found.append(Instance.modality.in_(filters.modality))
    return found


_S = TypeVar("_S", bound="Select[*tuple[Any, ...]]")


def _joined(statement: _S, filters: Filters) -> _S:
    conditions = _study_conditions(filters)
    if conditions:
        statement = statement.join(Study, Study.study_instance_uid == Instance.study_instance_uid).where(
            and_(*conditions)
        )
    return statement.where(*_instance_conditions(filters))


def search_studies(session: Session, filters: Filters, limit: int, offset: int) -> list[StudyRow]:
    """Studies matching ``filters``, most recent study date first."""
    statement = select(Study).where(*_study_conditions(filters))
    if filters.modality or filters.series_uids or filters.sop_uids or filters.sop_classes:
        statement = statement.where(
            exists().where(
                Instance.study_instance_uid == Study.study_instance_uid, *_instance_conditions(filters)
            )
        )
    rows = session.scalars(
        statement.order_by(Study.study_date.desc(), Study.study_instance_uid).limit(limit).offset(offset)
    ).all()
    uids = [r.study_instance_uid for r in rows]
    counts: dict[str, tuple[int, int, str]] = {}
    modalities = modalities_in(session, uids)
    if uids:
        for uid, series, instances, path in session.execute(
            select(
                Instance.study_instance_uid,
                func.count(func.distinct(Instance.series_instance_uid)),
                func.count(),
                func.min(Instance.path),
            )
            .where(Instance.study_instance_uid.in_(uids))
            .group_by(Instance.study_instance_uid)
        ):
            counts[uid] = (int(series), int(instances), str(path))
    return [
        StudyRow(
            study_instance_uid=r.study_instance_uid,
            patient_id=r.patient_id,
            patient_name=r.patient_name,
            accession_number=r.accession_number,
            study_date=r.study_date,
            series_count=counts.get(r.study_instance_uid, (0, 0, ""))[0],
            instance_count=counts.get(r.study_instance_uid, (0, 0, ""))[1],
            modalities=tuple(sorted(modalities[r.study_instance_uid])),
            sample_path=counts[r.study_instance_uid][2] if r.study_instance_uid in counts else None,
        )
        for r in rows
    ]


def search_series(session: Session, filters: Filters, limit: int, offset: int) -> list[SeriesRow]:
    """Series matching ``filters`` (study keys match the series' study)."""
    statement = select(
        Instance.study_instance_uid,
        Instance.series_instance_uid,
        func.max(Instance.modality),
        func.count(),
        func.min(Instance.path),
    )
    statement = _joined(statement, filters).group_by(
        Instance.study_instance_uid, Instance.series_instance_uid
    )
    rows = session.execute(
        statement.order_by(Instance.study_instance_uid, Instance.series_instance_uid)
        .limit(limit)
        .offset(offset)
    ).all()
    return [SeriesRow(str(a), str(b), c, int(d), str(e)) for a, b, c, d, e in rows]


def search_instances(
    session: Session, filters: Filters, limit: int | None = None, offset: int = 0
) -> list[InstanceRow]:
    """Instances matching ``filters``, in series then arrival order."""
    statement = _joined(select(Instance), filters)
    statement = statement.order_by(
        Instance.study_instance_uid,
        Instance.series_instance_uid,
        Instance.received_at,
        Instance.sop_instance_uid,
    )
    if limit is not None:
        statement = statement.limit(limit)
    rows = session.scalars(statement.offset(offset)).all()
    return [
        InstanceRow(
            study_instance_uid=r.study_instance_uid,
            series_instance_uid=r.series_instance_uid,
            sop_instance_uid=r.sop_instance_uid,
            sop_class_uid=r.sop_class_uid,
            modality=r.modality,
            transfer_syntax_uid=r.transfer_syntax_uid,
            number_of_frames=r.number_of_frames,
            path=r.path,
        )
        for r in rows
    ]


def result_object_versions(session: Session, study_instance_uid: str) -> dict[str, tuple[str, str]]:
    """SOP Instance UID of each object an algorithm produced for the study -> (algorithm id,
    version), from the ``inference`` audit events (the record of which version made what)."""
    found: dict[str, tuple[str, str]] = {}
    rows = session.scalars(
        select(AuditEventRow.data)
        .where(
            AuditEventRow.study_instance_uid == study_instance_uid,
            AuditEventRow.kind == AuditKind.INFERENCE.value,
        )
        .order_by(AuditEventRow.seq)
    )
    for text in rows:
        data = json.loads(text)
        version = (str(data.get("algorithm_id", "")), str(data.get("version", "")))
        for uid in data.get("outputs") or ():
            found[str(uid)] = version
    return found


def stored_objects(
    session: Session, study_uid: str, series_uid: str | None = None, sop_uid: str | None = None
) -> list[tuple[str, str, str, str]]:
    """(study, series, SOP instance UID, path) of the indexed instances of a study, series or one
    instance, in series then arrival order (what WADO-RS retrieves)."""
    statement = select(
        Instance.study_instance_uid, Instance.series_instance_uid, Instance.sop_instance_uid, Instance.path
    ).where(Instance.study_instance_uid == study_uid)
    if series_uid is not None:
        statement = statement.where(Instance.series_instance_uid == series_uid)
    if sop_uid is not None:
        statement = statement.where(Instance.sop_instance_uid == sop_uid)
    rows = session.execute(
        statement.order_by(Instance.series_instance_uid, Instance.received_at, Instance.sop_instance_uid)
    )
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]
