"""breastgate.calcifications on real film (mini-MIAS): per-image records, the cluster model's fit.

``bench/real_mias.py`` imports this module. ``extract`` runs the algorithm as the gateway does and
records its marks, plus every candidate cluster's members and features (computed by the
algorithm's own :func:`~breastgate.algorithms.calcifications.describe_clusters`), so that
``apply`` with a refitted model gives exactly what the algorithm would output with that model.

``fit`` is the procedure the shipped :data:`~breastgate.algorithms.calcifications.MODEL` came
from: L2 logistic regression (``C`` = :data:`C`, features standardised) over the candidate
clusters of the training images, a cluster being positive when its centre lies inside a
labelled CALC region and left out when it lies inside another labelled finding (neither a hit nor
a false mark in :func:`bench._mias.froc`). The operating threshold is chosen on the same training
images: the lowest score at which they show at most :data:`OPERATING_FP` false marks per image.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench._mias import CALC_CLASSES, Case, Marked, froc, run_shipped

#: L2 penalty (inverse strength) of the logistic regression, fixed beforehand (not tuned on CV).
C = 1.0
#: False marks per image the operating threshold allows on the training images.
OPERATING_FP = 0.2


def extract(study: Any, case: Case) -> dict[str, Any]:
    """One image: the shipped marks, the operating threshold, the seconds, every candidate cluster."""
    from breastgate.algorithms._findings import _analyse
    from breastgate.algorithms.calcifications import CalcificationAlgorithm, describe_clusters

    record = run_shipped(CalcificationAlgorithm(), study, case)
    clusters = [
        {"members": [list(p) for p in members], "features": features}
        for members, features in describe_clusters(_analyse(study.instances[0]))
    ]
    return {**record, "clusters": clusters}


def _centre(cluster: dict[str, Any]) -> tuple[float, float]:
    pts = np.asarray(cluster["members"], float)
    return float(pts[:, 0].mean()), float(pts[:, 1].mean())


def _label(case: Case, point: tuple[float, float]) -> int | None:
    """1 inside a CALC region, 0 outside every labelled finding, None inside another finding."""
    if any(les.contains(point) for les in case.of(CALC_CLASSES)):
        return 1
    if any(les.contains(point) for les in case.lesions):
        return None
    return 0


def _features() -> tuple[str, ...]:
    from breastgate.algorithms.calcifications import MODEL_FEATURES

    return MODEL_FEATURES


def fit(records: dict[str, dict[str, Any]], cases: dict[str, Case]) -> Any:
    """The cluster model fitted on ``records`` (the training images) with its operating threshold."""
    from sklearn.linear_model import LogisticRegression

    from breastgate.algorithms.calcifications import ClusterModel

    names = _features()
    rows, ys = [], []
    for refnum, rec in records.items():
        for cl in rec["clusters"]:
            y = _label(cases[refnum], _centre(cl))
            if y is not None:
                rows.append([cl["features"][n] for n in names])
                ys.append(y)
    x = np.asarray(rows, float)
    y = np.asarray(ys, int)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000)
    lr.fit((x - mean) / scale, y)

    def g(v: float) -> float:
        return float(f"{v:.5g}")

    model = ClusterModel(
        features=names,
        mean=tuple(g(v) for v in mean),
        scale=tuple(g(v) for v in scale),
        weights=tuple(g(v) for v in lr.coef_[0]),
        bias=g(lr.intercept_[0]),
        threshold=0.5,
    )
    images = [Marked(cases[r], tuple(apply(model, rec))) for r, rec in records.items()]
    threshold = froc(images, CALC_CLASSES, (OPERATING_FP,))[OPERATING_FP][2]
    # froc's threshold is the highest false score left out (marks above it count); marks are shown
    # at score >= threshold, and scores have 4 decimals: the next score up.
    shown = math.floor(threshold * 1e4 + 1.5) / 1e4 if math.isfinite(threshold) else 0.0
    return ClusterModel(model.features, model.mean, model.scale, model.weights, model.bias, shown)


def apply(model: Any, record: dict[str, Any]) -> list[tuple[tuple[float, float], float]]:
    """The marks the algorithm would output on this image with ``model``: ((col, row), score)."""
    from breastgate.algorithms.calcifications import score_cluster

    out = []
    for cl in record["clusters"]:
        col, row = _centre(cl)
        out.append(((round(col, 2), round(row, 2)), round(score_cluster(cl["features"], model), 4)))
    return out


def literal(model: Any) -> str:
    """The ``MODEL = ClusterModel(...)`` literal to paste into ``calcifications.py``."""

    def tup(values: Any) -> str:
        return "(" + ", ".join(repr(v) for v in values) + ("," if len(values) == 1 else "") + ")"

    return (
        "MODEL = ClusterModel(\n"
        f"    features=MODEL_FEATURES,\n"
        f"    mean={tup(model.mean)},\n"
        f"    scale={tup(model.scale)},\n"
        f"    weights={tup(model.weights)},\n"
        f"    bias={model.bias!r},\n"
        f"    threshold={model.threshold!r},\n"
        ")"
    )
