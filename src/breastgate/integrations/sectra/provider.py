"""The Sectra use cases behind the HTTP routes: the IDS7 Data Provider's look-up and PropValues, the
examination numbers Sectra's Healthcare Server names, and the target of a viewer launch.

The Data Provider pre-fills the radiologist's report, so it serves the results the governance gate
lets reach ``report`` (integrated there, DESIGN §6); a launch opens a finding shown at ``api``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from breastgate.domain.governance import Destination, Mode
from breastgate.domain.model import AlgorithmResult, Finding
from breastgate.governance import feedback
from breastgate.governance.gate import results_for
from breastgate.integrations.sectra.launch import LaunchTarget
from breastgate.integrations.sectra.props import PropValue, ReportState, build_prop_values
from breastgate.integrations.sectra.refs import LaunchRefs
from breastgate.results.json import build_results
from breastgate.store import orders as order_store
from breastgate.store import patients as patient_store
from breastgate.store import reports as report_store
from breastgate.store import studies
from breastgate.store.tables import SectraExam
from breastgate.worklist.policy import TriagePolicy, triage


class NotFoundError(LookupError):
    """The study or finding a request names is not here (HTTP 404)."""


def find_study(
    session: Session, study_uid: str | None, accession_number: str | None
) -> tuple[str, str] | None:
    """(Study Instance UID, how it was found): by Study UID, else by accession number (the study's,
    then a matched order's)."""
    uid = (study_uid or "").strip()
    if uid and studies.get_study_ref(session, uid) is not None:
        return uid, "study_uid"
    accession = (accession_number or "").strip()
    if not accession:
        return None
    found = studies.study_for_accession(session, accession)
    if found is not None:
        return found, "accession_number"
    linked = [o.study_instance_uid for o in order_store.find_orders(session, accession_number=accession)]
    return next(((u, "order") for u in linked if u), None)


def same_patient(session: Session, study_uid: str, ids: list[str]) -> bool:
    """True when the request names no patient ids, or one of them is the exam's patient (its id on
    the images, the RIS's current id after a merge, or a matched order's), compared without case
    or surrounding blanks."""
    wanted = {i.strip().upper() for i in ids if i and i.strip()}
    if not wanted:
        return True
    study = studies.get_study_ref(session, study_uid)
    patient = patient_store.demographics_for_study(session, study_uid)
    known = {
        study.patient_id if study else None,
        patient.patient_id if patient else None,
        *(o.patient_id for o in order_store.orders_for_study(session, study_uid)),
    }
    return bool(wanted & {k.strip().upper() for k in known if k})


def prop_values(
    session: Session,
    study_uid: str,
    *,
    policy: TriagePolicy,
    default_mode: Mode = Mode.SILENT,
    launch: LaunchRefs | None = None,
    correspondences: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]] | None = None,
) -> tuple[dict[str, PropValue], tuple[AlgorithmResult, ...]]:
    """The study's PropValues from the results that reach the report, and those results;
    ``correspondences`` name the same lesion in the woman's other studies (the lesion table)."""
    served = results_for(session, study_uid, Destination.REPORT, default_mode=default_mode).results
    assessment, decision = triage(served, policy) if served else (None, None)
    document = build_results(study_uid, served, assessment, decision)
    feedback.attach(document, feedback.for_study(session, study_uid))
    if launch is not None:
        launch.attach(document)
    record = report_store.get_report(session, study_uid)
    report = None
    if record is not None:
        report = ReportState(
            record.status,
            birads=record.confirmed_birads,
            density=record.confirmed_density,
            confirmed_by=record.confirmed_by,
            confirmed_at=record.confirmed_at,
        )
    return build_prop_values(document, report, correspondences=correspondences), served


def remember_sectra_exam(session: Session, study_instance_uid: str, exam_no: str) -> None:
    """Keep Sectra's examination number of a study (the latest its Healthcare Server named)."""
    exam_no = exam_no.strip()[:64]
    if not exam_no:
        return
    row = session.get(SectraExam, study_instance_uid)
    if row is None:
        session.add(SectraExam(study_instance_uid=study_instance_uid, exam_no=exam_no))
    elif row.exam_no != exam_no:
        row.exam_no, row.seen_at = exam_no, datetime.now(UTC)


def sectra_exam_number(session: Session, study_instance_uid: str) -> str | None:
    """Sectra's examination number of a study, when its Healthcare Server has named one."""
    row = session.get(SectraExam, study_instance_uid)
    return row.exam_no if row is not None else None


def shown_finding(session: Session, study_uid: str, finding_id: str, default_mode: Mode) -> Finding:
    """A finding with a mark among the results shown at ``api``; NotFoundError otherwise."""
    for result in results_for(session, study_uid, Destination.API, default_mode=default_mode).results:
        for finding in result.findings:
            if finding.id == finding_id and finding.marks:
                return finding
    raise NotFoundError("No such finding is shown for this study")


def launch_target(
    session: Session, study_uid: str, finding_id: str | None, default_mode: Mode
) -> LaunchTarget:
    """Patient, accession number, Sectra's exam number when its Healthcare Server has named one
    (Data Provider calls), and for a finding the image and frame of its first mark.

    Raises NotFoundError for an unknown study or finding, LaunchError when the study cannot be launched."""
    study = studies.get_study_ref(session, study_uid)
    if study is None:
        raise NotFoundError("Study not found")
    patient = patient_store.demographics_for_study(session, study_uid)
    orders = order_store.orders_for_study(session, study_uid)
    accession = study.accession_number or next(
        (o.accession_number for o in orders if o.accession_number), None
    )
    exam_no = sectra_exam_number(session, study_uid) if accession else None
    sop_uid, frame = None, None
    if finding_id:
        mark = shown_finding(session, study_uid, finding_id, default_mode).marks[0]
        sop_uid, frame = mark.sop_instance_uid, mark.frame
    return LaunchTarget(
        patient_id=(patient.patient_id if patient else None) or study.patient_id or "",
        issuer=patient.issuer if patient else None,
        accession_numbers=(accession,) if accession else (),
        sop_instance_uid=sop_uid,
        frame=frame,
        examination_ids=(exam_no,) if exam_no else (),
    )
