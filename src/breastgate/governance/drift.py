"""Drift of score distributions between a baseline window and a current window (DESIGN §6).

Two statistics per device (or any other key), both pure functions of the two samples:

- Population Stability Index: the baseline's quantiles fix ``n_bins`` bins (so each holds about
  the same share of the baseline); PSI = Σ (c - b)·ln(c / b) over the bins' baseline and current
  proportions ``b`` and ``c``, an empty bin counting ``epsilon`` so the logarithm stays finite.
  Conventional reading (Siddiqi, *Credit Risk Scorecards*, 2006): below 0.1 stable, 0.1-0.25 a
  moderate shift worth a look, 0.25 or more a major shift (:data:`PSI_MODERATE`, :data:`PSI_MAJOR`).
- Two-sample Kolmogorov-Smirnov: the largest distance between the two empirical CDFs and its
  p-value (``scipy.stats.ks_2samp``, exact for small samples, asymptotic otherwise).

:func:`check_drift` evaluates both per key; a check is *crossed* when the PSI reaches its threshold
(0.25 by default) or the KS p-value falls below its alpha (0.01 by default), provided both
windows hold at least ``min_samples`` scores. No database access: the caller selects the windows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import ks_2samp

__all__ = [
    "KS_ALPHA",
    "PSI_MAJOR",
    "PSI_MODERATE",
    "DriftCheck",
    "check_drift",
    "ks_test",
    "psi",
    "psi_level",
]

PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
KS_ALPHA = 0.01
EPSILON = 1e-4
MIN_SAMPLES = 30


def _sample(values: Iterable[float], name: str) -> npt.NDArray[np.float64]:
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
    if array.ndim != 1 or len(array) == 0:
        raise ValueError(f"the {name} window must be a non-empty 1-D sample")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"the {name} window holds non-finite values")
    return array


def psi(
    baseline: Iterable[float], current: Iterable[float], *, n_bins: int = 10, epsilon: float = EPSILON
) -> float:
    """Population Stability Index of ``current`` against ``baseline``.

    Bin edges are the baseline's ``1/n_bins`` quantiles (repeated edges, from tied baseline values,
    merge their bins); a value equal to an edge falls in the upper bin; values outside the baseline
    range fall in the first or last bin. Proportions below ``epsilon`` are raised to it.
    """
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2, got {n_bins}")
    base = _sample(baseline, "baseline")
    cur = _sample(current, "current")
    edges = np.unique(np.quantile(base, np.linspace(0.0, 1.0, n_bins + 1))[1:-1])
    k = len(edges) + 1
    b = np.bincount(np.searchsorted(edges, base, side="right"), minlength=k) / len(base)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=k) / len(cur)
    b = np.maximum(b, epsilon)
    c = np.maximum(c, epsilon)
    return float(np.sum((c - b) * np.log(c / b)))


def psi_level(value: float) -> str:
    """``stable`` (< 0.1), ``moderate`` (0.1-0.25), ``major`` (≥ 0.25); ``unknown`` for NaN."""
    if math.isnan(value):
        return "unknown"
    if value >= PSI_MAJOR:
        return "major"
    return "moderate" if value >= PSI_MODERATE else "stable"


def ks_test(baseline: Iterable[float], current: Iterable[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and two-sided p-value (``scipy.stats.ks_2samp``)."""
    result = ks_2samp(_sample(baseline, "baseline"), _sample(current, "current"))
    return float(result.statistic), float(result.pvalue)


@dataclass(frozen=True)
class DriftCheck:
    """Drift of one key's (e.g. one device's) score distribution, baseline vs current window.

    Statistics are NaN when a window is too small (``note`` says which); ``crossed`` is then False.
    """

    key: str
    n_baseline: int
    n_current: int
    psi: float
    psi_level: str
    ks_statistic: float
    ks_pvalue: float
    psi_threshold: float
    ks_alpha: float
    crossed: bool
    note: str = ""


def check_drift(
    baseline: Mapping[str, Iterable[float]],
    current: Mapping[str, Iterable[float]],
    *,
    psi_threshold: float = PSI_MAJOR,
    ks_alpha: float = KS_ALPHA,
    n_bins: int = 10,
    min_samples: int = MIN_SAMPLES,
) -> list[DriftCheck]:
    """One :class:`DriftCheck` per key present in either window, sorted by key.

    ``baseline`` and ``current`` map a key (a device ``manufacturer / model``, an algorithm id...)
    to its scores in that window. A key needs ``min_samples`` scores in both windows to be
    evaluated; otherwise its check is not crossed and its ``note`` says why.
    """
    checks = []
    for key in sorted(set(baseline) | set(current)):
        base = [float(v) for v in baseline.get(key, ())]
        cur = [float(v) for v in current.get(key, ())]
        short = [
            f"{name} has {len(v)}"
            for name, v in (("baseline", base), ("current", cur))
            if len(v) < min_samples
        ]
        if short:
            note = f"too few scores to evaluate (need {min_samples}; {', '.join(short)})"
            checks.append(
                DriftCheck(
                    key, len(base), len(cur), math.nan, "unknown", math.nan, math.nan,
                    psi_threshold, ks_alpha, False, note,
                )
            )  # fmt: skip
            continue
        value = psi(base, cur, n_bins=n_bins)
        statistic, pvalue = ks_test(base, cur)
        crossed = value >= psi_threshold or pvalue < ks_alpha
        checks.append(
            DriftCheck(
                key, len(base), len(cur), value, psi_level(value), statistic, pvalue,
                psi_threshold, ks_alpha, crossed,
            )
        )  # fmt: skip
    return checks
