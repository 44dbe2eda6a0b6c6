"""Agreement of ``breastgate.positioning`` with the positioning truth of phantom studies.

Usage: ``python bench/positioning_agreement.py --count 200 --seed 6000 [--workers 2]``.
Study i: the positioning content cycles none / each of ``phantoms.positioning.DEFECTS``, the vendor
profile alternates every five studies and the density category every ten, so 40 studies cover
every defect on both profiles in every category. Studies are full-resolution DICOM files, run
through ``select`` + ``run``. Prints:

- per study: verdict agreement (passed or not) and failing-check agreement (the set of failing
  checks equals the truth's), overall, by defect, by vendor profile and by density category;
- per image: agreement of the failing image checks (nipple in profile, pectoral to PNL, pectoral
  angle) and the absolute errors of PNL, pectoral gap and angle against the truth;
- per check: study-level confusion counts (truth fails / passes × algorithm fails / passes);
- the disagreements, and PASS/MISS against the target: ≥ 95 % agreement per study and per image.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench._common
from bench._common import median, percentile, save_study

CHECKS = ("nipple_in_profile", "mlo_pectoral_to_pnl", "pectoral_angle", "pnl_cc_mlo", "views_complete")
IMAGE_CHECKS = frozenset({"nipple_in_profile", "mlo_pectoral_to_pnl", "pectoral_angle"})
TARGET = 0.95


def content(i: int) -> tuple[str, ...]:
    from breastgate.phantoms.positioning import DEFECTS

    kinds: list[tuple[str, ...]] = [(), *((d,) for d in DEFECTS)]
    return kinds[i % len(kinds)]


def one_study(args: tuple[int, int]) -> dict[str, Any]:
    """Generate study ``i``, run positioning QA on its files; truth, verdicts and measurements."""
    from breastgate.algorithms.positioning import PositioningAlgorithm
    from breastgate.phantoms import VENDOR_PROFILES, generate_mg_study

    seed, i = args
    defects = content(i)
    vendor = sorted(VENDOR_PROFILES)[(i // 5) % 2]
    category = "abcd"[(i // 10) % 4]
    study = generate_mg_study(seed + i, category=category, vendor=vendor, defects=defects)
    algorithm = PositioningAlgorithm()
    with tempfile.TemporaryDirectory() as folder:
        ref = save_study(study.datasets, folder)
        started = time.perf_counter()
        result = algorithm.run(algorithm.select(ref))
        seconds = time.perf_counter() - started
    truth = study.truth["positioning"]
    failing = [c for c in result.quality if not c.passed and c.name != "study_verdict"]
    verdict = next((c.passed for c in result.quality if c.name == "study_verdict"), None)
    measured = {o.sop_instance_uid: dict(o.measurements) for o in result.images}
    images = []
    for image in truth["images"]:
        where = (image["laterality"], image["view"])
        expected = {f["name"] for f in truth["verdict"]["failures"] if (f["laterality"], f["view"]) == where}
        got = {c.name for c in failing if c.sop_instance_uid == image["sop_instance_uid"]}
        images.append(
            {
                "where": where,
                "truth": sorted(expected & IMAGE_CHECKS),
                "got": sorted(got & IMAGE_CHECKS),
                "truth_values": image,
                "measured": measured.get(image["sop_instance_uid"], {}),
            }
        )
    return {
        "seed": seed + i,
        "defect": defects[0] if defects else "none",
        "vendor": vendor,
        "category": category,
        "status": str(result.status),
        "truth_passed": truth["verdict"]["passed"],
        "truth_failing": truth["verdict"]["failing_checks"],
        "passed": verdict,
        "failing": sorted({c.name for c in failing}),
        "images": images,
        "seconds": seconds,
    }


def _rate(rows: list[dict[str, Any]], key: str) -> str:
    agree = sum(r[key] for r in rows)
    return f"{agree:4d}/{len(rows):<4d} {100 * agree / len(rows):5.1f}%" if rows else "   -"


def by_group(rows: list[dict[str, Any]], field: str) -> None:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[field]].append(row)
    for name in sorted(groups):
        group = groups[name]
        print(
            f"  {field + ' ' + name:32s} verdict {_rate(group, 'verdict_ok')}  "
            f"failing checks {_rate(group, 'checks_ok')}"
        )


def confusion(rows: list[dict[str, Any]]) -> None:
    """Study-level confusion per check: truth fails (TP/FN) or passes (FP/TN) vs the algorithm."""
    print("  check                 TP   FN   FP   TN  (positive = the check fails)")
    for check in CHECKS:
        counts: Counter[str] = Counter()
        for row in rows:
            truth, got = check in row["truth_failing"], check in row["failing"]
            counts["TP" if truth and got else "FN" if truth else "FP" if got else "TN"] += 1
        print(f"  {check:20s} {counts['TP']:4d} {counts['FN']:4d} {counts['FP']:4d} {counts['TN']:4d}")


def errors(rows: list[dict[str, Any]]) -> None:
    """Median / p95 / max absolute error of the measurements against the phantom truth."""
    for key, truth_key, unit in (
        ("pnl_mm", "pnl_mm", "mm"),
        ("pectoral_gap_mm", "pectoral_gap_mm", "mm"),
        ("pectoral_angle_deg", "pectoral_angle_deg", "°"),
    ):
        diffs = [
            abs(image["measured"][key] - image["truth_values"][truth_key])
            for row in rows
            for image in row["images"]
            if key in image["measured"] and image["truth_values"].get(truth_key) is not None
        ]
        if diffs:
            print(
                f"  |{key}| error: median {median(diffs):.1f} {unit}, p95 {percentile(diffs, 95):.1f} "
                f"{unit}, max {max(diffs):.1f} {unit} (n={len(diffs)})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one_study, [(args.seed, i) for i in range(args.count)]))
    wall = time.perf_counter() - started
    for row in rows:
        row["verdict_ok"] = row["passed"] == row["truth_passed"]
        row["checks_ok"] = row["failing"] == row["truth_failing"]
    images = [image for row in rows for image in row["images"]]
    image_agree = sum(image["got"] == image["truth"] for image in images)
    counts = Counter(row["defect"] for row in rows)
    print(
        f"{len(rows)} studies ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}), "
        f"{len(images)} images, wall {wall:.0f} s"
    )
    print("\n== per study")
    print(f"  {'all':32s} verdict {_rate(rows, 'verdict_ok')}  failing checks {_rate(rows, 'checks_ok')}")
    for field in ("defect", "vendor", "category"):
        by_group(rows, field)
    print("\n== per image (failing image checks equal the truth's)")
    print(f"  agreement {image_agree}/{len(images)} {100 * image_agree / max(1, len(images)):.1f}%")
    errors(rows)
    print("\n== per check (study level)")
    confusion(rows)
    misses = [r for r in rows if not (r["checks_ok"] and r["verdict_ok"])]
    if misses:
        print(f"\n== disagreements ({len(misses)}; first 15)")
        for r in misses[:15]:
            print(
                f"  seed {r['seed']} {r['defect']:22s} {r['vendor']} {r['category']}: "
                f"got {r['failing']} truth {r['truth_failing']}"
            )
    not_ok = sum(1 for r in rows if r["status"] != "ok")
    seconds = [r["seconds"] for r in rows]
    print(f"\nseconds per study: median {median(seconds):.2f}, p95 {percentile(seconds, 95):.2f}")
    print(f"studies not ok: {not_ok}")
    print(f"peak RSS of a worker {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")
    study_rate = sum(r["checks_ok"] and r["verdict_ok"] for r in rows) / len(rows)
    image_rate = image_agree / max(1, len(images))
    print(f"target: positioning agreement ≥ {100 * TARGET:.0f} % with the phantom truth")
    for name, rate in (("per study (verdict and failing checks)", study_rate), ("per image", image_rate)):
        print(f"  {name:40s} {100 * rate:5.1f}%  {'PASS' if rate >= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()
