"""Fit the mass candidate model of ``breastgate.masses`` on development phantoms and print it.

Usage: ``python bench/mass_model_fit.py --count 240 --seed 1000 [--workers 2] [--cache DIR]``.
Study i (seed + i): every third study is normal, the others carry one mass (shape, size 5-30 mm
and contrast drawn by the phantom); every sixth also a calcification cluster; all have the
look-alike calcifications; density categories cycle a-d and vendor profiles alternate every four.
Development seeds (1000-1239) are disjoint from the benchmark's (5000+).

Every candidate from ``masses.describe`` is labelled a hit when its centre lies inside a true mass
extent on that view. The model is an L2-regularised logistic regression (Newton iterations) on the
clipped (1st-99th percentile), log-transformed where listed, standardised features. The script
prints the 5-fold (by study) cross-validated FROC and the fitted ``MODEL`` literal to paste into
``src/breastgate/algorithms/masses.py``.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from breastgate.algorithms.masses import MODEL

#: The features and log transforms are those of the shipped model; a new feature goes there first.
FEATURES = MODEL.features
LOG = MODEL.log
L2 = 1.0


def _write_study(seed: int, i: int, folder: Path) -> None:
    from breastgate.phantoms import VENDOR_PROFILES, generate_mg_study
    from breastgate.phantoms.lesions import LesionRequest

    content = "mass" if i % 3 else "normal"
    requests = [LesionRequest("mass")] if content == "mass" else []
    if i % 6 == 1:
        requests.append(LesionRequest("calcification_cluster"))
    category = "abcd"[i % 4]
    vendor = sorted(VENDOR_PROFILES)[(i // 4) % 2]
    study = generate_mg_study(seed, category=category, vendor=vendor, lesions=requests, distractors=True)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for j, ds in enumerate(study.datasets):
        ds.save_as(folder / f"{j}.dcm", enforce_file_format=True)
        files.append(
            (f"{j}.dcm", ds.SOPInstanceUID, ds.SOPClassUID, str(ds.ImageLaterality), str(ds.ViewPosition))
        )
    truth = dict(study.truth, files=files, content=content, category=category, vendor=vendor)
    (folder / "truth.json").write_text(json.dumps(truth), encoding="utf-8")


def one_study(args: tuple[int, int, str | None]) -> list[dict[str, Any]]:
    """Candidates with features and labels for study ``seed + i``."""
    from breastgate.algorithms._findings import _analyse
    from breastgate.algorithms.masses import describe
    from breastgate.domain.model import InstanceRef

    seed, i, cache = args
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(cache or tmp) / str(seed + i)
        if not (folder / "truth.json").exists():
            _write_study(seed + i, i, folder)
        truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
        rows = []
        for name, sop, sop_class, laterality, view in truth["files"]:
            ref = InstanceRef(
                "", "", sop, sop_class, "MG", str(folder / name), laterality, view, "FOR PRESENTATION"
            )
            ctx = _analyse(ref)
            boxes = [
                v["bbox"]
                for lesion in truth["lesions"]
                if lesion["kind"] == "mass"
                for v in lesion["views"]
                if v["sop_instance_uid"] == sop
            ]
            described, _ = describe(ctx)
            for d in described:
                g = ctx.geometry
                col = g.image.shape[1] - 1 - d.col if g.flipped else d.col
                x, y = (col + 0.5) * g.factor, (d.row + 0.5) * g.factor
                hit = any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)
                distance = ctx.nipple_distance_mm((x, y))
                rows.append(
                    {
                        "study": seed + i,
                        "image": sop,
                        "laterality": laterality,
                        "view": view,
                        "nipple_mm": -1.0 if distance is None else distance,
                        "hit": hit,
                        "category": truth["category"],
                        "mass_study": bool(boxes) or any(les["kind"] == "mass" for les in truth["lesions"]),
                        **{k: d.features[k] for k in FEATURES},
                    }
                )
        return rows


def design(
    rows: list[dict[str, Any]], low: np.ndarray | None = None, high: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cols = []
    for name in FEATURES:
        v = np.nan_to_num(np.array([r[name] for r in rows], float))
        cols.append(np.log(np.maximum(v, 0.05)) if name in LOG else v)
    x = np.stack(cols, axis=1)
    if low is None or high is None:
        low, high = np.quantile(x, 0.01, axis=0), np.quantile(x, 0.99, axis=0)
    return np.clip(x, low, high), low, high


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights with bias first, mean, scale) of the L2 logistic regression (Newton steps)."""
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    ridge = l2 * np.eye(len(w))
    ridge[0, 0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        hessian = z.T @ (z * (p * (1 - p))[:, None]) + ridge
        w -= np.linalg.solve(hessian, z.T @ (p - y) + ridge @ w)
    return w, mu, sd


def predict(x: np.ndarray, model: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    w, mu, sd = model
    return 1.0 / (1.0 + np.exp(-(np.hstack([np.ones((len(x), 1)), (x - mu) / sd]) @ w)))


def froc(
    rows: list[dict[str, Any]], score: np.ndarray, threshold: float, per_image: int = 4
) -> tuple[float, float, float]:
    """(lesion sensitivity, c/d sensitivity, false marks per image) keeping ``per_image`` best."""
    by_image = collections.defaultdict(list)
    for k, r in enumerate(rows):
        by_image[(r["study"], r["image"])].append(k)
    kept = np.zeros(len(rows), bool)
    for idx in by_image.values():
        kept[sorted(idx, key=lambda k: -score[k])[:per_image]] = True
    sel = kept & (score >= threshold)
    hit = np.array([r["hit"] for r in rows])
    found = {rows[k]["study"] for k in np.nonzero(sel & hit)[0]}
    masses = {r["study"] for r in rows if r["mass_study"]}
    dense = {r["study"] for r in rows if r["category"] in "cd"}
    return (
        len(found & masses) / max(len(masses), 1),
        len(found & masses & dense) / max(len(masses & dense), 1),
        float((sel & ~hit).sum()) / len(by_image),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", default=None, help="keep the phantom studies in this folder")
    parser.add_argument("--dump", default=None, help="also write the candidate rows (JSON) here")
    args = parser.parse_args()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = [
            r
            for rs in pool.map(one_study, [(args.seed, i, args.cache) for i in range(args.count)])
            for r in rs
        ]
    if args.dump:
        Path(args.dump).write_text(json.dumps(rows), encoding="utf-8")
    y = np.array([r["hit"] for r in rows], float)
    print(f"{args.count} studies, {len(rows)} candidates, {int(y.sum())} on a true mass")
    studies = np.array([r["study"] for r in rows])
    cv = np.zeros(len(rows))
    for fold in range(5):
        test = (studies % 5) == fold
        train_rows = [r for r, t in zip(rows, test, strict=True) if not t]
        x_train, low, high = design(train_rows)
        x_test, _, _ = design([r for r, t in zip(rows, test, strict=True) if t], low, high)
        cv[test] = predict(x_test, fit(x_train, y[~test]))
    print("5-fold cross-validated FROC (threshold: sensitivity, c/d sensitivity, false marks/image):")
    for t in (0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3):
        s, s_cd, fp = froc(rows, cv, t)
        print(f"  {t:.2f}: {s:.3f}, {s_cd:.3f}, {fp:.3f}")
    x, low, high = design(rows)
    w, mu, sd = fit(x, y)

    print_model("MODEL = MassModel(", FEATURES, LOG, (low, high, mu, sd), w)


def print_model(
    head: str, features: tuple[str, ...], log: Any, ranges: tuple[Any, Any, Any, Any], w: np.ndarray
) -> None:
    """Print a fitted model as the literal to paste: ``ranges`` = (low, high, mean, scale),
    ``w`` = bias then weights."""

    def tup(a: np.ndarray) -> str:
        return "(" + ", ".join(f"{v:.5g}" for v in a) + ("," if len(a) == 1 else "") + ")"

    low, high, mu, sd = ranges
    print(head)
    print(f"    features={features!r},")
    print(f"    log=frozenset({sorted(log)!r}),")
    print(f"    low={tup(low)},\n    high={tup(high)},\n    mean={tup(mu)},\n    scale={tup(sd)},")
    print(f"    weights={tup(w[1:])},\n    bias={w[0]:.5g},\n)")


if __name__ == "__main__":
    main()
