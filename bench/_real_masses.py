"""breastgate.masses on real film (mini-MIAS): per-image extraction, the model fit, re-scoring.

Interface used by ``bench/real_mias.py``:

- :func:`extract` runs the algorithm as the gateway does and records its shown marks, plus every
  candidate of a longer pool (``POOL``) from :func:`breastgate.algorithms.masses.describe` with
  its features and its point in original pixel coordinates. ``describe`` takes peaks greedily in
  order of strength, so the first ``MAX_CANDIDATES`` of the pool are exactly the algorithm's.
- :func:`fit` adapts the phantom-fitted logistic model (:data:`PHANTOM`) to film on the given
  records (training folds), over the first ``MAX_CANDIDATES`` candidates of each image: every
  candidate whose centre lies inside a labelled mass circle (CIRC, SPIC, MISC) is a positive,
  every candidate outside all labelled findings a negative; candidates inside another kind of
  finding (calcification, distortion, asymmetry), and all candidates of an image whose mass has no
  labelled place (mdb059), are left out. Positives are weighted so that each mass weighs
  ``POSITIVE_WEIGHT`` candidates in total whatever its size (a 40 mm mass holds many candidates).
  The features keep the phantom model's log transform, clipping and standardisation; the weights
  are fitted by Newton iterations with an L2 penalty ``L2`` pulling them towards the phantom
  weights (28 film masses are too few to fit ten weights from scratch: that was worse out of
  fold), the bias is free. The operating threshold is the lowest score at which the training
  images show at most ``TARGET_FP`` false marks per image (at most ``MAX_PER_IMAGE`` per image).
- :func:`apply` re-scores one record with a fitted model: the marks the algorithm would show.
- :func:`literal` prints the ``MODEL``/``THRESHOLD`` literal pasted into ``masses.py``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from bench._mias import MASS_CLASSES, Case, run_shipped
from breastgate.algorithms._mass_features import MassModel
from breastgate.algorithms.masses import MODEL

POOL = 40
#: The phantom-fitted model of breastgate.masses 1.1.0 (``bench/mass_model_fit.py --count 240
#: --seed 1000``): its clipping and standardisation are the shipped model's (the film fit keeps
#: them) and its weights are the prior the film fit shrinks towards.
PHANTOM = replace(
    MODEL,
    weights=(-0.52202, 0.22107, 0.23106, -0.084738, 1.5846, -0.4206, 1.0446, -1.5276, -0.76784, 1.0035),
    bias=-5.0218,
)
#: Extra candidate features beside the phantom model's, fitted from a zero prior. None is used:
#: the placement features tried (radius, peak strength, distance to skin and muscle, edge
#: sharpness, level) did not raise the cross-validated FROC (see masses.py's docstring).
EXTRA: tuple[str, ...] = ()
LOG = PHANTOM.log
L2 = 10.0
POSITIVE_WEIGHT = 3.0
TARGET_FP = 0.5
MAX_CANDIDATES = 30
MAX_PER_IMAGE = 4


def extract(study: Any, case: Case) -> dict[str, Any]:
    """The shipped marks of breastgate.masses on this image and the candidate pool's features."""
    from breastgate.algorithms._findings import _analyse
    from breastgate.algorithms.masses import MassAlgorithm, _to_original, describe

    record = run_shipped(MassAlgorithm(), study, case)
    ctx = _analyse(study.instances[0])
    described, _ = describe(ctx, POOL)
    candidates = [
        {
            "point": [round(v, 2) for v in _to_original(ctx, float(d.col), float(d.row))],
            "features": {k: float(v) for k, v in d.features.items()},
        }
        for d in described
    ]
    return {**record, "candidates": candidates}


def label(case: Case, point: tuple[float, float]) -> int | None:
    """1 inside a labelled mass, 0 outside every labelled finding, None inside another finding.

    None too on an image whose mass has no labelled place (mdb059): any candidate may be on it.
    """
    if any(les.centre is None for les in case.lesions):
        return None
    masses = [les for les in case.of(MASS_CLASSES) if les.centre]
    if any(les.contains(point) for les in masses):
        return 1
    if any(les.contains(point) for les in case.lesions):
        return None
    return 0


def _transform(values: dict[str, float], features: tuple[str, ...], log: frozenset[str]) -> list[float]:
    out = []
    for name in features:
        v = float(values.get(name, 0.0))
        v = 0.0 if not math.isfinite(v) else v
        out.append(math.log(max(v, 0.05)) if name in log else v)
    return out


def _newton(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float, prior: np.ndarray) -> np.ndarray:
    """Weights (bias first) of the weighted logistic regression on standardised x, L2 towards ``prior``."""
    z = np.hstack([np.ones((len(x), 1)), x])
    beta = prior.astype(float).copy()
    ridge = l2 * np.eye(len(beta))
    ridge[0, 0] = 0.0  # the bias is free: the base rate of film candidates is not the phantoms'
    for _ in range(60):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -50, 50)))
        hessian = z.T @ (z * (w * p * (1 - p))[:, None]) + ridge
        step = np.linalg.solve(hessian, z.T @ (w * (p - y)) + ridge @ (beta - prior))
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def _mass_model(model: dict[str, Any]) -> MassModel:
    return MassModel(
        features=tuple(model["features"]),
        log=frozenset(model["log"]),
        low=tuple(model["low"]),
        high=tuple(model["high"]),
        mean=tuple(model["mean"]),
        scale=tuple(model["scale"]),
        weights=tuple(model["weights"]),
        bias=model["bias"],
    )


def _marks(model: dict[str, Any], record: dict[str, Any]) -> list[tuple[tuple[float, float], float]]:
    scorer = _mass_model(model)
    pool = record["candidates"][: model["max_candidates"]]
    # ranked by the exact score, reported rounded to 4 decimals, as masses.find_masses does
    scored = sorted(
        ((scorer.score(c["features"]), i, c) for i, c in enumerate(pool)), key=lambda t: (-t[0], t[1])
    )
    return [((c["point"][0], c["point"][1]), round(s, 4)) for s, _, c in scored[: model["max_per_image"]]]


def fit(
    records: dict[str, dict[str, Any]],
    cases: dict[str, Case],
    *,
    extra: tuple[str, ...] = EXTRA,
    l2: float = L2,
    positive_weight: float = POSITIVE_WEIGHT,
    target_fp: float = TARGET_FP,
    max_candidates: int = MAX_CANDIDATES,
    max_per_image: int = MAX_PER_IMAGE,
) -> dict[str, Any]:
    """The mass model and its operating threshold fitted on ``records`` (see the module docstring)."""
    base, more, ys, lesion_of = [], [], [], []
    for refnum, record in sorted(records.items()):
        case = cases[refnum]
        masses = [les for les in case.of(MASS_CLASSES) if les.centre]
        for cand in record["candidates"][:max_candidates]:
            point = (cand["point"][0], cand["point"][1])
            y = label(case, point)
            if y is None:
                continue
            base.append(PHANTOM.transform(cand["features"]))
            more.append(_transform(cand["features"], extra, LOG))
            ys.append(y)
            lesion_of.append(
                (refnum, next(k for k, les in enumerate(masses) if les.contains(point))) if y else None
            )
    y = np.asarray(ys, float)
    counts: dict[Any, int] = {}
    for key in lesion_of:
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    weight = np.array([1.0 if key is None else positive_weight / counts[key] for key in lesion_of])
    # the phantom features keep the phantom model's clipping and standardisation (the prior's scale)
    b_low, b_high = np.array(PHANTOM.low), np.array(PHANTOM.high)
    b_mean, b_scale = np.array(PHANTOM.mean), np.array(PHANTOM.scale)
    xb = (np.clip(np.asarray(base, float), b_low, b_high) - b_mean) / b_scale
    xm = np.asarray(more, float).reshape(len(ys), len(extra))
    if extra:
        m_low, m_high = np.quantile(xm, 0.01, axis=0), np.quantile(xm, 0.99, axis=0)
        xm = np.clip(xm, m_low, m_high)
        m_mean, m_scale = xm.mean(axis=0), xm.std(axis=0) + 1e-9
        xm = (xm - m_mean) / m_scale
    else:
        m_low = m_high = m_mean = m_scale = np.zeros(0)
    prior = np.concatenate([[PHANTOM.bias], PHANTOM.weights, np.zeros(len(extra))])
    beta = _newton(np.hstack([xb, xm]), y, weight, l2, prior)
    # parameters rounded to the 5 significant digits that literal() prints: the shipped literal is
    # then exactly this model
    beta = np.array([float(f"{v:.5g}") for v in beta])
    model: dict[str, Any] = {
        "features": [*PHANTOM.features, *extra],
        "log": sorted(set(PHANTOM.log) | (set(extra) & LOG)),
        "low": [float(f"{v:.5g}") for v in (*b_low, *m_low)],
        "high": [float(f"{v:.5g}") for v in (*b_high, *m_high)],
        "mean": [float(f"{v:.5g}") for v in (*b_mean, *m_mean)],
        "scale": [float(f"{v:.5g}") for v in (*b_scale, *m_scale)],
        "weights": [float(v) for v in beta[1:]],
        "bias": float(beta[0]),
        "max_candidates": max_candidates,
        "max_per_image": max_per_image,
        "target_fp": target_fp,
        "threshold": 0.0,
    }
    model["threshold"] = _threshold(model, records, cases, target_fp)
    return model


def _threshold(
    model: dict[str, Any], records: dict[str, dict[str, Any]], cases: dict[str, Case], rate: float
) -> float:
    """The lowest score at which the images show at most ``rate`` false marks per image."""
    false = []
    for refnum, record in records.items():
        for point, score in _marks(model, record):
            if label(cases[refnum], point) == 0:
                false.append(score)
    false.sort(reverse=True)
    allowed = math.floor(rate * len(records) + 1e-9)
    if allowed >= len(false):
        return 0.0
    # just above the (allowed+1)-th highest false score (scores are rounded to 4 decimals)
    return round(false[allowed] + 1e-4, 4)


def apply(model: dict[str, Any], record: dict[str, Any]) -> list[tuple[tuple[float, float], float]]:
    """The marks (point, score) the algorithm would output on this image with ``model``.

    All ``max_per_image`` best marks are returned with their scores; the shown ones are those at or
    above ``model["threshold"]``.
    """
    return _marks(model, record)


def literal(model: dict[str, Any]) -> str:
    """The Python literal of the model for ``src/breastgate/algorithms/masses.py``."""

    def tup(values: list[float]) -> str:
        return "(" + ", ".join(f"{v:.5g}" for v in values) + ("," if len(values) == 1 else "") + ")"

    lines = [
        f"MAX_CANDIDATES = {model['max_candidates']}",
        f"MAX_PER_IMAGE = {model['max_per_image']}",
        f"THRESHOLD = {model['threshold']:.4g}",
        "",
        "MODEL = MassModel(",
        "    features=(",
        *[f'        "{name}",' for name in model["features"]],
        "    ),",
        "    log=frozenset({" + ", ".join(f'"{name}"' for name in model["log"]) + "}),",
        f"    low={tup(model['low'])},",
        f"    high={tup(model['high'])},",
        f"    mean={tup(model['mean'])},",
        f"    scale={tup(model['scale'])},",
        f"    weights={tup(model['weights'])},",
        f"    bias={model['bias']:.5g},",
        ")",
    ]
    return "\n".join(lines)
