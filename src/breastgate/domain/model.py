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


class PriorStatus(StrEnum):
    """What became of the priors a study's algorithms asked for (``StudyRef.prior_status``)."""

    #: Prior studies are held and attached (``StudyRef.priors``).
    HELD = "held"
    #: The PACS was asked and has no prior study that fits the selection rules.
    NONE_AVAILABLE = "none_available"
    #: Priors exist (or the PACS could not be asked) but were not on disk when the wait ran out.
    NOT_IN_TIME = "not_in_time"
    #: Nobody looked: no PACS to ask, no algorithm wanting priors, or an offline analysis.
    NOT_SOUGHT = "not_sought"


#: How each prior status reads in results and reports.
PRIOR_STATUS_TEXT: Mapping[PriorStatus, str] = {
    PriorStatus.HELD: "compared with prior",
    PriorStatus.NONE_AVAILABLE: "no prior available",
    PriorStatus.NOT_IN_TIME: "prior not fetched in time",
    PriorStatus.NOT_SOUGHT: "priors not sought",
}


@dataclass(frozen=True)
class StudyRef:
    """A study and the instances received for it.

    ``priors`` are the patient's earlier studies held by the gateway that fit the selection rules
    of the algorithms routed to this study (most recent first), each a StudyRef of its own;
    ``prior_status`` says whether priors were found, not available, or not fetched in time.
    ``study_date`` is Study Date (YYYYMMDD) when known.
    """

    study_instance_uid: str
    instances: tuple[InstanceRef, ...]
    patient_id: str | None = None
    accession_number: str | None = None
    generation: int = 1
    study_date: str | None = None
    priors: tuple[StudyRef, ...] = ()
    prior_status: PriorStatus = PriorStatus.NOT_SOUGHT

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
    #: Modalities of the prior studies this algorithm reads beside the current one (empty: none);
    #: routing fetches and attaches them (``StudyRef.priors``) before the algorithm runs.
    prior_modalities: tuple[str, ...] = ()


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
    ``lines`` are measurement lines (start, end) drawn with the mark: an ultrasound lesion's
    caliper lines (width and depth).
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
    lines: tuple[tuple[Point, Point], ...] = ()

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


class ChangeKind(StrEnum):
    """How a finding compares with the prior study (DESIGN §4 ``findings[].comparison.change``)."""

    NEW = "new"
    STABLE = "stable"
    INCREASED = "increased"
    DECREASED = "decreased"


@dataclass(frozen=True)
class FindingComparison:
    """A current finding mapped into a prior study (DESIGN §4 ``findings[].comparison``).

    ``size_change_mm`` is current size minus prior size (None for a new finding);
    ``prior_marks`` say where the finding (or, for a new one, the place it maps to) is on the
    prior's images.
    """

    prior_study_instance_uid: str
    change: ChangeKind
    size_change_mm: float | None = None
    prior_size_mm: float | None = None
    prior_study_date: str | None = None
    prior_marks: tuple[Mark, ...] = ()


class InitialPhase(StrEnum):
    """BI-RADS MRI initial-phase enhancement (reference algorithms.md §3.1)."""

    SLOW = "slow"
    MEDIUM = "medium"
    FAST = "fast"


class DelayedPhase(StrEnum):
    """BI-RADS MRI delayed-phase curve shape."""

    PERSISTENT = "persistent"
    PLATEAU = "plateau"
    WASHOUT = "washout"


#: Kinetic curve type of each delayed phase (I persistent, II plateau, III washout).
CURVE_TYPE: Mapping[DelayedPhase, str] = {
    DelayedPhase.PERSISTENT: "I",
    DelayedPhase.PLATEAU: "II",
    DelayedPhase.WASHOUT: "III",
}


@dataclass(frozen=True)
class FindingKinetics:
    """DCE-MRI kinetics of an enhancing lesion (DESIGN §4 ``findings[].kinetics``): the worst curve.

    Shares are fractions (0-1) of the lesion's enhancing voxels; ``peak_enhancement_pct`` is the
    highest percent enhancement over baseline of the lesion's mean curve.
    """

    initial_phase: InitialPhase
    delayed_phase: DelayedPhase
    peak_enhancement_pct: float | None = None
    washout_share: float | None = None
    plateau_share: float | None = None
    persistent_share: float | None = None

    @property
    def curve_type(self) -> str:
        return CURVE_TYPE[self.delayed_phase]


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
    comparison: FindingComparison | None = None
    kinetics: FindingKinetics | None = None
    #: Three orthogonal diameters (mm, largest first) and the volume (mm³) of a 3-D lesion (MRI).
    diameters_mm: tuple[float, float, float] | None = None
    volume_mm3: float | None = None

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
class ResultVolume:
    """A voxel map an algorithm computed on one image series (stdlib only: raw bytes + shape).

    ``name`` says what it is (``kinetic_class``: 0 none, 1 persistent, 2 plateau, 3 washout;
    ``lesion_labels``: 0 background, n = the n-th finding of the result; ``percent_enhancement``:
    float32 percent over baseline). ``data`` is C-ordered (slices, rows, columns) of ``dtype``
    (a numpy dtype name). The voxel grid is the one of the source frames: slice k is
    ``source_sop_instance_uids[k]`` (frame ``source_frames[k]`` of it when the source is
    multi-frame). Volumes feed the DICOM encoders (SEG, Parametric Map, fused colour maps); they
    are not part of the results JSON.
    """

    name: str
    shape: tuple[int, int, int]
    dtype: str
    data: bytes
    source_sop_instance_uids: tuple[str, ...]
    source_frames: tuple[int, ...] = ()
    labels: Mapping[int, str] = field(default_factory=dict)
    unit: str = ""


@dataclass(frozen=True)
class DensityChange:
    """Breast density now against the prior study (results JSON ``density_change``).

    ``change_pp`` is current minus prior percent density, in percentage points.
    """

    prior_study_instance_uid: str
    prior_category: str
    prior_percent_dense: float
    change_pp: float
    prior_study_date: str | None = None


@dataclass(frozen=True)
class PriorUse:
    """Which priors an algorithm read, or why it read none (results JSON ``algorithms[].priors``)."""

    status: PriorStatus
    study_instance_uids: tuple[str, ...] = ()
    message: str = ""


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
    #: Voxel maps for the 3-D encoders (not stored in the payload).
    volumes: tuple[ResultVolume, ...] = ()
    #: The priors the algorithm compared with (algorithms that read priors only).
    priors: PriorUse | None = None
    #: Density against the prior study (prior comparison only).
    density_change: DensityChange | None = None

    @property
    def input_sop_instance_uids(self) -> tuple[str, ...]:
        """SOP Instance UIDs the algorithm used (sorted, for deterministic output UIDs)."""
        return tuple(sorted(i.sop_instance_uid for i in self.images if i.status == AlgorithmStatus.OK))
