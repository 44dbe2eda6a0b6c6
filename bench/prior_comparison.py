"""Prior comparison (``breastgate.comparison``) on phantom pairs: change category, size change,
registration error, time per pair.

Usage: ``python bench/prior_comparison.py --count 100 --seed 9000 [--workers 2]``.

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
after the refinement; seconds per pair (algorithm only, both studies analysed).
Targets (issue 18): accuracy >= 0.90, size error <= 2 mm, registration <= 3 mm.
"""

from __future__ import annotations

import argparse
import json
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


def one_pair(args: tuple[int, int]) -> dict[str, Any]:
    seed, i = args
    from breastgate.algorithms.comparison import ComparisonAlgorithm, register_views
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
        algorithm = ComparisonAlgorithm()
        started = time.perf_counter()
        result = algorithm.run(algorithm.select(current))
        seconds = time.perf_counter() - started
        regs = register_views(current, prior)
        shape = {
            (str(d.ImageLaterality), str(d.ViewPosition)): (int(d.Rows), int(d.Columns))
            for d in pair.current.datasets
        }
        after, before = _landmark_errors(pair.current.truth, regs, shape, px)
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
            }
        )
    return {"i": i, "seconds": seconds, "lesions": lesions, "reg": after, "reg_init": before}


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=9000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--jsonl", type=Path, help="append one JSON line per pair to this file")
    parser.add_argument("--summarise", type=Path, help="only print the figures of a --jsonl file")
    args = parser.parse_args()
    if args.summarise:
        lines = args.summarise.read_text(encoding="utf-8").splitlines()
        summarise([json.loads(line) for line in lines if line.strip()])
        return
    jobs = [(args.seed, i) for i in range(args.count)]
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
