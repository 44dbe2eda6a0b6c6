"""Density on mini-MIAS: per-image extraction and the fit of the BI-RADS category cut-offs.

Imported by ``bench/real_mias.py``. The interface (``extract``, ``fit``, ``apply``, ``literal``) is
shared with the other real-image benchmarks:

- :func:`extract` runs ``breastgate.density`` on one film exactly as the gateway does and records
  its shipped output (PD%, category) and the per-image measurements behind it.
- :func:`fit` fits the category cut-offs on the training folds' records. MIAS grades background
  tissue in three classes (F fatty, G fatty-glandular, D dense-glandular) and BI-RADS has four, so
  only the **b|c** cut is fitted: it is where a logistic regression of "D, not F" on PD% crosses
  0.5 (maximum likelihood on the F and D images; G images are not used). The a|b and c|d cuts stay
  on the published scale of :mod:`breastgate.algorithms.density` (10 and 65 PD%, midpoints of the
  Acad Radiol 2006 per-category medians), because MIAS says nothing about them.
  The logistic 0.5 point was chosen over "the cut with the best training accuracy" after comparing
  both by cross-validation (out-of-fold F-vs-D accuracy 0.85 against 0.81; the accuracy plateau of
  the latter is flat and its chosen point jumps between folds).
- :func:`apply` is what the algorithm outputs for a record with a fitted model.
- :func:`literal` is the ``THRESHOLDS`` line of ``breastgate/algorithms/density.py``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench._mias import Case

#: Cut-offs MIAS cannot inform (see the module docstring): the published-scale a|b and c|d.
FIXED_AB = 10.0
FIXED_CD = 65.0
#: The fitted b|c cut is rounded to this many decimals (the shipped literal is the rounded value).
DECIMALS = 1


def extract(study: Any, case: Case) -> dict[str, Any]:
    """Run ``breastgate.density`` on one image as the gateway does; its output and measurements."""
    from breastgate.algorithms.density import DensityAlgorithm

    algorithm = DensityAlgorithm()
    started = time.perf_counter()
    result = algorithm.run(algorithm.select(study))
    seconds = time.perf_counter() - started
    record: dict[str, Any] = {
        "refnum": case.refnum,
        "tissue": case.tissue,
        "status": result.status.value if hasattr(result.status, "value") else str(result.status),
        "seconds": seconds,
    }
    if result.density is not None:
        record["category"] = result.density.category
        record["percent_dense"] = float(result.density.percent_dense)
    measured = [o for o in result.images if o.measurements]
    if measured:
        record["measurements"] = {k: float(v) for k, v in measured[0].measurements.items()}
    return record


def _logistic_cut(values: np.ndarray, labels: np.ndarray) -> float:
    """PD% where a maximum-likelihood logistic regression of ``labels`` on ``values`` crosses 0.5.

    Newton-Raphson (IRLS) on the standardised values, with a tiny ridge so a separable training set
    still converges to a finite slope.
    """
    mean, scale = float(values.mean()), float(values.std()) or 1.0
    x = np.column_stack([np.ones_like(values), (values - mean) / scale])
    w = np.zeros(2)
    ridge = np.diag([0.0, 1e-3])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (labels - p) - ridge @ w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + ridge
        step = np.linalg.solve(hessian, gradient)
        w += step
        if float(np.abs(step).max()) < 1e-10:
            break
    if w[1] <= 0:
        raise ValueError("PD% does not rise from fatty to dense on these records")
    return mean - scale * float(w[0] / w[1])


def fit(records: Mapping[str, Mapping[str, Any]], cases: Mapping[str, Case]) -> dict[str, float]:
    """Cut-offs {"a|b", "b|c", "c|d"} (PD%) fitted on ``records`` (MIAS F and D images)."""
    values: list[float] = []
    labels: list[float] = []
    for refnum, record in records.items():
        tissue = cases[refnum].tissue
        if tissue in ("F", "D") and "percent_dense" in record:
            values.append(float(record["percent_dense"]))
            labels.append(1.0 if tissue == "D" else 0.0)
    cut = _logistic_cut(np.asarray(values, float), np.asarray(labels, float))
    cut = round(min(max(cut, FIXED_AB + 1.0), FIXED_CD - 1.0), DECIMALS)
    return {"a|b": FIXED_AB, "b|c": cut, "c|d": FIXED_CD}


def apply(model: Mapping[str, float], record: Mapping[str, Any]) -> dict[str, Any]:
    """The algorithm's output for this image with ``model``'s cut-offs (category as ``category_of``)."""
    pd = float(record.get("percent_dense", math.nan))
    if math.isnan(pd):
        return {"percent_dense": pd, "category": "?"}
    category = "a"
    for bound, name in ((model["c|d"], "d"), (model["b|c"], "c"), (model["a|b"], "b")):
        if pd >= bound:
            category = name
            break
    return {"percent_dense": pd, "category": category}


def literal(model: Mapping[str, float]) -> str:
    """The ``THRESHOLDS`` literal of ``breastgate/algorithms/density.py`` for this model."""
    return (
        "THRESHOLDS: tuple[tuple[float, str], ...] = "
        f'(({model["c|d"]:.1f}, "d"), ({model["b|c"]:.1f}, "c"), ({model["a|b"]:.1f}, "b"))'
    )
