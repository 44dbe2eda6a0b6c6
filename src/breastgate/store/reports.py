"""Report drafts: the AI's draft of each study (latest generation) and the radiologist's confirmation.

A new generation of results writes a new draft and clears an earlier confirmation: the radiologist
confirmed what they saw, and the study has changed since. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from breastgate.domain.errors import InvalidInputError
from breastgate.store.tables import ReportDraftRow

BIRADS = frozenset({"0", "1", "2", "3", "4", "5", "6"})
DENSITY = frozenset({"a", "b", "c", "d"})


@dataclass(frozen=True)
class ReportRecord:
    """A stored draft and its confirmation state."""

    study_instance_uid: str
    generation: int
    status: str
    birads: str | None
    density: str | None
    text: str
    draft: str
    sr_path: str | None
    created_at: datetime
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None
    confirmed_birads: str | None = None
    confirmed_density: str | None = None
    note: str | None = None

    @property
    def final_density(self) -> str | None:
        """The density the radiologist confirmed (their own, or the AI's when they kept it)."""
        return self.confirmed_density if self.status == "confirmed" else None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _record(row: ReportDraftRow) -> ReportRecord:
    return ReportRecord(
        study_instance_uid=row.study_instance_uid,
        generation=row.generation,
        status=row.status,
        birads=row.birads,
        density=row.density,
        text=row.text,
        draft=row.draft,
        sr_path=row.sr_path,
        created_at=_utc(row.created_at) or datetime.now(UTC),
        confirmed_by=row.confirmed_by,
        confirmed_at=_utc(row.confirmed_at),
        confirmed_birads=row.confirmed_birads,
        confirmed_density=row.confirmed_density,
        note=row.note,
    )


def save_draft(
    session: Session,
    study_uid: str,
    *,
    generation: int,
    birads: str | None,
    density: str | None,
    text: str,
    draft_json: str,
    sr_path: str | None,
    now: datetime | None = None,
) -> ReportRecord:
    """Store the draft of a generation; an older generation never replaces a newer one."""
    now = now or datetime.now(UTC)
    row = session.get(ReportDraftRow, study_uid)
    if row is not None and row.generation > generation:
        return _record(row)
    if row is None:
        row = ReportDraftRow(study_instance_uid=study_uid)
        session.add(row)
    row.generation, row.birads, row.density, row.text, row.draft, row.sr_path = (
        generation, birads, density, text, draft_json, sr_path,
    )  # fmt: skip
    row.status, row.created_at = "draft", now
    row.confirmed_by = row.confirmed_at = row.confirmed_birads = row.confirmed_density = row.note = None
    session.flush()
    return _record(row)


def get_report(session: Session, study_uid: str) -> ReportRecord | None:
    row = session.get(ReportDraftRow, study_uid)
    return _record(row) if row is not None else None


def confirm(
    session: Session,
    study_uid: str,
    *,
    by: str,
    birads: str | None = None,
    density: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> ReportRecord:
    """Record the radiologist's confirmation; their category and density default to the draft's.

    Raises LookupError when the study has no draft, InvalidInputError for an unknown category or
    density, or a confirmation without a name.
    """
    row = session.get(ReportDraftRow, study_uid)
    if row is None:
        raise LookupError(study_uid)
    if not by.strip():
        raise InvalidInputError("a confirmation names the radiologist")
    final_birads = birads if birads is not None else row.birads
    final_density = density.lower() if density is not None else row.density
    if final_birads is not None and final_birads not in BIRADS:
        raise InvalidInputError(f"BI-RADS category {final_birads!r} is not 0-6")
    if final_density is not None and final_density not in DENSITY:
        raise InvalidInputError(f"breast density {final_density!r} is not a-d")
    row.status = "confirmed"
    row.confirmed_by = by.strip()[:128]
    row.confirmed_at = now or datetime.now(UTC)
    row.confirmed_birads, row.confirmed_density, row.note = final_birads, final_density, note
    session.flush()
    return _record(row)
