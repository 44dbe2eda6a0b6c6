"""Domain value types: studies, instances, jobs, algorithm results.

Frozen dataclasses, stdlib only. Field names follow DICOM keywords in snake_case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from breastgate.domain.errors import InvalidInputError

#: ACR/MQCM view abbreviations of the four screening views (PS3.16 CID 4014).
SCREENING_VIEWS: frozenset[tuple[str, str]] = frozenset(
    {("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")}
)

#: Label carried by every output of a built-in reference algorithm.
NOT_FOR_DIAGNOSTIC_USE = (
    "Reference implementation evaluated on synthetic phantoms with known ground truth; "
    "not for diagnostic use unless validated by the site."
)


def is_ae_title(value: str) -> bool:
    """An Application Entity title: 1 to 16 characters (PS3.5 Table 6.2-1, VR AE), not all blanks."""
    return bool(value.strip()) and len(value) <= 16


@dataclass(frozen=True)
class DicomNode:
    """A DICOM peer ``AE@HOST:PORT`` (the format of ``BG_PACS`` and ``demo --to``)."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> DicomNode:
        """Parse ``AE@HOST:PORT`` (IPv6 hosts may be bracketed); raise InvalidInputError when malformed."""
        try:
            ae, rest = text.strip().split("@", 1)
            host, port = rest.rsplit(":", 1)
            node = cls(ae.strip(), host.strip().strip("[]"), int(port))
        except ValueError:
            raise InvalidInputError(f"not a DICOM node AE@HOST:PORT: {text!r}") from None
        if not is_ae_title(node.ae_title) or not node.host or not 0 < node.port < 65536:
            raise InvalidInputError(f"not a DICOM node AE@HOST:PORT: {text!r}")
        return node

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


class PresentationIntent(StrEnum):
    """Presentation Intent Type (0008,0068)."""

    FOR_PRESENTATION = "FOR PRESENTATION"
    FOR_PROCESSING = "FOR PROCESSING"


@dataclass(frozen=True)
class InstanceRef:
    """One stored SOP instance, as indexed at ingest.

    ``path`` is the absolute path of the stored DICOM Part 10 file.
    ``laterality`` is Image Laterality (L, R, B) and ``view`` the ACR abbreviation
    (CC, MLO, ML, ...) decoded from View Code Sequence, when present.
    """

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    modality: str
    path: str
    laterality: str | None = None
    view: str | None = None
    presentation_intent: str | None = None
    number_of_frames: int = 1


@dataclass(frozen=True)
class StudyRef:
    """A study and the instances received for it."""

    study_instance_uid: str
    instances: tuple[InstanceRef, ...]
    patient_id: str | None = None
    accession_number: str | None = None
    generation: int = 1

    def views_present(self) -> set[tuple[str, str]]:
        """(laterality, view) pairs of the For Presentation mammograms present."""
        return {
            (i.laterality, i.view)
            for i in self.instances
            if i.laterality and i.view and i.presentation_intent != PresentationIntent.FOR_PROCESSING
        }


class StudyState(StrEnum):
    """Life cycle of a study in the gateway."""

    RECEIVING = "receiving"
    STABLE = "stable"


class JobState(StrEnum):
    """States of a job in the ledger."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    """One (study, algorithm) job as recorded in the ledger."""

    id: int
    study_instance_uid: str
    algorithm_id: str
    state: JobState
    attempts: int = 0
    generation: int = 1
    last_error: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None


@dataclass(frozen=True)
class AlgorithmManifest:
    """What an algorithm is, what it takes and what it gives (STYLE pattern 3)."""

    id: str
    version: str
    name: str
    intended_use: str
    modalities: tuple[str, ...]
    sop_class_uids: tuple[str, ...]
    views: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    manufacturer: str = "breastgate"
    label: str = NOT_FOR_DIAGNOSTIC_USE
    #: The model card that documents this version: ``<path in the repository>@<card version>``
    #: (intended use, data, measured figures, failure modes); named in the CAD SR and results JSON.
    model_card: str = ""


class AlgorithmStatus(StrEnum):
    """Outcome of an algorithm on a study or an image."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ImageOutcome:
    """What an algorithm did with one image, with the reason when it skipped it."""

    sop_instance_uid: str
    status: AlgorithmStatus
    message: str = ""
    laterality: str | None = None
    view: str | None = None
    measurements: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BreastDensity:
    """Density of one breast, from the images of that side."""

    laterality: str
    category: str
    percent_dense: float
    sop_instance_uids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DensityAssessment:
    """Study-level breast density: BI-RADS 5th edition category a-d and area percent density."""

    category: str
    percent_dense: float
    per_breast: Mapping[str, BreastDensity] = field(default_factory=dict)


class FindingKind(StrEnum):
    """Kinds of finding (DESIGN §4 ``findings[].kind``)."""

    MASS = "mass"
    CALCIFICATION_CLUSTER = "calcification_cluster"
    ARCHITECTURAL_DISTORTION = "architectural_distortion"
    ASYMMETRY = "asymmetry"
    ENHANCING_LESION = "enhancing_lesion"
    US_LESION = "us_lesion"


Point = tuple[float, float]
"""Image coordinates (column, row), origin at the top-left corner of the top-left pixel (SR SCOORD)."""


@dataclass(frozen=True)
class Mark:
    """Where a finding is on one image (one CAD mark, PS3.16 TID 4006 Single Image Finding).

    ``point`` is the centre, ``bbox`` (c0, r0, c1, r1) the extent, ``outline`` an optional closed
    polygon; ``members`` the centres of the individual calcifications of a cluster on this image.
    ``frame`` is 1-based and set for multi-frame images (DBT). ``score`` is this mark's own 0-1
    score; the finding's score may differ when marks on several views are combined.
    ``patient_mm`` is ``point`` on ``frame`` in DICOM patient coordinates (LPS, mm) when the image
    places it (volumes: PS3.3 C.7.6.2.1.1), in that image's Frame of Reference.
    ``frames`` is the (first, last) 1-based frames the lesion spans on a multi-frame image (DBT: the
    slices it was detected on), inclusive; None when unknown or for single-frame images.
    """

    sop_instance_uid: str
    point: Point
    bbox: tuple[float, float, float, float]
    score: float
    laterality: str | None = None
    view: str | None = None
    frame: int | None = None
    sop_class_uid: str = ""
    outline: tuple[Point, ...] = ()
    members: tuple[Point, ...] = ()
    size_mm: float | None = None
    patient_mm: tuple[float, float, float] | None = None
    frames: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.frames is not None and not 1 <= self.frames[0] <= self.frames[1]:
            raise InvalidInputError(f"mark frames {self.frames} are not 1-based first..last")

    def frame_extent(self) -> tuple[int, int] | None:
        """(first, last) frames the mark spans: ``frames``, else ``frame`` alone, else None."""
        if self.frames is not None:
            return self.frames
        return None if self.frame is None else (self.frame, self.frame)


@dataclass(frozen=True)
class FindingLocation:
    """Clock position, quadrant, depth and distance from the nipple (reference algorithms.md §7).

    ``patient_mm`` (3-D modalities) is a mark's point in DICOM patient coordinates (LPS, mm), in
    the Frame of Reference of that mark's image: each DBT view is a separate compression of the
    breast, so the detectors take the highest-scoring mark's (``breastgate.algorithms._findings``).
    """

    clock: int | None = None
    quadrant: str | None = None
    depth: str | None = None  # anterior | middle | posterior
    distance_from_nipple_mm: float | None = None
    patient_mm: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Finding:
    """One lesion as the algorithm sees it: a kind, a side, a 0-1 score and its marks on the images.

    A finding marked on both the CC and the MLO view of a breast (correlated by distance from the
    nipple) is one finding with two marks (a CAD SR Composite Feature).
    """

    id: str
    kind: FindingKind
    laterality: str
    score: float
    marks: tuple[Mark, ...]
    size_mm: float | None = None
    location: FindingLocation | None = None
    attributes: Mapping[str, str | float] = field(default_factory=dict)
    correlated_with: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise InvalidInputError(f"finding {self.id}: score {self.score} outside 0..1")
        if self.laterality not in ("L", "R"):
            raise InvalidInputError(f"finding {self.id}: laterality {self.laterality!r} is not L or R")
        if not self.marks:
            raise InvalidInputError(f"finding {self.id}: no marks")


@dataclass(frozen=True)
class QualityCheck:
    """One positioning / image-quality check on an image or a study, in a technologist's words."""

    name: str
    passed: bool
    reason: str = ""
    sop_instance_uid: str | None = None
    laterality: str | None = None
    view: str | None = None
    value: float | None = None
    unit: str = ""


class Priority(StrEnum):
    """Reading priority (DESIGN §4 ``triage.priority``)."""

    STAT = "stat"
    URGENT = "urgent"
    ROUTINE = "routine"


@dataclass(frozen=True)
class CaseAssessment:
    """Study-level AI assessment: suspicion 0-100, a BI-RADS category draft (0-6) and a recommendation."""

    suspicion_score: float
    birads: str
    recommendation: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.suspicion_score <= 100.0:
            raise InvalidInputError(f"suspicion score {self.suspicion_score} outside 0..100")


@dataclass(frozen=True)
class Triage:
    """Reading-list priority and flags from a versioned policy (``policy`` = "id@version")."""

    priority: Priority
    score: float
    flags: tuple[str, ...]
    policy: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class RiskEstimate:
    """Absolute risk of invasive breast cancer from a risk model, in percent (DESIGN §4 ``risk``).

    ``None`` where the model gives no figure (e.g. BCRAT has no 5-year risk after age 85); the
    ``average_*`` figures are the model's for an "average" woman of the same age (and group).
    """

    model: str
    five_year_pct: float | None
    lifetime_pct: float | None
    average_five_year_pct: float | None = None
    average_lifetime_pct: float | None = None

    def __post_init__(self) -> None:
        for name in ("five_year_pct", "lifetime_pct", "average_five_year_pct", "average_lifetime_pct"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 100.0:
                raise InvalidInputError(f"risk {name} {value} outside 0..100")


@dataclass(frozen=True)
class AlgorithmResult:
    """Engine-neutral result of one algorithm on one study."""

    algorithm_id: str
    algorithm_version: str
    study_instance_uid: str
    status: AlgorithmStatus
    message: str = ""
    images: tuple[ImageOutcome, ...] = ()
    density: DensityAssessment | None = None
    findings: tuple[Finding, ...] = ()
    quality: tuple[QualityCheck, ...] = ()
    #: Operating point: findings with ``score >= threshold`` are shown (CAD SR Rendering Intent
    #: "Presentation Required"); lower ones are kept as "Presentation Optional".
    operating_threshold: float | None = None
    #: A risk model's estimate (study-level, from questionnaire answers rather than images).
    risk: RiskEstimate | None = None
    #: The manifest's model card (``path@version``) at the time of the run; empty when it has none.
    model_card: str = ""

    @property
    def input_sop_instance_uids(self) -> tuple[str, ...]:
        """SOP Instance UIDs the algorithm used (sorted, for deterministic output UIDs)."""
        return tuple(sorted(i.sop_instance_uid for i in self.images if i.status == AlgorithmStatus.OK))
