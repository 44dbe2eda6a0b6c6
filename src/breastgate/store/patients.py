"""Who the patient of a study is: the RIS's demographics when known (following merges), else what
the images carry. Read one study at a time, or a page of studies in three queries."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from breastgate.domain.orders import PatientDemographics
from breastgate.store.tables import Patient, Study

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
