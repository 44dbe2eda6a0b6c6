"""Outcomes: what became of a study — the radiologist's final BI-RADS (HL7 ORU from the
reporting system), pathology, or a historical CSV import. They feed the metrics.

An outcome is matched to a study by Study Instance UID or accession number, whichever it
carries; it may arrive before or after the images. Recording one is audited.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.outcomes import OutcomeRecord
from breastgate.store import audit
from breastgate.store import tables as t


def record(session: Session, outcome: OutcomeRecord, *, actor: str) -> int:
    """Store a validated outcome and audit it; returns its id."""
    outcome.validate()
    row = t.Outcome(
        source=outcome.source,
        study_instance_uid=outcome.study_instance_uid,
        accession_number=outcome.accession_number,
        patient_id=outcome.patient_id,
        final_birads=outcome.final_birads,
        density=outcome.density,
        outcome=outcome.outcome,
        laterality=outcome.laterality,
        pathology=outcome.pathology,
        reported_at=outcome.reported_at,
        reference=outcome.reference,
        recorded_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        AuditKind.OUTCOME_RECORDED,
        actor=actor,
        study_instance_uid=outcome.study_instance_uid,
        subject=f"outcome {row.id}",
        data={
            "source": outcome.source,
            "accession_number": outcome.accession_number,
            "final_birads": outcome.final_birads,
            "density": outcome.density,
            "outcome": outcome.outcome,
            "laterality": outcome.laterality,
            "reference": outcome.reference,
        },
    )
    return int(row.id)


def _record(r: t.Outcome) -> OutcomeRecord:
    return OutcomeRecord(
        r.source,
        r.study_instance_uid,
        r.accession_number,
        r.patient_id,
        r.final_birads,
        r.density,
        r.outcome,
        r.laterality,
        r.pathology,
        r.reported_at,
        r.reference,
    )


def for_study(session: Session, study_uid: str, accession_number: str | None) -> list[OutcomeRecord]:
    """Outcomes of a study, by its UID or its accession number, oldest first."""
    match = [t.Outcome.study_instance_uid == study_uid]
    if accession_number:
        match.append(t.Outcome.accession_number == accession_number)
    rows = session.scalars(select(t.Outcome).where(or_(*match)).order_by(t.Outcome.id))
    return [_record(r) for r in rows]


#: Values bound per ``IN (...)`` list: well under SQLite's limit on host parameters.
_CHUNK = 500


def for_studies(session: Session, studies: Mapping[str, str | None]) -> dict[str, list[OutcomeRecord]]:
    """:func:`for_study` for many studies at once (``studies``: Study Instance UID → accession
    number), in a few queries instead of one per study; every given UID is a key."""
    uids = sorted(studies)
    accessions = sorted({a for a in studies.values() if a})
    rows: dict[int, t.Outcome] = {}
    for column, values in ((t.Outcome.study_instance_uid, uids), (t.Outcome.accession_number, accessions)):
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            rows.update((r.id, r) for r in session.scalars(select(t.Outcome).where(column.in_(chunk))))
    by_uid: dict[str, list[t.Outcome]] = {}
    by_accession: dict[str, list[t.Outcome]] = {}
    for row in rows.values():
        if row.study_instance_uid:
            by_uid.setdefault(row.study_instance_uid, []).append(row)
        if row.accession_number:
            by_accession.setdefault(row.accession_number, []).append(row)
    out: dict[str, list[OutcomeRecord]] = {}
    for uid, accession in studies.items():
        matched = {r.id: r for r in by_uid.get(uid, ())}
        if accession:
            matched.update((r.id, r) for r in by_accession.get(accession, ()))
        out[uid] = [_record(matched[k]) for k in sorted(matched)]
    return out


@dataclass(frozen=True)
class Truth:
    """What the metrics use for one study: cancer or not (None when unknown), and the final
    category and density radiologists gave."""

    cancer: bool | None
    final_birads: str | None
    density: str | None


def truth_of(outcomes: Iterable[OutcomeRecord]) -> Truth:
    """Combine a study's outcomes: pathology or an explicit outcome beats a BI-RADS category;
    the latest of each kind wins. A final BI-RADS 1 or 2 counts as not cancer (screen-negative),
    6 as cancer; 0, 3, 4, 5 leave it unknown until pathology or follow-up says."""
    cancer: bool | None = None
    from_birads: bool | None = None
    birads = density = None
    for item in outcomes:
        if item.outcome is not None:
            cancer = item.outcome == "cancer"
        if item.final_birads is not None:
            birads = item.final_birads
            from_birads = {"1": False, "2": False, "6": True}.get(item.final_birads, from_birads)
        if item.density is not None:
            density = item.density
    return Truth(cancer if cancer is not None else from_birads, birads, density)


CSV_COLUMNS = (
    "study_instance_uid",
    "accession_number",
    "patient_id",
    "final_birads",
    "density",
    "outcome",
    "laterality",
    "pathology",
    "reported_at",
)


def parse_csv(text: str) -> list[OutcomeRecord]:
    """Historical outcomes from CSV (header row; columns of :data:`CSV_COLUMNS`, any order, any
    subset that identifies the study). A bad row is an error naming its line; nothing is
    imported from a file with a bad row."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise InvalidInputError("the outcomes CSV is empty")
    unknown = sorted(set(reader.fieldnames) - set(CSV_COLUMNS))
    if unknown:
        raise InvalidInputError(f"unknown columns {unknown}; known: {', '.join(CSV_COLUMNS)}")
    records: list[OutcomeRecord] = []
    for line, row in enumerate(reader, start=2):
        values = {k: (v.strip() or None) if isinstance(v, str) else None for k, v in row.items()}
        try:
            records.append(
                OutcomeRecord(
                    source="csv",
                    study_instance_uid=values.get("study_instance_uid"),
                    accession_number=values.get("accession_number"),
                    patient_id=values.get("patient_id"),
                    final_birads=values.get("final_birads"),
                    density=(values.get("density") or "").lower() or None,
                    outcome=(values.get("outcome") or "").lower() or None,
                    laterality=(values.get("laterality") or "").upper() or None,
                    pathology=values.get("pathology"),
                    reported_at=values.get("reported_at"),
                    reference=f"csv line {line}",
                ).validate()
            )
        except InvalidInputError as exc:
            raise InvalidInputError(f"outcomes CSV line {line}: {exc}") from None
    return records


def import_csv(session: Session, text: str, *, actor: str) -> int:
    """Validate the whole file, then record every row (one transaction); returns how many."""
    records = parse_csv(text)
    for item in records:
        record(session, item, actor=actor)
    return len(records)
