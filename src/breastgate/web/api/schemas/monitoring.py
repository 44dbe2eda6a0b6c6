"""Response models of monitoring (``breastgate.monitoring/1``, ``breastgate.drift/1``) and of
version comparison (``breastgate.comparison/1``): the documents of
:mod:`breastgate.governance.monitoring` and :mod:`breastgate.governance.compare`. Ratios are null
where their denominator is empty (NaN in the computation)."""

from __future__ import annotations

from pydantic import Field

from breastgate.web.api.schemas.base import Number, Schema, Timestamp

__all__ = [
    "Agreement",
    "Auc",
    "AucDifference",
    "ComparedStudy",
    "Comparison",
    "ComparisonDensity",
    "ComparisonFindings",
    "ComparisonScores",
    "ComparisonSide",
    "DensityAgreement",
    "Disagreement",
    "DriftCheck",
    "DriftReport",
    "DriftWindow",
    "GroupAgreement",
    "MonitoredVersions",
    "MonitoringCounts",
    "MonitoringReport",
    "OperatingPoint",
    "SubgroupRow",
    "VersionCount",
]


class Auc(Schema):
    """An AUC with its percentile bootstrap interval."""

    value: Number | None
    ci_low: Number | None
    ci_high: Number | None
    confidence: Number
    n_resamples: int
    seed: int
    n_positive: int
    n_negative: int


class OperatingPoint(Schema):
    """Outcome when cases with ``score >= threshold`` are recalled."""

    label: str = Field(description="e.g. score ≥ 0.5")
    threshold: Number | None
    n: int
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: Number | None
    specificity: Number | None
    recall_rate: Number | None
    ppv: Number | None
    cdr_per_1000: Number | None
    workload: Number | None


class SubgroupRow(Schema):
    """Metrics of one subgroup (density, age band, device) at the subgroup threshold."""

    group: str
    n: int
    positives: int
    auc: Auc | None
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: Number | None
    specificity: Number | None
    recall_rate: Number | None
    ppv: Number | None
    cdr_per_1000: Number | None
    workload: Number | None


class Agreement(Schema):
    """Agreement of the AI's density categories with the radiologists'."""

    n: int
    kappa_linear: Number | None
    kappa_quadratic: Number | None
    exact_agreement: Number | None


class GroupAgreement(Schema):
    group: str
    n: int
    kappa_linear: Number | None
    kappa_quadratic: Number | None
    exact_agreement: Number | None


class DensityAgreement(Agreement):
    n_unknown: int
    n_without_ai_density: int
    confusion_ai_rows_radiologist_columns: list[list[int]]
    by_age_band: list[GroupAgreement]
    by_device: list[GroupAgreement]


class MonitoringCounts(Schema):
    results: int
    ok: int
    failed: int
    skipped: int
    with_truth: int
    n_unknown: int
    cancer: int
    not_cancer: int


class MonitoringReport(Schema):
    """``GET /api/monitoring/algorithms/{id}/versions/{version}``: accuracy against outcomes.

    Lesion algorithms carry the accuracy fields (``case_score`` … ``subgroups``); density
    algorithms ``density_agreement``.
    """

    schema_: str = Field(alias="schema", description="breastgate.monitoring/1")
    algorithm_id: str
    version: str
    kind: str = Field(description="lesion | density | lesion+density | other")
    counts: MonitoringCounts
    density_source: str
    operating_points_source: str | None = Field(default=None, description="given | results | fallback")
    case_score: str | None = None
    auc: Auc | None = None
    operating_points: list[OperatingPoint] | None = None
    subgroup_threshold: Number | None = None
    #: By ``density``, ``age_band`` and ``device``.
    subgroups: dict[str, list[SubgroupRow]] | None = None
    density_agreement: DensityAgreement | None = None


class VersionCount(Schema):
    """A version the gateway registered or holds results of."""

    algorithm_id: str
    version: str
    name: str | None
    registered: bool
    available: bool | None
    results: int
    by_status: dict[str, int]
    latest_result_at: Timestamp | None


class MonitoredVersions(Schema):
    """``GET /api/monitoring/algorithms``."""

    versions: list[VersionCount]


class DriftWindow(Schema):
    start: Timestamp
    end: Timestamp
    n: int


class DriftCheck(Schema):
    """Baseline against current scores of one device."""

    device: str
    n_baseline: int
    n_current: int
    evaluated: bool
    psi: Number | None
    psi_level: str
    ks_statistic: Number | None
    ks_pvalue: Number | None
    crossed: bool
    note: str


class DriftReport(Schema):
    """``GET /api/monitoring/algorithms/{id}/versions/{version}/drift``."""

    schema_: str = Field(alias="schema", description="breastgate.drift/1")
    algorithm_id: str
    version: str
    kind: str
    quantity: str | None = Field(description="case_score | percent_dense; null: nothing to compare")
    now: Timestamp
    baseline: DriftWindow
    current: DriftWindow
    psi_threshold: Number
    ks_alpha: Number
    min_samples: int
    checks: list[DriftCheck]


# Comparison --------------------------------------------------------------------------------------
class ComparisonSide(Schema):
    algorithm_id: str
    version: str
    n_ok: int
    lesion: bool
    density: bool


class Bootstrap(Schema):
    n_resamples: int
    seed: int
    paired: bool


class AucDifference(Schema):
    value: Number | None
    ci_low: Number | None
    ci_high: Number | None


class Spearman(Schema):
    rho: Number | None
    p_value: Number | None
    n: int


class ComparisonScores(Schema):
    n_with_truth: int
    n_cancer: int
    bootstrap: Bootstrap
    auc_a: Auc
    auc_b: Auc
    auc_difference: AucDifference = Field(description="B - A, paired bootstrap")
    spearman: Spearman


class ComparisonFindings(Schema):
    mean_a: Number | None
    mean_b: Number | None
    mean_difference: Number | None
    more_in_a: int
    more_in_b: int
    equal: int


class Confusion(Schema):
    categories: list[str]
    rows: str
    columns: str
    counts: list[list[int]]


class VersusRadiologist(Schema):
    n: int
    kappa_linear_a: Number | None
    kappa_linear_b: Number | None


class ComparisonDensity(Schema):
    n: int
    exact_agreement: Number | None
    kappa_linear: Number | None
    kappa_quadratic: Number | None
    confusion: Confusion
    vs_radiologist: VersusRadiologist


class ComparedStudy(Schema):
    study_instance_uid: str
    score_a: Number | None
    score_b: Number | None
    findings_a: int
    findings_b: int
    density_a: str | None
    density_b: str | None


class Disagreement(Schema):
    study_instance_uid: str
    score_a: Number | None
    score_b: Number | None
    score_difference: Number | None
    density_a: str | None
    density_b: str | None
    density_steps: int | None
    findings_difference: int


class Comparison(Schema):
    """``GET /api/algorithms/compare``: two versions on the studies both analysed."""

    schema_: str = Field(alias="schema", description="breastgate.comparison/1")
    a: ComparisonSide
    b: ComparisonSide
    n_common: int
    case_score: str | None
    scores: ComparisonScores | None
    findings: ComparisonFindings
    density: ComparisonDensity | None
    studies: list[ComparedStudy]
    disagreements: list[Disagreement] = Field(description="Most different first")
