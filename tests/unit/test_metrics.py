"""governance.metrics against scikit-learn (a test dependency only) and hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from breastgate.governance.metrics import (
    CaseRecord,
    MarkOutcome,
    age_band,
    auc_with_ci,
    bootstrap_auc,
    calibration_bins,
    cohen_kappa,
    froc,
    operating_point,
    roc_auc,
    roc_curve,
    subgroup_table,
)

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def _random_case(seed: int, n: int = 200, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    scores = rng.normal(0.0, 1.0, n) + 0.8 * labels
    if ties:
        scores = np.round(scores, 1)  # many ties between the classes
    return scores, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_auc_matches_sklearn(seed: int, ties: bool) -> None:
    scores, labels = _random_case(seed, ties=ties)
    assert roc_auc(scores, labels) == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores), abs=1e-12)


def test_auc_hand_computed_with_a_tie() -> None:
    # positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5) (0.9>0.1) (0.5=0.5 → ½) (0.5>0.1)
    assert roc_auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)
    assert math.isnan(roc_auc([0.1, 0.2], [0, 0]))


def test_roc_curve_matches_sklearn() -> None:
    scores, labels = _random_case(3, n=60, ties=True)
    curve = roc_curve(scores, labels)
    fpr, tpr, thr = sklearn_metrics.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(curve.fpr, fpr)
    np.testing.assert_allclose(curve.tpr, tpr)
    np.testing.assert_allclose(curve.thresholds[1:], thr[1:])
    assert curve.thresholds[0] == math.inf


def test_bootstrap_ci_is_deterministic_for_a_seed_and_brackets_the_auc() -> None:
    scores, labels = _random_case(4)
    a = auc_with_ci(scores, labels, seed=7)
    b = auc_with_ci(scores, labels, seed=7)
    c = auc_with_ci(scores, labels, seed=8)
    assert a == b
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.ci_low < a.auc < a.ci_high
    assert a.n_resamples == 2000 and a.n_positive == int(labels.sum())
    assert 0.05 < a.ci_high - a.ci_low < 0.3


def test_bootstrap_is_stratified() -> None:
    # One positive: every stratified resample keeps it, so the AUC of each resample is defined.
    scores = [0.9, 0.1, 0.2, 0.95]
    labels = [1, 0, 0, 0]
    aucs = bootstrap_auc(scores, labels, n_resamples=500, seed=1)
    assert len(aucs) == 500 and np.all(np.isfinite(aucs))
    np.testing.assert_allclose(aucs * 3, np.round(aucs * 3))  # 0, 1/3, 2/3 or 1 of three negatives


def test_auc_ci_is_nan_with_one_class() -> None:
    est = auc_with_ci([0.1, 0.4], [0, 0])
    assert math.isnan(est.auc) and math.isnan(est.ci_low) and math.isnan(est.ci_high)


def test_operating_point_hand_computed() -> None:
    scores = [0.9, 0.8, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.7, 0.5]
    labels = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    op = operating_point(scores, labels, 0.5)  # recalled: 0.9 0.8 0.6 0.7 0.5
    assert (op.tp, op.fp, op.tn, op.fn) == (2, 3, 4, 1)
    assert op.sensitivity == pytest.approx(2 / 3)
    assert op.specificity == pytest.approx(4 / 7)
    assert op.recall_rate == pytest.approx(0.5) == op.workload
    assert op.ppv == pytest.approx(2 / 5)
    assert op.cdr_per_1000 == pytest.approx(200.0)
    none = operating_point(scores, labels, 2.0)
    assert none.recall_rate == 0 and math.isnan(none.ppv)


def test_operating_point_matches_sklearn_recall_and_precision() -> None:
    scores, labels = _random_case(5)
    op = operating_point(scores, labels, 0.4)
    called = scores >= 0.4
    assert op.sensitivity == pytest.approx(sklearn_metrics.recall_score(labels, called))
    assert op.ppv == pytest.approx(sklearn_metrics.precision_score(labels, called))
    assert op.specificity == pytest.approx(sklearn_metrics.recall_score(~labels, ~called))


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_matches_sklearn(weights: str | None) -> None:
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 4, 300)
    noisy = np.clip(truth + rng.choice([-1, 0, 0, 0, 1, 2], 300), 0, 3)
    a = ["abcd"[i] for i in truth]
    b = ["abcd"[i] for i in noisy]
    expected = sklearn_metrics.cohen_kappa_score(a, b, weights=weights, labels=list("abcd"))
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(expected, abs=1e-12)  # type: ignore[arg-type]


def test_kappa_hand_computed() -> None:
    # Perfect agreement → 1; O = [[1,1],[0,2]] on two categories: po = 3/4, pe = (2·1 + 2·3)/16 = 1/2.
    assert cohen_kappa(list("abcd"), list("abcd"), weights="quadratic") == pytest.approx(1.0)
    kappa = cohen_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"], categories=("a", "b"))
    assert kappa == pytest.approx(0.5)
    with pytest.raises(ValueError, match="not one of"):
        cohen_kappa(["a"], ["e"])


def test_calibration_bins() -> None:
    bins = calibration_bins([0.05, 0.15, 0.12, 0.95, 1.0], [0, 0, 1, 1, 1], n_bins=10)
    assert len(bins) == 10
    assert (bins[0].count, bins[1].count, bins[9].count) == (1, 2, 2)
    assert bins[1].observed_rate == pytest.approx(0.5) and bins[1].mean_score == pytest.approx(0.135)
    assert bins[9].observed_rate == 1.0
    assert bins[5].count == 0 and math.isnan(bins[5].observed_rate)
    with pytest.raises(ValueError):
        calibration_bins([1.5], [1])


def test_froc_hand_computed() -> None:
    marks = [
        MarkOutcome(0.9, "L1"),
        MarkOutcome(0.8, None),
        MarkOutcome(0.7, "L1"),  # second hit on L1: neither a hit nor a false mark
        MarkOutcome(0.6, "L2"),
        MarkOutcome(0.6, None),
        MarkOutcome(0.2, None),
    ]
    curve = froc(marks, n_lesions=3, n_images=4)
    assert curve.thresholds == (math.inf, 0.9, 0.8, 0.7, 0.6, 0.2)
    assert curve.sensitivity == pytest.approx((0, 1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3))
    assert curve.fp_per_image == pytest.approx((0, 0, 0.25, 0.25, 0.5, 0.75))
    assert curve.sensitivity_at_fp(0.5) == pytest.approx(2 / 3)
    assert curve.sensitivity_at_fp(0.3) == pytest.approx(1 / 3)


def test_age_bands() -> None:
    assert [age_band(a) for a in (39.9, 40, 49.5, 50, 65, 69.99, 70, 91)] == [
        "<40", "40-49", "40-49", "50-59", "60-69", "60-69", "70+", "70+",
    ]  # fmt: skip
    assert age_band(None) == "unknown"


def test_subgroup_table() -> None:
    records = [
        CaseRecord(0.9, True, "a", 45, "V1", "M1"),
        CaseRecord(0.2, False, "a", 47, "V1", "M1"),
        CaseRecord(0.6, False, "a", 72, "V1", "M1"),
        CaseRecord(0.4, True, "c", 55, "V2", "M2"),
        CaseRecord(0.1, False, "c", 38, "V2", None),
        CaseRecord(0.3, False, None, None, None, None),
    ]
    by_density = subgroup_table(records, "density", 0.5, n_resamples=200, seed=3)
    assert [r.group for r in by_density] == ["a", "c", "unknown"]
    a = by_density[0]
    assert (a.n, a.positives) == (3, 1)
    assert a.auc is not None and a.auc.auc == pytest.approx(1.0)
    assert a.point.sensitivity == 1.0 and a.point.specificity == 0.5 and a.point.ppv == 0.5
    assert by_density[2].auc is None  # one class only
    ages = subgroup_table(records, "age_band", 0.5, n_resamples=50)
    assert [r.group for r in ages] == ["<40", "40-49", "50-59", "70+", "unknown"]
    devices = subgroup_table(records, "device", 0.5, n_resamples=50)
    assert [r.group for r in devices] == ["V1 / M1", "V2 / M2", "V2 / unknown", "unknown / unknown"]
    with pytest.raises(ValueError, match="subgroup"):
        subgroup_table(records, "ethnicity", 0.5)
