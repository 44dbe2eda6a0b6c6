"""FROC of ``breastgate.masses`` on tomosynthesis (DBT) phantoms, and its speed on a full-size volume.

Usage: ``python bench/dbt_froc.py --count 60 --seed 8000 [--workers 2] [--pixel-mm 0.2]`` and
``python bench/dbt_froc.py --speed [--speed-dir DIR]``.

FROC mode: study i has one mass (even i) or none (odd i), density categories cycle a-d every two
studies and the vendor profiles alternate every eight; four DBT volumes per study (no synthesized
views), reconstructed at ``--pixel-mm``. A lesion is hit when a mark on one of its DBT volumes has
its centre inside the true extent (bbox) on that view and its frame within the true frame range
± ``FRAME_SLACK``. Prints lesion and per-view sensitivity and false marks per volume at the
operating point, a FROC table (finding-score thresholds), case AUC (mass vs normal studies, case
score = highest finding score), seconds per volume and the workers' peak RSS.

Speed mode: one volume of 60 slices at the vendor's 0.1 mm pixel (seed 9001, density b, profile
b: the right breast is 60.3 mm thick, so the R CC volume has 60 frames, 3062 × 2394 pixels, 880 MB),
written to disk, then ``MassAlgorithm`` selects and runs on that one file in this process; prints
seconds and this process's peak RSS against the targets (≤ 60 s, ≤ 2 GB).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench._common
from bench._common import save_study

FRAME_SLACK = 2
THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7)
SPEED_SEED, SPEED_CATEGORY, SPEED_VENDOR = 9001, "b", "profile-b-100um"
TARGET_SECONDS, TARGET_RSS_MB = 60.0, 2048.0


def one_study(args: tuple[int, int, float]) -> dict[str, Any]:
    """Generate study ``i`` and run the mass detector; returns truth, marks and timing."""
    from breastgate.algorithms.masses import MassAlgorithm
    from breastgate.phantoms import VENDOR_PROFILES, generate_dbt_study
    from breastgate.phantoms.dbt import dbt_file_name
    from breastgate.phantoms.lesions import LesionRequest

    seed, i, pixel_mm = args
    content = "mass" if i % 2 == 0 else "normal"
    category = "abcd"[(i // 2) % 4]
    vendor = sorted(VENDOR_PROFILES)[(i // 8) % 2]
    requests = [LesionRequest("mass")] if content == "mass" else []
    study = generate_dbt_study(
        seed + i, category=category, vendor=vendor, lesions=requests, pixel_mm=pixel_mm, synthesized_2d=False
    )
    with tempfile.TemporaryDirectory() as folder, study:
        ref = save_study(study.datasets, folder, file_name=dbt_file_name)
        algorithm = MassAlgorithm()
        result = algorithm.run(algorithm.select(ref))
    return {
        "category": category,
        "vendor": vendor,
        "content": content,
        "truth": study.truth,
        "status": str(result.status),
        "threshold": result.operating_threshold,
        "volumes": [r.sop_instance_uid for r in ref.instances],
        "seconds": [o.measurements.get("seconds", float("nan")) for o in result.images],
        "marks": [(m.sop_instance_uid, m.point, m.frame, f.score) for f in result.findings for m in f.marks],
    }


def _hit(mark: tuple[str, list[float], int | None, float], view: dict[str, Any]) -> bool:
    uid, point, frame, _ = mark
    if uid != view["sop_instance_uid"] or frame is None:
        return False
    c0, r0, c1, r1 = view["bbox"]
    first, last = view["frames"]
    inside = c0 <= point[0] <= c1 and r0 <= point[1] <= r1
    return inside and first - FRAME_SLACK <= frame <= last + FRAME_SLACK


def evaluate(rows: list[dict[str, Any]], threshold: float) -> dict[str, float]:
    """Lesion and per-view sensitivity, false marks per volume at ``threshold``."""
    lesions = hits = views = view_hits = false_marks = volumes = 0
    for row in rows:
        volumes += len(row["volumes"])
        marks = [m for m in row["marks"] if m[3] >= threshold and m[0] in row["volumes"]]
        used: set[int] = set()
        for lesion in row["truth"]["lesions"]:
            lesions += 1
            hit_any = False
            for view in (v for v in lesion["views"] if v.get("image") == "dbt"):
                views += 1
                hit = {k for k, m in enumerate(marks) if _hit(m, view)}
                used |= hit
                view_hits += bool(hit)
                hit_any = hit_any or bool(hit)
            hits += hit_any
        false_marks += len(marks) - len(used)
    return {
        "lesions": lesions,
        "sensitivity": hits / lesions if lesions else float("nan"),
        "view_sensitivity": view_hits / views if views else float("nan"),
        "fp_per_volume": false_marks / volumes if volumes else float("nan"),
    }


def auc(rows: list[dict[str, Any]]) -> float:
    """Case-level AUC, mass vs normal studies; case score = highest finding score."""
    pos = [max((m[3] for m in r["marks"]), default=0.0) for r in rows if r["content"] == "mass"]
    neg = [max((m[3] for m in r["marks"]), default=0.0) for r in rows if r["content"] == "normal"]
    if not pos or not neg:
        return float("nan")
    p, n = np.array(pos)[:, None], np.array(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def froc(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    jobs = [(args.seed, i, args.pixel_mm) for i in range(args.count)]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one_study, jobs))
    wall = time.perf_counter() - started
    masses = sum(r["content"] == "mass" for r in rows)
    print(
        f"{len(rows)} DBT studies ({masses} with a mass, {len(rows) - masses} normal), "
        f"{args.pixel_mm} mm pixels, wall {wall:.0f} s"
    )
    threshold = rows[0]["threshold"] or 0.0
    print(f"\n== masses on DBT volumes (operating threshold {threshold})")
    for name, subset in (("all", "abcd"), ("a/b", "ab"), ("c/d", "cd")):
        e = evaluate([r for r in rows if r["category"] in subset], threshold)
        print(
            f"  {name:4s} lesions {e['lesions']:3.0f}  sensitivity {e['sensitivity']:.3f}  "
            f"per-view {e['view_sensitivity']:.3f}  false marks/volume {e['fp_per_volume']:.3f}"
        )
    print("  FROC (threshold: sensitivity, per-view sensitivity, false marks/volume):")
    for t in THRESHOLDS:
        e = evaluate(rows, t)
        print(f"    {t:.2f}: {e['sensitivity']:.3f}, {e['view_sensitivity']:.3f}, {e['fp_per_volume']:.3f}")
    print(f"  case AUC (mass vs normal studies) {auc(rows):.3f}")
    seconds = [s for r in rows for s in r["seconds"]]
    print(f"  seconds per volume: median {np.median(seconds):.2f}, p95 {np.percentile(seconds, 95):.2f}")
    print(f"  studies not ok: {sum(1 for r in rows if r['status'] != 'ok')}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak RSS of a worker {rss:.0f} MB")


def speed(args: argparse.Namespace) -> None:
    from breastgate.algorithms.masses import MassAlgorithm
    from breastgate.domain.model import StudyRef

    with tempfile.TemporaryDirectory(dir=args.speed_dir) as folder:
        started = time.perf_counter()
        # Generated in a child process, so that its memory does not count in this one's peak RSS.
        with ProcessPoolExecutor(1) as pool:
            ref = pool.submit(_write_speed_volume, Path(folder)).result()
        generated = time.perf_counter() - started
        size_mb = Path(ref.path).stat().st_size / 2**20
        print(f"volume: {ref.number_of_frames} frames, {size_mb:.0f} MB file, generated in {generated:.0f} s")
        algorithm = MassAlgorithm()
        started = time.perf_counter()
        result = algorithm.run(algorithm.select(StudyRef(ref.study_instance_uid, (ref,))))
        seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (outcome,) = result.images
    print(f"status {result.status}, {dict(outcome.measurements)}, {len(result.findings)} findings")
    print(f"MassAlgorithm on one volume: {seconds:.1f} s (target <= {TARGET_SECONDS:.0f} s)")
    print(f"peak RSS of this process: {rss:.0f} MB (target <= {TARGET_RSS_MB:.0f} MB)")


def _write_speed_volume(folder: Path) -> Any:
    from breastgate.phantoms import generate_dbt_study
    from breastgate.phantoms.dbt import dbt_file_name

    with generate_dbt_study(
        SPEED_SEED, category=SPEED_CATEGORY, vendor=SPEED_VENDOR, synthesized_2d=False
    ) as study:
        volume = study.datasets[0]  # R CC
        (ref,) = save_study([volume], folder, file_name=dbt_file_name).instances
    return ref


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--seed", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pixel-mm", type=float, default=0.2)
    parser.add_argument("--speed", action="store_true", help="time one 60-slice 0.1 mm volume instead")
    parser.add_argument("--speed-dir", default=None, help="where to write the speed volume (temp dir)")
    args = parser.parse_args()
    if args.speed:
        speed(args)
    else:
        froc(args)


if __name__ == "__main__":
    main()
