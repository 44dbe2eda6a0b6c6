"""Performance metrics of a case-level score against outcomes (DESIGN §6), as pure functions.

Everything takes plain arrays: ``scores`` (higher = more suspicious, any real scale; 0-1 for the
gateway's case score) and ``labels`` (1/True = cancer, 0/False = benign or normal). No
scikit-learn at runtime; the tests compare against it.

- :func:`roc_auc`: area under the ROC curve as the Mann-Whitney U statistic, a tie between a
  positive and a negative counting one half (Hanley & McNeil 1982).
- :func:`auc_with_ci`: the AUC with a percentile bootstrap confidence interval; positives and
  negatives are resampled separately (stratified), so every resample keeps the case mix; a seeded
  :class:`numpy.random.Generator` makes it deterministic for a seed.
- :func:`operating_point`: sensitivity, specificity, recall rate, PPV1 and cancer detection rate
  when the cases with ``score >= threshold`` are recalled (screening audit definitions of the ACR
  BI-RADS Atlas, 5th ed., follow-up and outcome monitoring: PPV1 = cancers / recalls,
  CDR = cancers detected per 1000 screens).
- :func:`cohen_kappa`: Cohen's kappa on ordered categories (density a-d), unweighted, linear or
  quadratic weights.
- :func:`calibration_bins`: reliability diagram bins (mean predicted vs observed cancer rate).
- :func:`froc`: free-response ROC, lesion-level sensitivity against mean false marks per image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

__all__ = [
    "AGE_BANDS",
    "AucEstimate",
    "CalibrationBin",
    "CaseRecord",
    "FrocCurve",
    "MarkOutcome",
    "OperatingPoint",
    "RocCurve",
    "SubgroupRow",
    "age_band",
    "auc_with_ci",
    "bootstrap_auc",
    "calibration_bins",
    "cohen_kappa",
    "confusion_matrix",
    "froc",
    "operating_point",
    "roc_auc",
    "roc_curve",
    "subgroup_table",
]

FloatArray = npt.NDArray[np.float64]
DENSITY_CATEGORIES = ("a", "b", "c", "d")
#: Bootstrap resamples ranked at once: bounds memory to about 8 bytes × chunk × cases.
_CHUNK = 250


def _arrays(
    scores: Iterable[float], labels: Iterable[bool | int]
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    s = np.asarray(list(scores) if not isinstance(scores, np.ndarray) else scores, dtype=np.float64)
    y = np.asarray(list(labels) if not isinstance(labels, np.ndarray) else labels).astype(bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores and labels must be 1-D of equal length, got {s.shape} and {y.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return s, y


def roc_auc(scores: Iterable[float], labels: Iterable[bool | int]) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n₊·n₋), ties counted half).

    Returns NaN when either class is absent (the AUC is undefined).
    """
    s, y = _arrays(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(s)  # average ranks: a tie contributes one half to U
    u = float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


@dataclass(frozen=True)
class AucEstimate:
    """An AUC with its percentile bootstrap interval (NaN when a class is absent)."""

    auc: float
    ci_low: float
    ci_high: float
    confidence: float
    n_resamples: int
    seed: int
    n_positive: int
    n_negative: int


def bootstrap_auc(
    scores: Iterable[float], labels: Iterable[bool | int], *, n_resamples: int = 2000, seed: int = 0
) -> FloatArray:
    """AUCs of ``n_resamples`` stratified bootstrap resamples (positives and negatives drawn with
    replacement within their class, so each resample has the original n₊ and n₋).

    Deterministic for a seed: the draws come from ``numpy.random.default_rng(seed)`` in a fixed
    order (all positive indices of a chunk, then all negative ones).
    """
    s, y = _arrays(scores, labels)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0 or n_resamples <= 0:
        return np.empty(0, dtype=np.float64)
    rng = np.random.default_rng(seed)
    out = np.empty(n_resamples, dtype=np.float64)
    n_pos, n_neg = len(pos), len(neg)
    for start in range(0, n_resamples, _CHUNK):
        size = min(_CHUNK, n_resamples - start)
        drawn_pos = pos[rng.integers(0, n_pos, size=(size, n_pos))]
        drawn_neg = neg[rng.integers(0, n_neg, size=(size, n_neg))]
        ranks = rankdata(np.concatenate([drawn_pos, drawn_neg], axis=1), axis=1)
        u = ranks[:, :n_pos].sum(axis=1) - n_pos * (n_pos + 1) / 2.0
        out[start : start + size] = u / (n_pos * n_neg)
    return out


def auc_with_ci(
    scores: Iterable[float],
    labels: Iterable[bool | int],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> AucEstimate:
    """AUC and its percentile bootstrap CI (:func:`bootstrap_auc`; percentiles by linear
    interpolation, ``numpy.percentile``'s default)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    s, y = _arrays(scores, labels)
    auc = roc_auc(s, y)
    aucs = bootstrap_auc(s, y, n_resamples=n_resamples, seed=seed)
    if math.isnan(auc) or len(aucs) == 0:
        low = high = math.nan
    else:
        tail = 100.0 * (1.0 - confidence) / 2.0
        low, high = (float(v) for v in np.percentile(aucs, [tail, 100.0 - tail]))
    return AucEstimate(auc, low, high, confidence, n_resamples, seed, int(y.sum()), int((~y).sum()))


@dataclass(frozen=True)
class RocCurve:
    """ROC points, one per distinct score, from (0, 0) (threshold +inf) to (1, 1)."""

    thresholds: tuple[float, ...]
    fpr: tuple[float, ...]
    tpr: tuple[float, ...]


def roc_curve(scores: Iterable[float], labels: Iterable[bool | int]) -> RocCurve:
    """The empirical ROC curve: at each distinct score ``t`` (descending), cases with
    ``score >= t`` are called positive (as ``sklearn.metrics.roc_curve(drop_intermediate=False)``).
    Rates are NaN when their class is absent."""
    s, y = _arrays(scores, labels)
    if len(s) == 0:
        return RocCurve((math.inf,), (math.nan,), (math.nan,))
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s_sorted) - 1]
    tps = np.cumsum(y_sorted)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    tpr = np.r_[0.0, tps / n_pos] if n_pos else np.full(len(tps) + 1, math.nan)
    fpr = np.r_[0.0, fps / n_neg] if n_neg else np.full(len(fps) + 1, math.nan)
    thresholds = (math.inf, *(float(v) for v in s_sorted[last_of_tie]))
    return RocCurve(thresholds, tuple(float(v) for v in fpr), tuple(float(v) for v in tpr))


@dataclass(frozen=True)
class OperatingPoint:
    """Screening outcome when cases with ``score >= threshold`` are recalled.

    ``recall_rate`` = recalls / screens; it is also the reading workload when the cases below the
    threshold are triaged out and only those at or above it are read. Ratios with an empty
    denominator are NaN.
    """

    threshold: float
    n: int
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def sensitivity(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def specificity(self) -> float:
        return _ratio(self.tn, self.tn + self.fp)

    @property
    def recall_rate(self) -> float:
        return _ratio(self.tp + self.fp, self.n)

    @property
    def ppv(self) -> float:
        """PPV1: cancers among recalls."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def cdr_per_1000(self) -> float:
        """Cancer detection rate: cancers detected per 1000 screens."""
        return 1000.0 * _ratio(self.tp, self.n)

    @property
    def workload(self) -> float:
        """Fraction of studies still read by a radiologist when those below the threshold are triaged out."""
        return self.recall_rate


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def operating_point(
    scores: Iterable[float], labels: Iterable[bool | int], threshold: float
) -> OperatingPoint:
    """Confusion counts and screening rates at ``threshold`` (recall when ``score >= threshold``)."""
    s, y = _arrays(scores, labels)
    called = s >= threshold
    tp = int(np.sum(called & y))
    fp = int(np.sum(called & ~y))
    fn = int(np.sum(~called & y))
    tn = int(np.sum(~called & ~y))
    return OperatingPoint(float(threshold), len(s), tp, fp, tn, fn)


def confusion_matrix(
    rater_a: Sequence[str], rater_b: Sequence[str], categories: Sequence[str] = DENSITY_CATEGORIES
) -> npt.NDArray[np.int64]:
    """Counts ``m[i, j]`` of cases rated ``categories[i]`` by A and ``categories[j]`` by B."""
    if len(rater_a) != len(rater_b):
        raise ValueError(f"raters have {len(rater_a)} and {len(rater_b)} ratings")
    index = {c: i for i, c in enumerate(categories)}
    m = np.zeros((len(categories), len(categories)), dtype=np.int64)
    for a, b in zip(rater_a, rater_b, strict=True):
        if a not in index or b not in index:
            raise ValueError(f"rating {a!r} or {b!r} is not one of {list(categories)}")
        m[index[a], index[b]] += 1
    return m


def cohen_kappa(
    rater_a: Sequence[str],
    rater_b: Sequence[str],
    *,
    weights: Literal["linear", "quadratic"] | None = None,
    categories: Sequence[str] = DENSITY_CATEGORIES,
) -> float:
    """Cohen's kappa between two raters on ordered ``categories`` (BI-RADS density a-d by default).

    kappa = 1 - Σ w·O / Σ w·E, with O the observed and E the chance-expected (product of the
    marginals) confusion matrices and disagreement weights ``w_ij`` = 1 for i ≠ j (unweighted),
    ``|i - j|`` (linear) or ``(i - j)²`` (quadratic), as ``sklearn.metrics.cohen_kappa_score``.
    NaN when there are no ratings or chance disagreement is zero.
    """
    observed = confusion_matrix(rater_a, rater_b, categories).astype(np.float64)
    total = observed.sum()
    if total == 0:
        return math.nan
    k = len(categories)
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(np.float64)
    elif weights == "linear":
        w = np.abs(i - j).astype(np.float64)
    elif weights == "quadratic":
        w = ((i - j) ** 2).astype(np.float64)
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    chance = float((w * expected).sum())
    if chance == 0.0:
        return math.nan
    return 1.0 - float((w * observed).sum()) / chance


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of a reliability diagram; ``mean_score`` and ``observed_rate`` are NaN when empty."""

    lower: float
    upper: float
    count: int
    positives: int
    mean_score: float
    observed_rate: float


def calibration_bins(
    scores: Iterable[float], labels: Iterable[bool | int], n_bins: int = 10
) -> list[CalibrationBin]:
    """Equal-width bins over [0, 1] (the last one closed): per bin the number of cases, the mean
    score and the observed cancer rate. A well calibrated score lies on the diagonal."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    s, y = _arrays(scores, labels)
    if np.any((s < 0.0) | (s > 1.0)):
        raise ValueError("calibration needs scores in [0, 1]")
    index = np.minimum((s * n_bins).astype(np.int64), n_bins - 1)
    bins = []
    for b in range(n_bins):
        inside = index == b
        count = int(inside.sum())
        positives = int(y[inside].sum())
        bins.append(
            CalibrationBin(
                b / n_bins,
                (b + 1) / n_bins,
                count,
                positives,
                float(s[inside].mean()) if count else math.nan,
                positives / count if count else math.nan,
            )
        )
    return bins


@dataclass(frozen=True)
class MarkOutcome:
    """One CAD mark for FROC: its score and the lesion it hits (None: a false mark)."""

    score: float
    lesion: str | None


@dataclass(frozen=True)
class FrocCurve:
    """FROC points, one per distinct mark score (descending), starting at (0 FP/image, 0)."""

    thresholds: tuple[float, ...]
    sensitivity: tuple[float, ...]
    fp_per_image: tuple[float, ...]
    n_lesions: int
    n_images: int

    def sensitivity_at_fp(self, fp_per_image: float) -> float:
        """Highest lesion sensitivity with at most ``fp_per_image`` false marks per image."""
        ok = [s for s, f in zip(self.sensitivity, self.fp_per_image, strict=True) if f <= fp_per_image]
        return max(ok) if ok else math.nan


def froc(marks: Sequence[MarkOutcome], n_lesions: int, n_images: int) -> FrocCurve:
    """Free-response ROC (Chakraborty 1989): at each threshold ``t``, the fraction of lesions hit by
    at least one mark with ``score >= t`` and the number of marks with ``score >= t`` that hit no
    lesion, per image. A second mark on an already hit lesion is neither a hit nor a false mark.
    Sensitivity is NaN without lesions, false marks per image NaN without images.
    """
    if n_lesions < 0 or n_images < 0:
        raise ValueError("n_lesions and n_images must be >= 0")
    known = {m.lesion for m in marks if m.lesion is not None}
    if len(known) > n_lesions:
        raise ValueError(f"marks hit {len(known)} distinct lesions but n_lesions is {n_lesions}")
    ordered = sorted(marks, key=lambda m: -m.score)
    thresholds: list[float] = [math.inf]
    sens: list[float] = [0.0 if n_lesions else math.nan]
    fppi: list[float] = [0.0 if n_images else math.nan]
    hit: set[str] = set()
    false = 0
    for k, mark in enumerate(ordered):
        if mark.lesion is None:
            false += 1
        else:
            hit.add(mark.lesion)
        if k + 1 < len(ordered) and ordered[k + 1].score == mark.score:
            continue  # one point per distinct score
        thresholds.append(float(mark.score))
        sens.append(len(hit) / n_lesions if n_lesions else math.nan)
        fppi.append(false / n_images if n_images else math.nan)
    return FrocCurve(tuple(thresholds), tuple(sens), tuple(fppi), n_lesions, n_images)


AGE_BANDS = ("<40", "40-49", "50-59", "60-69", "70+")


def age_band(age: float | None) -> str:
    """Screening age band of an age in years: <40, 40-49, 50-59, 60-69, 70+ ("unknown" when None)."""
    if age is None or math.isnan(age):
        return "unknown"
    if age < 40:
        return "<40"
    if age >= 70:
        return "70+"
    decade = int(age // 10) * 10
    return f"{decade}-{decade + 9}"


@dataclass(frozen=True)
class CaseRecord:
    """One screen for subgroup analysis: its case score, whether it was a cancer, and the
    attributes subgroups are drawn from (None when unknown)."""

    score: float
    cancer: bool
    density: str | None = None
    age: float | None = None
    manufacturer: str | None = None
    model: str | None = None

    @property
    def device(self) -> str:
        """``manufacturer / model`` (``unknown`` for a missing part)."""
        return f"{self.manufacturer or 'unknown'} / {self.model or 'unknown'}"


@dataclass(frozen=True)
class SubgroupRow:
    """Metrics of one subgroup; ``auc`` is None unless both classes are present."""

    group: str
    n: int
    positives: int
    auc: AucEstimate | None
    point: OperatingPoint


def _density_key(record: CaseRecord) -> str:
    return record.density or "unknown"


def _age_key(record: CaseRecord) -> str:
    return age_band(record.age)


def _device_key(record: CaseRecord) -> str:
    return record.device


SUBGROUP_KEYS: dict[str, Callable[[CaseRecord], str]] = {
    "density": _density_key,
    "age_band": _age_key,
    "device": _device_key,
}


def subgroup_table(
    records: Sequence[CaseRecord],
    by: str,
    threshold: float,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
) -> list[SubgroupRow]:
    """Per subgroup (``by``: ``density``, ``age_band`` or ``device``): n, cancers, AUC with its
    bootstrap CI when both classes are present, and sensitivity, specificity, recall rate and PPV
    at ``threshold``. Rows are sorted by group name (age bands in age order), so the table is
    deterministic; each group's bootstrap uses ``seed``.
    """
    try:
        key = SUBGROUP_KEYS[by]
    except KeyError:
        raise ValueError(f"subgroup {by!r} is not one of {sorted(SUBGROUP_KEYS)}") from None
    groups: dict[str, list[CaseRecord]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    order = {band: k for k, band in enumerate((*AGE_BANDS, "unknown"))} if by == "age_band" else {}
    rows = []
    for name in sorted(groups, key=lambda g: (order.get(g, len(order)), g)):
        members = groups[name]
        scores = [r.score for r in members]
        labels = [r.cancer for r in members]
        positives = sum(labels)
        both = 0 < positives < len(members)
        auc = auc_with_ci(scores, labels, n_resamples=n_resamples, seed=seed) if both else None
        point = operating_point(scores, labels, threshold)
        rows.append(SubgroupRow(name, len(members), positives, auc, point))
    return rows
