"""Outcomes CSV of a retrospective validation (docs/validation.md): the truth a score is judged by.

One row per study, or one row per lesion (several rows of a study). Columns (header row required,
names case-insensitive, order free):

- ``study_instance_uid`` or ``accession_number`` (at least one per row): which study;
- ``outcome``: ``cancer``, ``benign`` or ``normal`` (cancer is the positive class);
- optional ``final_birads`` (0-6, 4a/4b/4c), ``radiologist_density`` (a-d), ``patient_age``
  (years), ``pathology`` (free text);
- optional lesion columns for FROC, only on ``cancer`` rows: ``lesion_sop_instance_uid``,
  ``lesion_col``, ``lesion_row``, ``lesion_radius_px`` (all four or none: a mark on that image
  within the radius of the centre hits the lesion), ``lesion_laterality`` (L/R) and ``lesion_id``
  (rows of a study with the same ``lesion_id`` are views of one lesion; without it each row is
  its own lesion).

Read strictly: any bad value stops the read with an :class:`OutcomesError` naming the line.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from breastgate.domain.errors import InvalidInputError

__all__ = ["OUTCOMES", "LesionTruth", "OutcomesError", "StudyOutcome", "read_outcomes"]

OUTCOMES = ("cancer", "benign", "normal")
_BIRADS = {"0", "1", "2", "3", "4", "4a", "4b", "4c", "5", "6"}
_LESION_POSITION = ("lesion_sop_instance_uid", "lesion_col", "lesion_row", "lesion_radius_px")
_KNOWN = {
    "study_instance_uid",
    "accession_number",
    "outcome",
    "final_birads",
    "radiologist_density",
    "patient_age",
    "pathology",
    "lesion_laterality",
    "lesion_id",
    *_LESION_POSITION,
}


class OutcomesError(InvalidInputError):
    """The outcomes CSV cannot be used; the message names the line."""


@dataclass(frozen=True)
class LesionTruth:
    """A malignant lesion on one image: a mark within ``radius_px`` of (col, row) hits it."""

    lesion_id: str
    sop_instance_uid: str
    col: float
    row: float
    radius_px: float
    laterality: str | None = None

    def is_hit_by(self, sop_instance_uid: str, point: tuple[float, float]) -> bool:
        """Whether a mark at ``point`` on ``sop_instance_uid`` lies within the radius."""
        if sop_instance_uid != self.sop_instance_uid:
            return False
        return math.hypot(point[0] - self.col, point[1] - self.row) <= self.radius_px


@dataclass
class StudyOutcome:
    """What the outcomes CSV says about one study (rows merged); ``line`` is its first row."""

    line: int
    study_instance_uid: str | None
    accession_number: str | None
    outcome: str
    final_birads: str | None = None
    radiologist_density: str | None = None
    patient_age: float | None = None
    pathology: str | None = None
    lesions: list[LesionTruth] = field(default_factory=list)

    @property
    def key(self) -> str:
        """How the study is matched: its Study Instance UID, else its accession number."""
        return self.study_instance_uid or f"accession:{self.accession_number}"

    @property
    def cancer(self) -> bool:
        return self.outcome == "cancer"


def read_outcomes(text: str, name: str = "outcomes.csv") -> list[StudyOutcome]:
    """Parse the outcomes CSV ``text``; one :class:`StudyOutcome` per study, in file order.

    Raises
    ------
    OutcomesError
        Unknown or missing columns, a bad value, or rows of one study that disagree.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    if reader.fieldnames is None:
        raise OutcomesError(f"{name}: empty file (expected a header row)")
    header = [h.strip().lower() for h in reader.fieldnames]
    unknown = sorted(set(header) - _KNOWN)
    if unknown:
        raise OutcomesError(f"{name} line 1: unknown column(s) {', '.join(unknown)}")
    if "outcome" not in header or not {"study_instance_uid", "accession_number"} & set(header):
        raise OutcomesError(f"{name} line 1: needs 'outcome' and 'study_instance_uid' or 'accession_number'")
    by_key: dict[str, StudyOutcome] = {}
    for raw in reader:
        line = reader.line_num
        if None in raw:
            raise OutcomesError(f"{name} line {line}: more values than columns")
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue  # a blank line
        parsed = _parse_row(row, line, name)
        seen = by_key.get(parsed.key)
        if seen is None:
            by_key[parsed.key] = parsed
        else:
            _merge(seen, parsed, name)
    return list(by_key.values())


def _parse_row(row: dict[str, str], line: int, name: str) -> StudyOutcome:
    where = f"{name} line {line}"
    uid = row.get("study_instance_uid") or None
    accession = row.get("accession_number") or None
    if not uid and not accession:
        raise OutcomesError(f"{where}: no study_instance_uid or accession_number")
    outcome = row.get("outcome", "").lower()
    if outcome not in OUTCOMES:
        raise OutcomesError(f"{where}: outcome {row.get('outcome', '')!r} is not cancer, benign or normal")
    birads = row.get("final_birads", "").lower() or None
    if birads is not None and birads not in _BIRADS:
        raise OutcomesError(f"{where}: final_birads {row['final_birads']!r} is not 0-6 (or 4a/4b/4c)")
    density = row.get("radiologist_density", "").lower() or None
    if density is not None and density not in ("a", "b", "c", "d"):
        raise OutcomesError(
            f"{where}: radiologist_density {row['radiologist_density']!r} is not a, b, c or d"
        )
    age = _number(row, "patient_age", where) if row.get("patient_age") else None
    if age is not None and not 0 <= age <= 130:
        raise OutcomesError(f"{where}: patient_age {row['patient_age']!r} is not an age in years")
    study = StudyOutcome(line, uid, accession, outcome, birads, density, age, row.get("pathology") or None)
    lesion = _lesion(row, line, where)
    if lesion is not None:
        if outcome != "cancer":
            raise OutcomesError(f"{where}: lesion columns are for cancer rows (outcome is {outcome})")
        study.lesions.append(lesion)
    return study


def _lesion(row: dict[str, str], line: int, where: str) -> LesionTruth | None:
    given = [c for c in _LESION_POSITION if row.get(c)]
    laterality = row.get("lesion_laterality", "").upper() or None
    if not given:
        if laterality or row.get("lesion_id"):
            raise OutcomesError(f"{where}: lesion given without {', '.join(_LESION_POSITION)}")
        return None
    if len(given) != len(_LESION_POSITION):
        missing = [c for c in _LESION_POSITION if c not in given]
        raise OutcomesError(f"{where}: lesion lacks {', '.join(missing)}")
    if laterality is not None and laterality not in ("L", "R"):
        raise OutcomesError(f"{where}: lesion_laterality {row['lesion_laterality']!r} is not L or R")
    radius = _number(row, "lesion_radius_px", where)
    if radius <= 0:
        raise OutcomesError(f"{where}: lesion_radius_px must be > 0")
    return LesionTruth(
        row.get("lesion_id") or f"line-{line}",
        row["lesion_sop_instance_uid"],
        _number(row, "lesion_col", where),
        _number(row, "lesion_row", where),
        radius,
        laterality,
    )


def _number(row: dict[str, str], column: str, where: str) -> float:
    try:
        value = float(row[column])
    except ValueError:
        raise OutcomesError(f"{where}: {column} {row[column]!r} is not a number") from None
    if not math.isfinite(value):
        raise OutcomesError(f"{where}: {column} {row[column]!r} is not a finite number")
    return value


def _merge(seen: StudyOutcome, new: StudyOutcome, name: str) -> None:
    """Fold a further row of a study into its first one; every value given twice must agree."""
    where = f"{name} line {new.line}"
    for attr in ("accession_number", "study_instance_uid", "outcome", "final_birads", "radiologist_density"):
        old_value, new_value = getattr(seen, attr), getattr(new, attr)
        if old_value is not None and new_value is not None and old_value != new_value:
            raise OutcomesError(
                f"{where}: {attr} {new_value!r} contradicts {old_value!r} given for the same study "
                f"on line {seen.line}"
            )
        if old_value is None:
            setattr(seen, attr, new_value)
    if seen.patient_age is None:
        seen.patient_age = new.patient_age
    elif new.patient_age is not None and new.patient_age != seen.patient_age:
        raise OutcomesError(f"{where}: patient_age contradicts line {seen.line} for the same study")
    seen.pathology = seen.pathology or new.pathology
    seen.lesions.extend(new.lesions)
