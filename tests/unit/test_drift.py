"""governance.drift: PSI and KS cross on a shifted distribution and not on the same one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from breastgate.governance.drift import PSI_MAJOR, PSI_MODERATE, check_drift, ks_test, psi, psi_level


def _beta(seed: int, a: float, b: float, n: int = 2000) -> np.ndarray:
    return np.random.default_rng(seed).beta(a, b, n)


def test_psi_is_near_zero_for_the_same_distribution() -> None:
    assert psi(_beta(1, 2, 5), _beta(2, 2, 5)) < PSI_MODERATE
    assert psi(_beta(1, 2, 5), _beta(1, 2, 5)) == pytest.approx(0.0, abs=1e-12)


def test_psi_grows_with_the_shift() -> None:
    base = _beta(1, 2, 5)
    small = psi(base, _beta(3, 2.4, 5))
    large = psi(base, _beta(3, 5, 2))
    assert small < large
    assert large >= PSI_MAJOR
    assert psi_level(large) == "major" and psi_level(0.15) == "moderate" and psi_level(0.01) == "stable"
    assert psi_level(math.nan) == "unknown"


def test_psi_hand_computed() -> None:
    # Baseline quartile edges 2.5, 4.5, 6.5 over 1..8: bins hold 2 each (0.25); current all in bin 0.
    base = [1, 2, 3, 4, 5, 6, 7, 8]
    cur = [1, 1, 2, 2]
    eps = 1e-4
    expected = (1 - 0.25) * math.log(1 / 0.25) + 3 * (eps - 0.25) * math.log(eps / 0.25)
    assert psi(base, cur, n_bins=4, epsilon=eps) == pytest.approx(expected)


def test_psi_survives_tied_baselines() -> None:
    base = [0.0] * 90 + list(np.linspace(0.1, 1, 10))  # most quantile edges coincide
    assert math.isfinite(psi(base, base))
    assert psi(base, [0.5] * 50) > PSI_MAJOR


def test_ks_matches_scipy() -> None:
    a, b = _beta(4, 2, 5, 300), _beta(5, 2.5, 5, 250)
    expected = ks_2samp(a, b)
    assert ks_test(a, b) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))


def test_check_drift_per_device() -> None:
    baseline = {"Vendor A / M1": _beta(10, 2, 5), "Vendor B / M2": _beta(11, 2, 5), "new / X": []}
    current = {
        "Vendor A / M1": _beta(12, 2, 5),
        "Vendor B / M2": _beta(13, 4, 3),
        "new / X": _beta(1, 2, 2, 10),
    }
    checks = {c.key: c for c in check_drift(baseline, current)}
    assert sorted(checks) == ["Vendor A / M1", "Vendor B / M2", "new / X"]
    same, shifted, small = checks["Vendor A / M1"], checks["Vendor B / M2"], checks["new / X"]
    assert not same.crossed and same.psi < PSI_MODERATE and same.ks_pvalue > 0.01
    assert shifted.crossed and shifted.psi >= PSI_MAJOR and shifted.ks_pvalue < 1e-6
    assert shifted.psi_level == "major" and shifted.psi_threshold == PSI_MAJOR and shifted.ks_alpha == 0.01
    assert shifted.n_baseline == 2000 and shifted.n_current == 2000
    assert not small.crossed and math.isnan(small.psi) and "too few" in small.note


def test_ks_alone_can_cross() -> None:
    # A small location shift on many scores: PSI stays below 0.25, KS is decisive.
    base, cur = _beta(20, 2, 5, 5000), _beta(21, 2, 5, 5000) + 0.03
    (check,) = check_drift({"d": base}, {"d": cur})
    assert check.psi < PSI_MAJOR
    assert check.ks_pvalue < 0.01 and check.crossed


def test_empty_window_is_an_error() -> None:
    with pytest.raises(ValueError, match="baseline"):
        psi([], [0.1])
