"""Fit the lesion model of ``breastgate.kinetics`` on development DCE phantoms and print it.

Usage: ``python bench/dce_model_fit.py --seed 100 --count 70 --seed2 200 --count2 19 --seed3 300
--count3 60 [--size 256,256,64 --size2 192,192,48 --size3 128,128,32] [--workers 2] [--cache DIR]``
(the shipped model: 149 studies on three grids, so that it holds from 1.4 mm pixels and 2 mm
slices to 2.7 mm pixels and 5 mm slices).

Each development study (``breastgate.phantoms.mri.generate_dce_study``, series per phase, seeds
disjoint from the benchmark's 5000+) is read and mapped as the algorithm does; every candidate of
:func:`breastgate.algorithms._dce_lesions.segment` that is not the nipple is labelled a lesion when
it is matched to a true lesion by ``bench/dce_kinetics.py``'s rule (same breast, centre within
max(10 mm, ¾ of the true largest diameter), greedy nearest first) and flagged when it lies on a
true focus (< 5 mm; a BI-RADS focus is an enhancing finding but not a lesion). The model is an
L2-regularised logistic regression (``bench/mass_model_fit.fit``) on the clipped (1st-99th
percentile), log-transformed where listed, standardised features. Printed: the 5-fold (by study)
cross-validated FROC (sensitivity at 0.25-2 false lesions per study, foci counted as false and
not), the cross-validated threshold at one false lesion per study, and the ``LESION_MODEL``
literal to paste into ``src/breastgate/algorithms/kinetics.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.dce_kinetics import _match
from bench.mass_model_fit import fit, predict, print_model
from breastgate.algorithms.kinetics import LESION_MODEL

#: The features and log transforms are those of the shipped model; a new feature goes there first.
FEATURES = LESION_MODEL.features
LOG = LESION_MODEL.log
FOCUS_MM = 6.0


def _cached(path: Path) -> tuple[Any, Any, dict[str, Any]]:
    """A cached (series, maps, truth) with its anatomy and breast mask recomputed: they are cheap,
    so a cache outlives changes to them."""
    from breastgate.algorithms._dce_maps import (
        KineticsParameters,
        body_mask,
        breast_mask,
        dark_mask,
        find_anatomy,
        refine_nipples,
    )

    series, maps, truth = pickle.loads(path.read_bytes())
    pre = series.phase(0)
    dark = dark_mask(pre, maps.body, body_mask(pre)[2])
    anatomy = find_anatomy(maps.body, series.grid, KineticsParameters(), dark=dark)
    maps.anatomy = refine_nipples(anatomy, maps.body, maps.early_pct, series.grid)
    maps.breast = breast_mask(maps.body, series.grid, maps.anatomy, KineticsParameters())
    return series, maps, truth


def _maps(seed: int, size: tuple[int, int, int], cache: Path | None) -> tuple[Any, Any, dict[str, Any]]:
    """(series, maps, truth) of one development study, cached as a pickle when asked."""
    from breastgate.algorithms._dce_maps import KineticsParameters, compute_maps
    from breastgate.imaging.dce import read_dce
    from breastgate.phantoms.mri import generate_dce_study
    from breastgate.pipeline.offline import collect_studies

    path = cache / f"{size[0]}x{size[1]}x{size[2]}_{seed}.pkl" if cache else None
    if path is not None and path.exists():
        return _cached(path)
    with tempfile.TemporaryDirectory() as tmp:
        with generate_dce_study(seed, size=size) as study:
            truth = study.truth
            for i, ds in enumerate(study.datasets):
                ds.save_as(Path(tmp) / f"{i}.dcm", enforce_file_format=True)
        studies, _ = collect_studies(Path(tmp))
        series = read_dce(studies[0].instances)
    maps = compute_maps(series, KineticsParameters())
    if path is not None:
        path.write_bytes(pickle.dumps((series, maps, truth)))
    return series, maps, truth


#: The grid label of a study of the independent generator ``bench.alt_dce`` (its own grids).
ALT = (0, 0, 0)


def _alt_maps(seed: int, cache: Path | None) -> tuple[Any, Any, dict[str, Any]]:
    """(series, maps, truth) of one ``bench.alt_dce`` development study, cached as a pickle when asked."""
    from bench.alt_dce import generate_alt_dce, write_alt_dce
    from breastgate.algorithms._dce_maps import KineticsParameters, compute_maps
    from breastgate.imaging.dce import read_dce
    from breastgate.pipeline.offline import collect_studies

    path = cache / f"alt_{seed}.pkl" if cache else None
    if path is not None and path.exists():
        return _cached(path)
    study = generate_alt_dce(seed)
    with tempfile.TemporaryDirectory() as tmp:
        write_alt_dce(study, tmp)
        studies, _ = collect_studies(Path(tmp))
        series = read_dce(studies[0].instances)
    maps = compute_maps(series, KineticsParameters())
    truth = {"lesions": study.truth["lesions"], "foci": study.truth["foci"]}
    if path is not None:
        path.write_bytes(pickle.dumps((series, maps, truth)))
    return series, maps, truth


def one_study(args: tuple[int, tuple[int, int, int], str | None, str]) -> dict[str, Any]:
    """Candidates (features, lesion label, focus flag) of one development study."""
    from breastgate.algorithms._dce_lesions import segment
    from breastgate.algorithms._dce_maps import KineticsParameters
    from breastgate.algorithms.kinetics import is_nipple, lesion_features, locate

    seed, size, cache, overrides = args
    if size == ALT:
        series, maps, truth = _alt_maps(seed, Path(cache) if cache else None)
    else:
        series, maps, truth = _maps(seed, size, Path(cache) if cache else None)
    lesions, _ = segment(maps, series, KineticsParameters(**json.loads(overrides or "{}")))
    rows = []
    for lesion in lesions:
        centre = series.grid.to_patient(lesion.centre_index)
        laterality, location = locate(centre, maps.anatomy)
        if is_nipple(lesion, location.distance_from_nipple_mm):
            continue
        rows.append(
            {
                "centre": centre,
                "laterality": laterality,
                "features": lesion_features(lesion, location.distance_from_nipple_mm),
            }
        )
    matched = _match(truth["lesions"], rows)
    for j, row in enumerate(rows):
        row["lesion"] = j in matched.values()
        row["focus"] = not row["lesion"] and any(
            math.dist(row["centre"], f["patient_mm"]) <= FOCUS_MM for f in truth.get("foci", [])
        )
    missed = [
        f"{seed} {t['id']} {t['diameters_mm']} type {t['curve_type']}"
        for i, t in enumerate(truth["lesions"])
        if i not in matched
    ]
    return {"seed": seed, "size": size, "lesions": len(truth["lesions"]), "rows": rows, "missed": missed}


def design(rows: list[dict[str, Any]], low: Any = None, high: Any = None) -> tuple[Any, Any, Any]:
    cols = []
    for name in FEATURES:
        v = np.nan_to_num(np.array([r["features"][name] for r in rows], float))
        cols.append(np.log(np.maximum(v, 0.05)) if name in LOG else v)
    x = np.stack(cols, axis=1)
    if low is None or high is None:
        low, high = np.quantile(x, 0.01, axis=0), np.quantile(x, 0.99, axis=0)
    return np.clip(x, low, high), low, high


def froc(
    studies: list[dict[str, Any]], scores: list[Any], foci_false: bool
) -> dict[float, tuple[float, float]]:
    """Sensitivity and threshold at the lowest threshold keeping ≤ f false lesions per study."""
    n_lesions = sum(s["lesions"] for s in studies)
    flat = sorted(
        (
            (float(v), r["lesion"], r["focus"])
            for s, sc in zip(studies, scores, strict=True)
            for r, v in zip(s["rows"], sc, strict=True)
        ),
        reverse=True,
    )
    out: dict[float, tuple[float, float]] = {}
    for limit in (0.25, 0.5, 1.0, 2.0):
        hits = fps = 0
        best = (0.0, 1.0)
        for value, lesion, focus in flat:
            if lesion:
                hits += 1
            elif foci_false or not focus:
                fps += 1
            if fps > limit * len(studies):
                break
            best = (hits / max(n_lesions, 1), value)
        out[limit] = best
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--size", default="256,256,64")
    parser.add_argument("--seed2", type=int, default=200)
    parser.add_argument("--count2", type=int, default=0)
    parser.add_argument("--size2", default="192,192,48")
    parser.add_argument("--seed3", type=int, default=300)
    parser.add_argument("--count3", type=int, default=0)
    parser.add_argument("--size3", default="128,128,32")
    parser.add_argument("--alt-seed", type=int, default=7100, help="bench.alt_dce dev seeds (not 7000-7099)")
    parser.add_argument("--alt-count", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", default=None, help="keep the mapped studies (pickles) in this folder")
    parser.add_argument("--params", default="", help="KineticsParameters overrides (JSON)")
    parser.add_argument("--rows", default=None, help="also write the studies' candidate rows here (pickle)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split(","))
    jobs = [(args.seed + i, size, args.cache, args.params) for i in range(args.count)]
    jobs += [
        (args.seed2 + i, tuple(int(v) for v in args.size2.split(",")), args.cache, args.params)
        for i in range(args.count2)
    ]
    jobs += [
        (args.seed3 + i, tuple(int(v) for v in args.size3.split(",")), args.cache, args.params)
        for i in range(args.count3)
    ]
    jobs += [(args.alt_seed + i, ALT, args.cache, args.params) for i in range(args.alt_count)]
    with ProcessPoolExecutor(args.workers) as pool:
        studies = list(pool.map(one_study, jobs))
    if args.rows:
        Path(args.rows).write_bytes(pickle.dumps(studies))
    rows = [r for s in studies for r in s["rows"]]
    for s in studies:
        for miss in s["missed"]:
            print(f"  no candidate on: {s['size'][0]}x{s['size'][1]}x{s['size'][2]} seed {miss}")
    y = np.array([r["lesion"] for r in rows], float)
    print(
        f"{len(studies)} studies, {sum(s['lesions'] for s in studies)} lesions, {len(rows)} candidates "
        f"({len(rows) / len(studies):.1f} per study), {int(y.sum())} on a lesion"
    )
    cv: list[Any] = [None] * len(studies)
    for fold in range(5):
        train = [r for k, s in enumerate(studies) if k % 5 != fold for r in s["rows"]]
        y_train = np.array([r["lesion"] for r in train], float)
        x_train, low, high = design(train)
        model = fit(x_train, y_train)
        for k, s in enumerate(studies):
            if k % 5 == fold:
                cv[k] = predict(design(s["rows"], low, high)[0], model) if s["rows"] else np.zeros(0)
    for foci_false in (True, False):
        label = "foci counted as false lesions" if foci_false else "foci not counted"
        figures = froc(studies, cv, foci_false)
        print(f"5-fold cross-validated FROC ({label}):")
        for limit, (sensitivity, threshold) in figures.items():
            print(f"  <= {limit:4.2f} false/study: sensitivity {sensitivity:.3f} at score >= {threshold:.3f}")
    for size in sorted({s["size"] for s in studies}, reverse=True):
        subset = [k for k, s in enumerate(studies) if s["size"] == size]
        figures = froc([studies[k] for k in subset], [cv[k] for k in subset], True)
        print(
            f"  {size[0]}x{size[1]}x{size[2]} ({len(subset)} studies): "
            + ", ".join(f"<= {limit:g} false/study {sens:.3f}" for limit, (sens, _) in figures.items())
        )
    x, low, high = design(rows)
    w, mu, sd = fit(x, y)

    print_model("LESION_MODEL = LogisticModel(", FEATURES, LOG, (low, high, mu, sd), w)


if __name__ == "__main__":
    main()
