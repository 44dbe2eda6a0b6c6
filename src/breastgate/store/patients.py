"""Who the patient of a study is: the RIS's demographics when known (following merges), else what
the images carry. Read one study at a time, or a page of studies in three queries."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from breastgate.domain.orders import PatientDemographics
from breastgate.store.tables import Instance, Patient, Study

#: IN-list size per query (SQLite allows 32 766 bound parameters; PostgreSQL more).
_CHUNK = 500


def _demographics(study: Study, row: Patient | None) -> PatientDemographics:
    if row is None:
        return PatientDemographics(patient_id=study.patient_id or "", name=study.patient_name)
    return PatientDemographics(
        patient_id=row.patient_id,
        issuer=row.issuer,
        name=row.name or study.patient_name,
        birth_date=row.birth_date,
        sex=row.sex,
    )


def demographics_for_study(session: Session, study_uid: str) -> PatientDemographics | None:
    """The patient of a study: the RIS's demographics when known, else what the images carry."""
    study = session.get(Study, study_uid)
    if study is None or not study.patient_id:
        return None
    row = session.get(Patient, study.patient_id)
    if row is not None and row.merged_into:  # a retired id: follow the merge
        row = session.get(Patient, row.merged_into) or row
    return _demographics(study, row)


def demographics_for_studies(session: Session, study_uids: Collection[str]) -> dict[str, PatientDemographics]:
    """:func:`demographics_for_study` of many studies in three queries (studies, patients, the
    patients merged into); studies without a patient id are absent."""
    uids = sorted(set(study_uids))
    studies = [
        s
        for start in range(0, len(uids), _CHUNK)
        for s in session.scalars(
            select(Study).where(Study.study_instance_uid.in_(uids[start : start + _CHUNK]))
        )
        if s.patient_id
    ]
    patients = _patients(session, {str(s.patient_id) for s in studies})
    survivors = _patients(session, {str(p.merged_into) for p in patients.values() if p.merged_into})
    out = {}
    for study in studies:
        row = patients.get(str(study.patient_id))
        if row is not None and row.merged_into:  # a retired id: follow the merge
            row = survivors.get(str(row.merged_into)) or row
        out[study.study_instance_uid] = _demographics(study, row)
    return out


def _patients(session: Session, ids: Collection[str]) -> dict[str, Patient]:
    wanted = sorted(ids)
    return {
        p.patient_id: p
        for start in range(0, len(wanted), _CHUNK)
        for p in session.scalars(
            select(Patient).where(Patient.patient_id.in_(wanted[start : start + _CHUNK]))
        )
    }


#: Merges followed at most this deep (merges collapse chains, so one hop is the rule).
_MERGE_DEPTH = 8


@dataclass(frozen=True)
class PatientStudy:
    """One study of a patient: its date, the Issuer of Patient ID it carries, the id it was
    received under (a retired one when merged since) and the modalities of its instances."""

    study_instance_uid: str
    study_date: str | None
    issuer_of_patient_id: str | None
    patient_id: str
    modalities: frozenset[str]


def studies_of_patient(session: Session, patient_id: str) -> tuple[str, list[PatientStudy]] | None:
    """The surviving id of ``patient_id`` (following merges) and every study received under it or
    under an id merged into it, oldest first; None when neither the RIS nor any study knows the id."""
    survivor = patient_id
    for _ in range(_MERGE_DEPTH):
        row = session.get(Patient, survivor)
        if row is None or not row.merged_into:
            break
        survivor = row.merged_into
    ids, frontier = {survivor}, {survivor}
    for _ in range(_MERGE_DEPTH):
        frontier = set(session.scalars(select(Patient.patient_id).where(Patient.merged_into.in_(frontier))))
        frontier -= ids
        if not frontier:
            break
        ids |= frontier
    rows = list(session.scalars(select(Study).where(Study.patient_id.in_(sorted(ids)))))
    if not rows and session.get(Patient, survivor) is None:
        return None
    uids = [r.study_instance_uid for r in rows]
    modalities: dict[str, set[str]] = {uid: set() for uid in uids}
    for start in range(0, len(uids), _CHUNK):
        query = (
            select(Instance.study_instance_uid, Instance.modality)
            .where(Instance.study_instance_uid.in_(uids[start : start + _CHUNK]))
            .distinct()
        )
        for uid, modality in session.execute(query):
            if modality:
                modalities[uid].add(modality)
    studies = [
        PatientStudy(
            r.study_instance_uid,
            r.study_date,
            r.issuer_of_patient_id,
            str(r.patient_id),
            frozenset(modalities[r.study_instance_uid]),
        )
        for r in rows
    ]
    return survivor, sorted(studies, key=lambda s: (s.study_date or "", s.study_instance_uid))
