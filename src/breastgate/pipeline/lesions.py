"""A woman's lesion table (issue 19): her studies' gated findings placed in one breast frame and
linked across modalities and time (:mod:`breastgate.algorithms.correlation`).

Only what ``GET /api/studies/{uid}/results`` shows enters the table: each study's results pass the
same governance gate (:class:`~breastgate.governance.gate.StudyResults` at ``api``; with
``include_silent`` every stored result, as the route does for the roles that may ask), are built
into the same results document (:func:`~breastgate.results.json.build_results`), and only findings
``shown`` there (at or above their algorithm's operating point) are placed.

Whose studies: those received under the patient id or under an id an HL7 merge retired into it.
The same id under two Issuers of Patient ID names two women: then each study is linked only
with studies of its own issuer, and a study without an issuer with none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from breastgate.algorithms.correlation import (
    Evidence,
    LesionTable,
    PlacedFinding,
    link,
    modality_of,
    place,
    why_unplaced,
)
from breastgate.domain.governance import Destination, Mode
from breastgate.governance.gate import StudyResults
from breastgate.results.json import build_results
from breastgate.store import patients
from breastgate.store.patients import PatientStudy
from breastgate.store.tables import Study

LOGGER = logging.getLogger(__name__)

SCHEMA = "breastgate.lesions/1"


@dataclass(frozen=True)
class PatientLesions:
    """The linked table of one woman (her surviving patient id), her studies, each placed finding's
    row as the results document gave it (by finding key), the findings that could not be placed
    (each with its reason) and the algorithm versions whose results were read (by study)."""

    patient_id: str
    studies: tuple[PatientStudy, ...]
    table: LesionTable
    rows: Mapping[tuple[str, str, str], dict[str, Any]]
    unplaced: tuple[dict[str, Any], ...]
    algorithms: Mapping[str, tuple[str, ...]]


def _patient_keys(patient_id: str, studies: Sequence[PatientStudy]) -> dict[str, str]:
    """Study → the key its findings are linked under ("" = never linked): one woman, unless the
    same id arrives under several issuers."""
    issuers: dict[str, set[str]] = {}
    for s in studies:
        if s.issuer_of_patient_id:
            issuers.setdefault(s.patient_id, set()).add(s.issuer_of_patient_id)
    keys = {}
    for s in studies:
        ambiguous = len(issuers.get(s.patient_id, ())) > 1
        if not ambiguous:
            keys[s.study_instance_uid] = patient_id
        elif s.issuer_of_patient_id:
            keys[s.study_instance_uid] = f"{patient_id}|{s.issuer_of_patient_id}"
        else:
            keys[s.study_instance_uid] = ""
    return keys


def _shown_findings(
    session: Session, uid: str, default_mode: Mode, include_silent: bool
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The study's findings as its results document shows them, and the versions read."""
    study = StudyResults.load(session, uid, default_mode)
    results = study.stored if include_silent else study.at(Destination.API).results
    document = build_results(uid, results)
    versions = tuple(f"{r.algorithm_id}@{r.algorithm_version}" for r in results)
    return [f for f in document["findings"] if f.get("shown")], versions


def _row(study: PatientStudy, modality: str, finding: Mapping[str, Any]) -> dict[str, Any]:
    location = finding.get("location") or {}
    return {
        "study_instance_uid": study.study_instance_uid,
        "study_date": study.study_date,
        "modality": modality,
        "finding_id": str(finding.get("id", "")),
        "kind": str(finding.get("kind", "")),
        "algorithm": str(finding.get("algorithm", "")),
        "laterality": finding.get("laterality"),
        "clock": location.get("clock"),
        "distance_from_nipple_mm": location.get("distance_from_nipple_mm"),
        "depth": location.get("depth"),
        "size_mm": finding.get("size_mm"),
    }


def patient_lesions(
    session: Session, patient_id: str, *, default_mode: Mode = Mode.SILENT, include_silent: bool = False
) -> PatientLesions | None:
    """The woman's linked lesions, or None when the patient id is unknown."""
    found = patients.studies_of_patient(session, patient_id)
    if found is None:
        return None
    survivor, studies = found
    keys = _patient_keys(survivor, studies)
    placed: list[PlacedFinding] = []
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    unplaced: list[dict[str, Any]] = []
    algorithms: dict[str, tuple[str, ...]] = {}
    for study in studies:
        uid = study.study_instance_uid
        findings, algorithms[uid] = _shown_findings(session, uid, default_mode, include_silent)
        for f in findings:
            modality = modality_of(f, study.modalities)
            row = _row(study, modality, f)
            position = place(f, modality)
            if position is None:
                unplaced.append({**row, "reason": why_unplaced(f, modality) or ""})
                continue
            item = PlacedFinding(
                keys[uid], uid, study.study_date, position.modality, row["finding_id"], row["kind"],
                position, row["algorithm"],
            )  # fmt: skip
            placed.append(item)
            rows[item.key] = row
    LOGGER.debug("lesion table: %d studies, %d placed, %d unplaced", len(studies), len(placed), len(unplaced))
    return PatientLesions(survivor, tuple(studies), link(placed), rows, tuple(unplaced), algorithms)


def _evidence_json(e: Evidence) -> dict[str, Any]:
    return {
        "frame_distance_mm": round(e.frame_distance_mm, 1),
        "normalised_distance": round(e.normalised_distance, 2),
        "size_ratio": None if e.size_ratio is None else round(e.size_ratio, 2),
        "size_z": None if e.size_z is None else round(e.size_z, 2),
        "kinds": list(e.kinds),
        "modalities": list(e.modalities),
        "days_apart": e.days_apart,
    }


def lesions_json(lesions: PatientLesions) -> dict[str, Any]:
    """The lesion table as plain data (``breastgate.lesions/1``): studies, lesions with their
    findings by date and the links with their evidence, and the unplaced findings with why."""

    def finding(f: PlacedFinding) -> dict[str, Any]:
        row = dict(lesions.rows[f.key])
        row.pop("laterality", None)
        return row

    return {
        "schema": SCHEMA,
        "patient_id": lesions.patient_id,
        "studies": [
            {
                "study_instance_uid": s.study_instance_uid,
                "study_date": s.study_date,
                "modalities": sorted(s.modalities),
                "algorithms": list(lesions.algorithms.get(s.study_instance_uid, ())),
            }
            for s in lesions.studies
        ],
        "lesions": [
            {
                "id": lesion.id,
                "laterality": lesion.laterality,
                "findings": [finding(f) for f in lesion.findings],
                "links": [
                    {"a": x.a.ref, "b": x.b.ref, "evidence": _evidence_json(x.evidence)} for x in lesion.links
                ],
            }
            for lesion in lesions.table.lesions
        ],
        "unplaced": list(lesions.unplaced),
    }


def cross_study_links(
    session: Session,
    study_instance_uid: str,
    *,
    default_mode: Mode = Mode.SILENT,
    include_silent: bool = False,
) -> dict[tuple[str, str], tuple[str, ...]]:
    """For each finding of the study, by (algorithm, finding id): the findings of the woman's other
    studies in the same lesion, as ``<study_instance_uid>/<finding_id>``; empty when the study has
    no patient id."""
    study = session.get(Study, study_instance_uid)
    if study is None or not study.patient_id:
        return {}
    lesions = patient_lesions(
        session, study.patient_id, default_mode=default_mode, include_silent=include_silent
    )
    if lesions is None:
        return {}
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for lesion in lesions.table.lesions:
        for f in lesion.findings:
            if f.study_instance_uid == study_instance_uid:
                refs = lesions.table.correlated_with(f)
                if refs:
                    out[(f.algorithm, f.finding_id)] = refs
    return out


def correspondences(
    session: Session,
    study_instance_uid: str,
    *,
    default_mode: Mode = Mode.SILENT,
    include_silent: bool = False,
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """For each finding of the study, by (algorithm, finding id): the lesion-table rows of the same
    lesion in the woman's other studies (modality, date, kind, size, clock), for the report draft's
    "corresponds to" sentence and the Sectra PropValues."""
    study = session.get(Study, study_instance_uid)
    if study is None or not study.patient_id:
        return {}
    lesions = patient_lesions(
        session, study.patient_id, default_mode=default_mode, include_silent=include_silent
    )
    if lesions is None:
        return {}
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for lesion in lesions.table.lesions:
        here = [f for f in lesion.findings if f.study_instance_uid == study_instance_uid]
        others = [lesions.rows[f.key] for f in lesion.findings if f.study_instance_uid != study_instance_uid]
        for f in here:
            if others:
                out[(f.algorithm, f.finding_id)] = others
    return out


def add_correlations(body: dict[str, Any], links: Mapping[tuple[str, str], Sequence[str]]) -> None:
    """Append to each finding's ``correlated_with`` (same-study ids stay bare) the refs of its
    lesion's findings in other studies."""
    for finding in body.get("findings") or ():
        refs = links.get((str(finding.get("algorithm", "")), str(finding.get("id", ""))))
        if refs:
            current = list(finding.get("correlated_with") or [])
            finding["correlated_with"] = current + [r for r in refs if r not in current]
