"""Dense-breast patient letters (MQSA): made when a radiologist confirms the density, then owed
to the site's print or mail service through the outbox.

Policy today: a letter is made only from a radiologist-confirmed density (the confirmation API);
the AI's own category never sends one. When the governance modes arrive, an ``integrated`` density
algorithm may be allowed to skip that step (issue 4 wording); until then every letter waits for a
radiologist. The letter's key derives from the study and the confirmation, so confirming again
with the same density re-delivers the same file name, and a changed density makes a new letter.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from breastgate.domain.outputs import SenderKind, SpoolFolder
from breastgate.pipeline.publish.base import ResultFiles, owe
from breastgate.reporting.letters import LetterTemplate, SiteLetterhead, render_letter_pdf
from breastgate.store.blobs import BlobStore
from breastgate.store.patients import demographics_for_study
from breastgate.store.reports import ReportRecord
from breastgate.store.studies import get_study_date

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class LetterConfig:
    """Where letters go (``dir:/path`` each) and how they look."""

    to: Sequence[SpoolFolder]
    letterhead: SiteLetterhead
    template: LetterTemplate | None = None


def display_name(pn: str | None) -> str:
    """DICOM/HL7 person name ``FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX`` as it is printed on a letter."""
    parts = (pn or "").split("^") + [""] * 5
    family, given, middle, prefix, suffix = (p.strip() for p in parts[:5])
    words = [w for w in (prefix, given, middle, family, suffix) if w]
    return " ".join(w.title() if w.isupper() else w for w in words) or "Patient"


def queue_letter(
    session: Session, blobs: BlobStore, results_path: Path, config: LetterConfig, record: ReportRecord
) -> str | None:
    """Make and owe the letter of a confirmed report; returns its outbox key, or None when none is due."""
    density = record.final_density
    if record.status != "confirmed" or density is None or not config.to:
        return None
    uid = record.study_instance_uid
    patient = demographics_for_study(session, uid)
    study_date = get_study_date(session, uid)
    try:
        exam = date(int(study_date[:4]), int(study_date[4:6]), int(study_date[6:8])) if study_date else None
    except ValueError:
        exam = None
    if exam is None:
        LOGGER.warning("study %s: no valid study date; letter not made", uid)
        return None
    pdf = render_letter_pdf(
        density,
        patient_name=display_name(patient.name if patient else None),
        exam_date=exam,
        letterhead=config.letterhead,
        template=config.template,
    )
    key = "letter-" + hashlib.sha1(f"{uid}|{record.generation}|{density}".encode()).hexdigest()[:40]
    path = ResultFiles(blobs, results_path).file(uid, f"{key}.pdf", pdf)
    owe(session, kind=SenderKind.LETTER, key=key, study_uid=uid, path=path, destinations=config.to)
    LOGGER.info("study %s: density letter (%s) owed to %d destination(s)", uid, density, len(config.to))
    return key
