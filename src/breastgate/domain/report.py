"""A structured breast-imaging report draft: the value ``reporting`` writes and ``results`` encodes.

Why here and not in ``reporting`` or ``results``: :mod:`breastgate.reporting.draft` builds it (the
wording and the assessment rules) and :mod:`breastgate.results.breast_report_sr` encodes it as a
DICOM Breast Imaging Report SR (PS3.16 TID 4200); DESIGN §2 forbids either package to import the
other. A second dataclass of the same shape in ``results``, plus a mapping in ``pipeline``, would be
two copies to keep in step for no gain, so the one shared type lives in ``domain`` (stdlib only,
frozen, no behaviour beyond checking itself), beside :class:`~breastgate.domain.model.CaseAssessment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import FindingKind

__all__ = [
    "BIRADS_CATEGORIES",
    "DESCRIPTOR_KEYS",
    "DRAFTABLE_CATEGORIES",
    "DRAFT_LABEL",
    "AlgorithmUsed",
    "Change",
    "DraftFinding",
    "ReportDraft",
    "ReportStatus",
]

#: BI-RADS 5th edition assessment categories 0-6: name and management phrase (ASCII). An AI drafts
#: only 0-2; a radiologist may confirm any.
BIRADS_CATEGORIES: Mapping[str, tuple[str, str]] = {
    "0": (
        "Incomplete - Need Additional Imaging Evaluation",
        "Recall for additional imaging and/or comparison with prior examination(s).",
    ),
    "1": ("Negative", "Routine mammography screening."),
    "2": ("Benign", "Routine mammography screening."),
    "3": ("Probably Benign", "Short-interval (6-month) follow-up or continued surveillance mammography."),
    "4": ("Suspicious", "Tissue diagnosis."),
    "5": ("Highly Suggestive of Malignancy", "Tissue diagnosis."),
    "6": ("Known Biopsy-Proven Malignancy", "Surgical excision when clinically appropriate."),
}

#: Label every AI report draft carries, in the text and in the SR.
DRAFT_LABEL = "AI-generated draft — not for diagnostic use unless validated by the site"

#: BI-RADS assessment categories a screening AI may draft (see breastgate.reporting.draft).
DRAFTABLE_CATEGORIES = frozenset({"0", "1", "2"})

#: Descriptor keys a draft finding may carry (the algorithm's ``Finding.attributes`` names).
DESCRIPTOR_KEYS = frozenset(
    {"shape", "margin", "calcification_type", "distribution", "orientation", "echo_pattern", "posterior"}
)


class ReportStatus(StrEnum):
    """State of a report draft. Only DRAFT exists: confirmation belongs to the radiologist."""

    DRAFT = "DRAFT"


class Change(StrEnum):
    """Change of a finding since a prior study (DESIGN §4 ``findings[].comparison.change``)."""

    NEW = "new"
    STABLE = "stable"
    INCREASED = "increased"
    DECREASED = "decreased"


@dataclass(frozen=True)
class AlgorithmUsed:
    """An algorithm whose result the draft is made from (results JSON ``algorithms[]``)."""

    id: str
    version: str
    status: str


@dataclass(frozen=True, kw_only=True)
class DraftFinding:
    """One finding as the draft states it: the sentence and the facts it was made from.

    ``descriptors`` holds only what the algorithm gave, as lexicon keys (``shape``: oval, round,
    irregular ...; ``margin``; ``calcification_type``; ``distribution``); nothing is inferred.
    """

    number: int
    id: str
    kind: FindingKind
    laterality: str
    sentence: str
    score: float
    algorithm: str = ""
    clock: int | None = None
    quadrant: str | None = None
    depth: str | None = None
    distance_from_nipple_mm: float | None = None
    size_mm: float | None = None
    descriptors: Mapping[str, str] = field(default_factory=dict)
    change: Change | None = None
    size_change_mm: float | None = None
    prior_date: date | None = None
    prior_size_mm: float | None = None
    #: Three orthogonal diameters (mm, largest first) of a 3-D lesion (MRI), when measured.
    diameters_mm: tuple[float, float, float] | None = None
    #: DCE-MRI kinetics (BI-RADS MRI lexicon): slow|medium|fast, persistent|plateau|washout, I-III.
    initial_phase: str | None = None
    delayed_phase: str | None = None
    curve_type: str | None = None
    peak_enhancement_pct: float | None = None
    #: The same lesion in the woman's other studies, as the draft says it ("the 10 mm mass at
    #: 10 o'clock on the mammogram of 2026-03-01"), from the lesion table (issue 19).
    correspondences: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.number < 1:
            raise InvalidInputError(f"draft finding {self.id}: number {self.number} is not 1-based")
        if self.laterality not in ("L", "R"):
            raise InvalidInputError(f"draft finding {self.id}: laterality {self.laterality!r}")
        if self.clock is not None and not 1 <= self.clock <= 12:
            raise InvalidInputError(f"draft finding {self.id}: clock {self.clock} outside 1..12")
        unknown = set(self.descriptors) - DESCRIPTOR_KEYS
        if unknown:
            raise InvalidInputError(f"draft finding {self.id}: unknown descriptors {sorted(unknown)}")


@dataclass(frozen=True, kw_only=True)
class ReportDraft:
    """A structured screening report draft made from breastgate's own results.

    ``birads`` is "0", "1", "2" or None (no category drafted); ``rule`` names the rule of
    :mod:`breastgate.reporting.draft` that chose it. ``status`` is always DRAFT and ``label``
    always :data:`DRAFT_LABEL` until a radiologist confirms the report (not breastgate's job).
    """

    study_instance_uid: str
    composition_category: str | None
    composition: str
    findings: tuple[DraftFinding, ...]
    comparison: tuple[str, ...]
    birads: str | None
    birads_name: str
    impression: tuple[str, ...]
    recommendation: str
    algorithms: tuple[AlgorithmUsed, ...]
    rule: str
    rules_version: str
    percent_dense: float | None = None
    prior_study_dates: tuple[date, ...] = ()
    #: What became of the priors (``held``, ``none_available``, ``not_in_time``, ``not_sought``;
    #: results JSON ``algorithms[].priors.status``), None when no algorithm said.
    prior_status: str | None = None
    #: Density of the prior study and the change in percentage points (results JSON density_change).
    prior_composition_category: str | None = None
    density_change_pp: float | None = None
    status: ReportStatus = ReportStatus.DRAFT
    label: str = DRAFT_LABEL

    def __post_init__(self) -> None:
        if self.birads is not None and self.birads not in DRAFTABLE_CATEGORIES:
            raise InvalidInputError(f"an AI draft may not carry BI-RADS {self.birads!r} (only 0, 1, 2)")
        if self.composition_category not in (None, "a", "b", "c", "d"):
            raise InvalidInputError(f"breast composition {self.composition_category!r} is not a-d")
        if self.status != ReportStatus.DRAFT or self.label != DRAFT_LABEL:
            raise InvalidInputError("an AI report draft stays DRAFT with the draft label")
