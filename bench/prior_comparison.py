"""Prior comparison (``breastgate.comparison``) on phantom pairs: change category, size change,
registration error, time per pair.

Usage: ``python bench/prior_comparison.py --count 100 --seed 9000 [--workers 2]``.
Development: ``--jsonl F`` keeps one line per pair with per-lesion diagnostics (per view: sizes and
contrasts now and then, the registration's scale and correlation; for a cluster its spots, the
targeted search's strongest response at each mapped spot and at 6 control places on the prior),
``--summarise F`` prints the figures again, ``--cache DIR`` reuses the detectors' results of an
earlier run (rules only; the seconds then leave the detectors out), ``--start`` resumes a run.

Pair i (``breastgate.phantoms.prior.generate_mg_pair``, seed + i): density category cycles a-d,
vendor profiles alternate; one mass of 10-25 mm (contrast 0.6-0.9 of the dense-tissue contrast)
whose change cycles new / stable / increased / decreased, and on every other pair a fine
pleomorphic calcification cluster whose change cycles new / stable / increased.

A true lesion is found when a comparison finding of its kind has a mark whose centre lies inside
the lesion's true extent (bbox, grown by 2 mm) on that view. Printed: lesions found; change
category accuracy over the found lesions (confusion table); size-change error (predicted minus
true, mm) over found lesions that were in the prior and called not new: mean absolute and 90th
percentile; registration error (mm) at the true landmarks (nipple, skin-line points, pectoral line
ends) that lie inside both images: mean, 90th percentile and max, before (landmark similarity) and
after the refinement (the start the kept map was refined from: the landmark similarity or the
outline start); seconds per pair (algorithm only, both studies analysed).
Targets (issue 18): accuracy >= 0.90, size error <= 2 mm, registration <= 3 mm.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench._common
from bench._common import save_study

MASS_CHANGES = ("new", "stable", "increased", "decreased")
CALC_CHANGES = ("new", "stable", "increased")


def requests_for(seed: int, i: int) -> tuple[list[Any], list[str]]:
    from breastgate.phantoms.lesions import LesionRequest

    rng = np.random.default_rng([seed, i, 18])
    requests = [
        LesionRequest("mass", size_mm=float(rng.uniform(10, 25)), contrast=float(rng.uniform(0.6, 0.9)))
    ]
    changes = [MASS_CHANGES[i % 4]]
    if i % 2 == 0:
        requests.append(LesionRequest("calcification_cluster", shape="fine_pleomorphic"))
        changes.append(CALC_CHANGES[(i // 2) % 3])
    return requests, changes


def _hit(mark: Any, lesion_view: dict[str, Any], px: float) -> bool:
    c0, r0, c1, r1 = lesion_view["bbox"]
    pad = 2.0 / px
    return bool(c0 - pad <= mark.point[0] <= c1 + pad and r0 - pad <= mark.point[1] <= r1 + pad)


def _landmark_errors(
    truth: dict[str, Any], regs: dict[Any, Any], shape: dict[Any, tuple[int, int]], px: float
) -> tuple[list[float], list[float]]:
    after, before = [], []
    for view in truth["prior"]["views"]:
        key = (view["laterality"], view["view"])
        if key not in regs:
            continue
        reg = regs[key].registration
        rows, cols = shape[key]
        margin = 3.0 / px
        cur, pri = view["landmarks"]["current"], view["landmarks"]["prior"]
        pairs = [(cur["nipple"], pri["nipple"])]
        pairs += list(zip(cur["skin_line"], pri["skin_line"], strict=True))
        pairs += list(zip(cur.get("pectoral_line", []), pri.get("pectoral_line", []), strict=True))
        for p, q in pairs:
            inside = all(margin <= v[0] <= cols - margin and margin <= v[1] <= rows - margin for v in (p, q))
            if not inside:
                continue
            e = reg.map_point((p[0], p[1]))
            after.append(float(np.hypot(e[0] - q[0], e[1] - q[1])) * px)
            init = reg.prior.from_mm(*reg.initial.apply(*reg.current.to_mm((p[0], p[1]))))
            before.append(float(np.hypot(init[0] - q[0], init[1] - q[1])) * px)
    return after, before


#: Offsets (in units of the cluster's extent + 3 mm) of the control places where a cluster's spot
#: pattern is looked for on the prior too: how often the targeted search hits by chance there.
_CONTROL_DIRECTIONS = 6


def _peaks(image: Any, points: list[tuple[float, float]], reach_mm: float) -> list[list[float]]:
    """[response, column, row] of the strongest DoG response within ``reach_mm`` of each point."""
    import math

    from breastgate.algorithms._lesion_size import _spot_response

    if not points:
        return []
    px = float(min(image.spacing_mm))
    pts = np.asarray(points, dtype=np.float64)
    middle = (float(pts[:, 0].mean()), float(pts[:, 1].mean()))
    half = max(15.0, float(np.hypot(*(pts - middle).T).max()) * px + 5.0)
    response, r0, c0 = _spot_response(image, middle, half)
    reach = max(reach_mm / px, 1.0)
    yy, xx = np.mgrid[-math.ceil(reach) : math.ceil(reach) + 1, -math.ceil(reach) : math.ceil(reach) + 1]
    disk = np.hypot(yy, xx) <= reach
    out = []
    for col, row in pts:
        rr, cc = round(row - 0.5 - r0) + yy[disk], round(col - 0.5 - c0) + xx[disk]
        ok = (rr >= 0) & (rr < response.shape[0]) & (cc >= 0) & (cc < response.shape[1])
        if not ok.any():
            out.append([0.0, float(col), float(row)])
            continue
        values = response[rr[ok], cc[ok]]
        k = int(np.argmax(values))
        out.append([round(float(values[k]), 2), float(cc[ok][k] + c0 + 0.5), float(rr[ok][k] + r0 + 0.5)])
    return out


def _view_diagnostics(finding: Any, mark: Any, pair: Any, view: Any) -> dict[str, Any]:
    """What one view of a finding measured, for the bench's per-lesion diagnostics."""
    from breastgate.domain.model import FindingKind

    reg = pair.registration
    out: dict[str, Any] = {
        "view": f"{mark.laterality} {mark.view}",
        "scale": round(reg.transform.scale, 4),
        "ncc": reg.ncc,
        "fallback": reg.fallback,
        "px": float(min(pair.current.spacing_mm)),
        "prior_px": float(min(pair.prior.spacing_mm)),
    }
    if view is None:
        return out
    now, then = view.now, view.then
    out["now"] = [now.size_mm, round(now.contrast, 3)]
    out["then"] = None if then is None else [then.size_mm, round(then.contrast, 3)]
    if finding.kind == FindingKind.CALCIFICATION_CLUSTER and now.spots:
        px = out["px"]
        spots = list(now.spots)
        mapped = [reg.map_point(p) for p in spots]
        out["now_spots"] = [
            [round(c * px, 2), round(r * px, 2), v[0]]
            for (c, r), v in zip(spots, _peaks(pair.current, spots, 0.3), strict=True)
        ]
        out["prior_peaks"] = _peaks(pair.prior, mapped, 0.8)
        extent = max(now.size_mm, 2.0) + 3.0
        controls = []
        for k in range(_CONTROL_DIRECTIONS):
            angle = 2 * np.pi * k / _CONTROL_DIRECTIONS
            dc, dr = extent * np.cos(angle) / out["prior_px"], extent * np.sin(angle) / out["prior_px"]
            controls.append([v[0] for v in _peaks(pair.prior, [(c + dc, r + dr) for c, r in mapped], 0.8)])
        out["controls"] = controls
    return out


def _cached_analyse(folder: Path | None) -> Any:
    """``comparison._analyse`` that keeps each study's detector results in ``folder`` (by Study
    Instance UID; phantom UIDs follow from the seed) so that reruns of the comparison rules skip
    the detectors. Valid only while the detectors and the phantoms do not change: clear it then."""
    import pickle

    from breastgate.algorithms import comparison

    analyse = comparison._analyse
    if folder is None:
        return analyse

    def cached(study: Any) -> Any:
        path = folder / f"{study.study_instance_uid}.pkl"
        if path.exists():
            return replace(pickle.loads(path.read_bytes()), study=study)
        out = analyse(study)
        part = path.with_suffix(f".{os.getpid()}.part")
        part.write_bytes(pickle.dumps(out))
        part.replace(path)  # atomic: a concurrent run never reads half a file
        return out

    return cached


def one_pair(args: tuple[int, int, Path | None]) -> dict[str, Any]:
    seed, i, cache = args
    from breastgate.algorithms import comparison
    from breastgate.algorithms.comparison import ComparisonAlgorithm
    from breastgate.domain.model import PriorStatus
    from breastgate.phantoms import VENDOR_PROFILES
    from breastgate.phantoms.prior import generate_mg_pair

    requests, changes = requests_for(seed, i)
    vendor = sorted(VENDOR_PROFILES)[i % 2]
    pair = generate_mg_pair(
        seed + i, category="abcd"[i % 4], vendor=vendor, lesions=requests, changes=changes
    )
    px = VENDOR_PROFILES[vendor].pixel_spacing_mm
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c").mkdir()
        (Path(tmp) / "p").mkdir()
        prior = save_study(pair.prior.datasets, Path(tmp) / "p", views=True)
        prior = replace(prior, study_date=str(pair.prior.datasets[0].StudyDate))
        current = save_study(pair.current.datasets, Path(tmp) / "c", views=True)
        current = replace(current, priors=(prior,), prior_status=PriorStatus.HELD)
        # Record what each view of each finding measured, and keep the registrations the run made
        # (not registered a second time for the landmark errors).
        diagnostics: dict[tuple[str, str], list[dict[str, Any]]] = {}
        kept: list[Any] = []
        measure, registered = comparison._measure_view, comparison.register_views

        def recording_measure(finding: Any, mark: Any, pair: Any) -> Any:
            view = measure(finding, mark, pair)
            diagnostics.setdefault((finding.kind.value, finding.id), []).append(
                _view_diagnostics(finding, mark, pair, view)
            )
            return view

        def keeping_register(*a: Any) -> Any:
            regs = registered(*a)
            kept.append(regs)
            return regs

        analyse = comparison._analyse
        comparison._measure_view = recording_measure  # type: ignore[assignment]
        comparison.register_views = keeping_register  # type: ignore[assignment]
        comparison._analyse = _cached_analyse(cache)  # type: ignore[assignment]
        algorithm = ComparisonAlgorithm()
        started = time.perf_counter()
        try:
            result = algorithm.run(algorithm.select(current))
        finally:
            comparison._measure_view, comparison.register_views = measure, registered  # type: ignore[assignment]
            comparison._analyse = analyse  # type: ignore[assignment]
        seconds = time.perf_counter() - started
        regs = kept[0] if kept else registered(current, prior)
        by_view = {}
        for view in pair.current.truth["prior"]["views"]:
            key = (view["laterality"], view["view"])
            if key in regs:
                errs, _ = _landmark_errors({"prior": {"views": [view]}}, {key: regs[key]}, shape_of(pair), px)
                reg = regs[key].registration
                by_view[f"{key[0]} {key[1]}"] = {
                    "max_mm": round(max(errs), 2) if errs else None,
                    "ncc": reg.ncc,
                    "ncc_initial": reg.ncc_initial,
                    "fallback": reg.fallback,
                }
        after, before = _landmark_errors(pair.current.truth, regs, shape_of(pair), px)
    truth_by_id = {lesion["id"]: lesion for lesion in pair.current.truth["lesions"]}
    lesions = []
    for entry in pair.current.truth["prior"]["lesions"]:
        lesion = truth_by_id[entry["id"]]
        views = {v["sop_instance_uid"]: v for v in lesion["views"]}
        found = None
        for f in result.findings:
            if f.kind.value == entry["kind"] and any(
                m.sop_instance_uid in views and _hit(m, views[m.sop_instance_uid], px) for m in f.marks
            ):
                found = f
                break
        lesions.append(
            {
                "kind": entry["kind"],
                "true": entry["change"],
                "true_change_mm": entry["size_change_mm"],
                "found": found is not None,
                "called": None
                if found is None or found.comparison is None
                else found.comparison.change.value,
                "change_mm": None
                if found is None or found.comparison is None
                else found.comparison.size_change_mm,
                "size_mm": entry.get("size_mm"),
                "prior_size_mm": entry.get("prior_size_mm"),
                "prior_detected": None if found is None else found.attributes.get("prior_detected"),
                "views": [] if found is None else diagnostics.get((found.kind.value, found.id), []),
            }
        )
    return {
        "i": i,
        "seconds": seconds,
        "lesions": lesions,
        "reg": after,
        "reg_init": before,
        "reg_views": by_view,
    }


def shape_of(pair: Any) -> dict[tuple[str, str], tuple[int, int]]:
    """(rows, columns) of each current view."""
    return {
        (str(d.ImageLaterality), str(d.ViewPosition)): (int(d.Rows), int(d.Columns))
        for d in pair.current.datasets
    }


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--start", type=int, default=0, help="first pair index (resume a run: same pairs)")
    parser.add_argument("--seed", type=int, default=9000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--jsonl", type=Path, help="append one JSON line per pair to this file")
    parser.add_argument("--summarise", type=Path, help="only print the figures of a --jsonl file")
    parser.add_argument(
        "--cache",
        type=Path,
        help="keep the detectors' results per study here and reuse them (development reruns only: "
        "the seconds per pair then leave the detectors out)",
    )
    args = parser.parse_args()
    if args.summarise:
        lines = args.summarise.read_text(encoding="utf-8").splitlines()
        summarise([json.loads(line) for line in lines if line.strip()])
        return
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    jobs = [(args.seed, i, args.cache) for i in range(args.start, args.start + args.count)]
    rows = []
    with ProcessPoolExecutor(max(args.workers, 1)) as pool:
        for row in pool.map(one_pair, jobs):
            rows.append(row)
            calls = ", ".join(f"{x['kind'][:4]} {x['true']}->{x['called']}" for x in row["lesions"])
            print(f"pair {row['i']}: {calls}; {row['seconds']:.1f} s", flush=True)
            if args.jsonl:
                with args.jsonl.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(row) + "\n")
    summarise(rows)


def summarise(rows: list[dict[str, Any]]) -> None:
    """Print the figures (module docstring) of the pairs run."""
    lesions = [lesion for r in rows for lesion in r["lesions"]]
    found = [lesion for lesion in lesions if lesion["found"]]
    share = len(found) / max(len(lesions), 1)
    print(f"pairs {len(rows)}, lesions {len(lesions)}, found {len(found)} ({share:.2f})")
    for kind in ("mass", "calcification_cluster", None):
        subset = [x for x in found if kind is None or x["kind"] == kind]
        if not subset:
            continue
        right = sum(1 for x in subset if x["called"] == x["true"])
        print(f"{kind or 'all'}: change accuracy {right / len(subset):.3f} ({right}/{len(subset)})")
    labels = ("new", "stable", "increased", "decreased")
    print("confusion (rows true, columns called):", " ".join(f"{c:>9}" for c in labels))
    for t in labels:
        print(
            f"  {t:>9}",
            " ".join(f"{sum(1 for x in found if x['true'] == t and x['called'] == c):9d}" for c in labels),
        )
    for kind in ("mass", "calcification_cluster", None):
        errors = [
            abs(x["change_mm"] - x["true_change_mm"])
            for x in found
            if (kind is None or x["kind"] == kind)
            and x["true_change_mm"] is not None
            and x["change_mm"] is not None
        ]
        if errors:
            mean, p90 = np.mean(errors), _pct(errors, 90)
            print(
                f"{kind or 'all'}: size-change error mean {mean:.2f} mm, p90 {p90:.2f} mm (n={len(errors)})"
            )
    reg = [e for r in rows for e in r["reg"]]
    init = [e for r in rows for e in r["reg_init"]]
    for name, values in ((f"registration error (landmarks, n={len(reg)})", reg), ("  landmarks alone", init)):
        print(f"{name}: mean {np.mean(values):.2f} p90 {_pct(values, 90):.2f} max {max(values):.2f} mm")
    seconds = [r["seconds"] for r in rows]
    print(f"seconds per pair: mean {np.mean(seconds):.1f}, max {max(seconds):.1f}")


if __name__ == "__main__":
    main()
