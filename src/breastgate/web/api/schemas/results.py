"""The results JSON ``breastgate.results/1`` (DESIGN §4) as served at
``GET /api/studies/{study_instance_uid}/results``.

Every field of DESIGN §4 keeps its meaning; the fields the code adds are declared too:
``label``, ``images[]``, ``risk.algorithm`` and ``risk.average_*``, ``triage.policy`` and
``triage.reasons``, each finding's ``algorithm``, ``shown``, ``feedback``/``feedback_history``
and ``launch``, the study's ``launch`` and ``governance``. The document and its findings are open
(DESIGN §4: "Add fields freely"): a key beyond the fields is passed through as it is.
Pixel coordinates are DICOM image coordinates (column, row), origin at the top-left corner of the
top-left pixel, as in SR SCOORD.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from breastgate.domain.model import AlgorithmStatus, FindingKind, Priority
from breastgate.results.json import SCHEMA
from breastgate.web.api.schemas.base import LaunchLinks, Number, OpenSchema, Schema, Timestamp

__all__ = [
    "Assessment",
    "BreastDensity",
    "Density",
    "DensityChange",
    "Finding",
    "FindingComparison",
    "FindingFeedback",
    "FindingLocation",
    "Governance",
    "ImageOutcome",
    "Kinetics",
    "Mark",
    "PriorsUsed",
    "Quality",
    "QualityCheck",
    "ResultsAlgorithm",
    "ResultsDocument",
    "Risk",
    "TriageDecision",
]

#: (column, row) in DICOM image coordinates.
Point = tuple[Number, Number]


class ResultsAlgorithm(Schema):
    """One algorithm version whose result the document holds."""

    id: str
    version: str
    status: AlgorithmStatus
    message: str = Field(description="Why it failed or skipped; empty when ok")
    model_card: str | None = Field(
        default=None, description="The version's model card, path@version (docs/algorithms/); null if none"
    )
    priors: PriorsUsed | None = Field(default=None, description="Algorithms that read priors only")


class BreastDensity(Schema):
    """Density of one breast."""

    category: str = Field(description="BI-RADS 5th edition a | b | c | d")
    percent_dense: Number
    sop_instance_uids: list[str]


class Density(Schema):
    """Study-level breast density (BI-RADS 5th edition category and area percent density)."""

    category: str = Field(description="a | b | c | d")
    percent_dense: Number
    per_breast: dict[str, BreastDensity] = Field(description="By laterality: L, R")


class FindingLocation(Schema):
    """Where a finding is in the breast."""

    clock: int | None = Field(description="Clock position 1-12")
    quadrant: str | None = Field(description="UOQ, UIQ, LOQ, LIQ, central, subareolar ...")
    depth: str | None = Field(description="anterior | middle | posterior")
    distance_from_nipple_mm: Number | None
    patient_mm: tuple[Number, Number, Number] | None = Field(
        description="3-D modalities (DBT, MRI): [x, y, z] in DICOM patient coordinates (LPS)"
    )


class Mark(Schema):
    """Where a finding is on one image (a CAD mark, PS3.16 TID 4006)."""

    sop_instance_uid: str
    frame: int | None = Field(description="1-based frame of a multi-frame image")
    view: str | None
    point: Point = Field(description="Centre [col, row]")
    bbox: tuple[Number, Number, Number, Number] = Field(description="[c0, r0, c1, r1]")
    outline: list[Point] = Field(description="Closed polygon, when the algorithm gives one")
    members: list[Point] = Field(description="Centres of a cluster's calcifications on this image")
    score: Number = Field(description="This mark's own 0-1 score")
    laterality: str | None
    sop_class_uid: str
    size_mm: Number | None
    patient_mm: tuple[Number, Number, Number] | None
    frames: tuple[int, int] | None = Field(description="First and last frame the lesion spans (DBT)")
    lines: list[tuple[Point, Point]] = Field(
        default_factory=list,
        description="Measurement lines [[start], [end]] drawn with the mark (ultrasound calipers)",
    )


class Kinetics(Schema):
    """Enhancement kinetics of an MRI finding (the worst curve of the lesion)."""

    initial_phase: str | None = Field(default=None, description="slow | medium | fast")
    delayed_phase: str | None = Field(default=None, description="persistent | plateau | washout")
    curve_type: str | None = Field(default=None, description="I | II | III")
    peak_enhancement_pct: Number | None = Field(default=None, description="Peak % over baseline")
    washout_share: Number | None = Field(default=None, description="Share (0-1) of washout voxels")
    plateau_share: Number | None = Field(default=None, description="Share (0-1) of plateau voxels")
    persistent_share: Number | None = Field(default=None, description="Share (0-1) of persistent voxels")


class FindingComparison(Schema):
    """Change of a finding since a prior study."""

    prior_study_instance_uid: str | None = None
    change: str | None = Field(default=None, description="new | stable | increased | decreased")
    size_change_mm: Number | None = Field(default=None, description="Current minus prior size; null if new")
    prior_size_mm: Number | None = None
    prior_study_date: str | None = None
    prior_marks: list[Mark] = Field(default_factory=list, description="Where it is on the prior's images")


class DensityChange(Schema):
    """Breast density against the prior study."""

    prior_study_instance_uid: str
    prior_study_date: str | None
    prior_category: str = Field(description="a | b | c | d")
    prior_percent_dense: Number
    change_pp: Number = Field(description="Current minus prior percent density, percentage points")


class PriorsUsed(Schema):
    """The priors an algorithm compared with, or why there were none."""

    status: str = Field(description="held | none_available | not_in_time | not_sought")
    text: str = Field(description="e.g. 'no prior available', 'prior not fetched in time'")
    study_instance_uids: list[str]
    message: str


class FindingFeedback(Schema):
    """A radiologist's verdict on a finding (``POST .../findings/{id}/feedback``)."""

    action: str = Field(description="accept | reject | modify")
    reason: str | None
    comment: str
    modification: dict[str, Any] | None
    user: str
    at: Timestamp


class Finding(OpenSchema):
    """One finding (DESIGN §4 ``findings[]``); open: a key beyond the fields is kept."""

    id: str
    kind: FindingKind
    laterality: Literal["L", "R"]
    score: Number = Field(description="0-1")
    size_mm: Number | None
    location: FindingLocation | None
    marks: list[Mark]
    attributes: dict[str, str | Number] = Field(
        description="Descriptors the algorithm gives (open: shape, margin, views ...)"
    )
    correlated_with: list[str] = Field(
        default_factory=list,
        description="Ids of related findings of this study; the same lesion in the woman's other "
        "studies as <study_instance_uid>/<finding_id>",
    )
    comparison: FindingComparison | None = None
    kinetics: Kinetics | None = None
    diameters_mm: tuple[Number, Number, Number] | None = Field(
        default=None, description="3-D lesions (MRI): three orthogonal diameters, largest first"
    )
    volume_mm3: Number | None = Field(default=None, description="3-D lesions (MRI): volume")
    algorithm: str = Field(description="Id of the algorithm that found it")
    shown: bool = Field(description="At or above its algorithm's operating point")
    feedback: FindingFeedback | None = Field(default=None, description="Latest verdict, when any")
    feedback_history: list[FindingFeedback] = Field(default_factory=list, description="Every verdict")
    launch: LaunchLinks | None = Field(default=None, description="Viewer launch links (Sectra)")


class Assessment(Schema):
    """Study-level AI assessment."""

    suspicion_score: Number = Field(description="0-100")
    birads: str = Field(description="BI-RADS category draft 0-6, as a string")
    recommendation: str


class TriageDecision(Schema):
    """Reading priority and flags, from a versioned policy."""

    priority: Priority
    score: Number = Field(description="0-100")
    flags: list[str]
    policy: str = Field(description="Policy id@version")
    reasons: list[str]


class QualityCheck(Schema):
    """One positioning / image-quality check."""

    name: str
    passed: bool
    reason: str
    sop_instance_uid: str | None
    laterality: str | None
    view: str | None
    value: Number | None
    unit: str


class Quality(Schema):
    """Per-image positioning checks and the study's verdict."""

    verdict: Literal["adequate", "inadequate"] | None
    checks: list[QualityCheck]


class Risk(Schema):
    """A risk model's estimate, in percent (e.g. BCRAT answers stored with the study)."""

    model: str
    five_year_pct: Number | None
    lifetime_pct: Number | None
    average_five_year_pct: Number | None
    average_lifetime_pct: Number | None
    algorithm: str


class ImageOutcome(Schema):
    """What an algorithm did with one image."""

    sop_instance_uid: str
    algorithm: str
    status: AlgorithmStatus
    message: str
    laterality: str | None
    view: str | None
    measurements: dict[str, Number]


class Governance(Schema):
    """What the governance gate held back from the API."""

    hidden: int = Field(description="Stored results not shown (silent at api)")
    modes: dict[str, dict[str, str]] = Field(description="algorithm@version → destination → mode")


class ResultsDocument(OpenSchema):
    """The results JSON of one study (DESIGN §4); open: a key beyond the fields is kept."""

    schema_: Literal["breastgate.results/1"] = Field(alias="schema", description=SCHEMA)
    study_instance_uid: str
    label: str = Field(description="Not-for-diagnostic-use statement")
    algorithms: list[ResultsAlgorithm]
    density: Density | None
    density_change: DensityChange | None = Field(default=None, description="Against the prior study")
    findings: list[Finding]
    assessment: Assessment | None
    triage: TriageDecision | None
    quality: Quality | None
    risk: Risk | None
    images: list[ImageOutcome]
    launch: LaunchLinks | None = Field(default=None, description="Viewer launch links (Sectra)")
    governance: Governance | None = Field(default=None, description="Added by the API")
    generated_by: Any = Field(default=None, description="What made the document, when its producer says")
