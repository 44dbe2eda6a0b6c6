"""Prior selection, pure: which of a patient's studies a reader wants beside the current one.

:func:`select_priors` keeps the most recent ``limit`` studies holding one of ``modalities`` and
dated before the current study's (or the order's) date, within ``years`` of it when given, never
the current exam itself (matched by Study Instance UID or accession number), and never another
namespace's patient (Issuer of Patient ID, when both sides carry one). The queries that find the
candidates are :mod:`breastgate.routing.qr`'s (C-FIND) and :mod:`breastgate.routing.dicomweb`'s
(QIDO-RS).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class StudyMatch:
    """One C-FIND match at STUDY level (what selection needs; patient data stays out)."""

    study_instance_uid: str
    study_date: str | None
    modalities: tuple[str, ...]
    accession_number: str | None = None
    issuer_of_patient_id: str | None = None


def window(before_date: str | None, years: float, today: date | None = None) -> tuple[str, str | None]:
    """(before, not-before) dates of the priors of a study dated ``before_date`` (today when not a
    valid date): strictly before it and, with ``years`` > 0, no older than that many years."""
    cutoff = before_date if before_date and _is_date(before_date) else None
    day = date(int(cutoff[:4]), int(cutoff[4:6]), int(cutoff[6:])) if cutoff else (today or date.today())
    if years <= 0:
        return day.strftime("%Y%m%d"), None
    earliest = day - timedelta(days=round(years * 365.25))
    return day.strftime("%Y%m%d"), earliest.strftime("%Y%m%d")


def select_priors(
    matches: Iterable[StudyMatch],
    before_date: str | None,
    *,
    modalities: Sequence[str] = ("MG",),
    limit: int = 2,
    today: date | None = None,
    current: StudyMatch | None = None,
    after_date: str | None = None,
    issuer_of_patient_id: str | None = None,
) -> list[StudyMatch]:
    """The priors to retrieve: the most recent ``limit`` studies with one of ``modalities`` in
    Modalities in Study, dated strictly before ``before_date`` (YYYYMMDD; today when None).

    ``current`` names the order's own examination (its accession number and/or requested Study
    Instance UID): a study matching either is never a prior, whatever its date.

    ``after_date`` (YYYYMMDD) leaves out older studies; ``issuer_of_patient_id`` leaves out a
    match whose Issuer of Patient ID differs (a match without one is kept: many PACS omit it).

    Studies without a valid date are left out (they cannot be placed before the order), as are
    studies whose Modalities in Study is empty (a PACS that does not return it is not guessed at).
    Duplicates (same Study Instance UID) count once; ties on the date keep the PACS's order.
    """
    if limit <= 0:
        return []
    cutoff = before_date if _is_date(before_date) else (today or date.today()).strftime("%Y%m%d")
    wanted = {m.upper() for m in modalities}
    seen: set[str] = set()
    fits: list[StudyMatch] = []
    for match in matches:
        if match.study_instance_uid in seen or not _is_date(match.study_date):
            continue
        if match.study_date is None or match.study_date >= str(cutoff):
            continue
        if after_date and match.study_date < after_date:
            continue
        if issuer_of_patient_id and match.issuer_of_patient_id not in (None, issuer_of_patient_id):
            continue
        if not wanted.intersection(m.upper() for m in match.modalities) or _is_current(match, current):
            continue
        seen.add(match.study_instance_uid)
        fits.append(match)
    fits.sort(key=lambda m: str(m.study_date), reverse=True)  # stable: ties keep the PACS's order
    return fits[:limit]


def _is_current(match: StudyMatch, current: StudyMatch | None) -> bool:
    if current is None:
        return False
    same_uid = bool(current.study_instance_uid) and match.study_instance_uid == current.study_instance_uid
    same_accession = bool(current.accession_number) and match.accession_number == current.accession_number
    return same_uid or same_accession


def _is_date(value: str | None) -> bool:
    if not value or len(value) != 8 or not value.isdigit():
        return False
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return False
    return True
