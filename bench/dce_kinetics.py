"""Benchmark of ``breastgate.kinetics`` on DCE-MRI phantoms (issue 18), and its speed at full size.

Usage: ``python bench/dce_kinetics.py --count 10 --seed 100 [--size 128,128,32] [--workers 2]``
(``--count`` studies per DICOM form: series-per-phase, multiphase, enhanced) and
``python bench/dce_kinetics.py --speed [--speed-dir DIR]``.

Accuracy mode: each study is written by :func:`breastgate.phantoms.mri.write_dce_phantoms`,
indexed as ``analyze`` indexes a folder and run through :class:`KineticsAlgorithm`. A true lesion
is detected when a finding of the same breast has its centre within ``max(10 mm, ¾ of the true
largest diameter)`` of the true centre (greedy, nearest first); other findings are false lesions.
Prints lesion sensitivity and false lesions per study at every score threshold, curve-type,
initial-phase and clock (± 1 h) agreement of the detected lesions, the error of the largest
diameter (mm) and of the volume (%), and seconds per study.

Speed mode: one 6-phase study of 512 × 512 × 160 (series per phase, 960 files) written to disk,
then selected and analysed in this process; prints seconds and peak RSS against the targets
(≤ 60 s, ≤ 3 GB on 2 cores), the DICOM reading included.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FORMS = ("series-per-phase", "multiphase", "enhanced")
THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
TARGET_SECONDS, TARGET_RSS_MB = 60.0, 3072.0


def _run_one(args: tuple[int, str, tuple[int, int, int]]) -> dict[str, Any]:
    from breastgate.algorithms.kinetics import KineticsAlgorithm
    from breastgate.phantoms.mri import write_dce_phantoms
    from breastgate.pipeline.offline import collect_studies

    seed, form, size = args
    with tempfile.TemporaryDirectory() as tmp:
        (folder,) = write_dce_phantoms(Path(tmp), 1, seed, form=form, size=size)
        truth = json.loads((folder / "truth.json").read_text())
        studies, _ = collect_studies(folder)
        algorithm = KineticsAlgorithm()
        start = time.perf_counter()
        result = algorithm.run(algorithm.select(studies[0]))
        seconds = time.perf_counter() - start
    findings = [
        {
            "laterality": f.laterality,
            "score": f.score,
            "centre": f.location.patient_mm if f.location else None,
            "diameters": f.diameters_mm,
            "volume": f.volume_mm3,
            "curve_type": f.kinetics.curve_type if f.kinetics else None,
            "initial_phase": f.kinetics.initial_phase.value if f.kinetics else None,
            "clock": f.location.clock if f.location else None,
            "distance": f.location.distance_from_nipple_mm if f.location else None,
            "attributes": dict(f.attributes),
        }
        for f in result.findings
    ]
    return {
        "seed": seed,
        "form": form,
        "status": result.status.value,
        "message": result.message,
        "seconds": seconds,
        "truth": truth["lesions"],
        "findings": findings,
    }


def _match(truth: list[dict[str, Any]], findings: list[dict[str, Any]]) -> dict[int, int]:
    pairs = []
    for i, lesion in enumerate(truth):
        limit = max(10.0, 0.75 * lesion["diameters_mm"][0])
        for j, finding in enumerate(findings):
            if finding["centre"] is None or finding["laterality"] != lesion["laterality"]:
                continue
            distance = math.dist(finding["centre"], lesion["patient_mm"])
            if distance <= limit:
                pairs.append((distance, i, j))
    matched: dict[int, int] = {}
    for _, i, j in sorted(pairs):
        if i not in matched and j not in matched.values():
            matched[i] = j
    return matched


def _clock_ok(a: int | None, b: int | None) -> bool:
    if a is None or b is None:
        return False
    return min((a - b) % 12, (b - a) % 12) <= 1


def report(runs: list[dict[str, Any]]) -> None:
    n_studies = len(runs)
    n_lesions = sum(len(r["truth"]) for r in runs)
    print(f"{n_studies} studies ({', '.join(FORMS)}), {n_lesions} true lesions")
    failed = [r for r in runs if r["status"] != "ok"]
    for r in failed:
        print(f"  seed {r['seed']} {r['form']}: {r['status']}: {r['message']}")
    print("threshold  sensitivity  false/study")
    for threshold in THRESHOLDS:
        hits = fps = 0
        for r in runs:
            kept = [f for f in r["findings"] if f["score"] >= threshold]
            matched = _match(r["truth"], kept)
            hits += len(matched)
            fps += len(kept) - len(matched)
        print(
            f"  {threshold:4.2f}     {hits / max(n_lesions, 1):.3f} ({hits}/{n_lesions})"
            f"   {fps / n_studies:.2f}"
        )
    curve = initial = clock = 0
    size_err: list[float] = []
    volume_err: list[float] = []
    distance_err: list[float] = []
    detected = 0
    misses = []
    for r in runs:
        matched = _match(r["truth"], r["findings"])
        for i, lesion in enumerate(r["truth"]):
            if i not in matched:
                misses.append(
                    (r["seed"], r["form"], lesion["id"], lesion["diameters_mm"], lesion["curve_type"])
                )
                continue
            f = r["findings"][matched[i]]
            detected += 1
            curve += f["curve_type"] == lesion["curve_type"]
            initial += f["initial_phase"] == lesion["initial_phase"]
            clock += _clock_ok(f["clock"], lesion.get("clock"))
            size_err.append(abs(f["diameters"][0] - lesion["diameters_mm"][0]))
            volume_err.append(100.0 * (f["volume"] - lesion["volume_mm3"]) / lesion["volume_mm3"])
            if f["distance"] is not None and lesion.get("distance_from_nipple_mm") is not None:
                distance_err.append(abs(f["distance"] - lesion["distance_from_nipple_mm"]))
    if detected:
        size_err.sort()
        print(f"curve type agreement     {curve / detected:.3f} ({curve}/{detected})")
        print(f"initial phase agreement  {initial / detected:.3f} ({initial}/{detected})")
        print(f"clock within 1 h         {clock / detected:.3f} ({clock}/{detected})")
        print(
            f"largest diameter error   mean {sum(size_err) / detected:.2f} mm, median "
            f"{size_err[detected // 2]:.2f} mm, "
            f"90th {size_err[min(detected - 1, int(0.9 * detected))]:.2f} mm"
        )
        volume_err.sort()
        print(f"volume error             median {volume_err[detected // 2]:+.1f} %")
        if distance_err:
            distance_err.sort()
            print(f"nipple distance error    median {distance_err[len(distance_err) // 2]:.1f} mm")
    seconds = sorted(r["seconds"] for r in runs)
    print(f"seconds per study        median {seconds[len(seconds) // 2]:.2f}, max {seconds[-1]:.2f}")
    for miss in misses:
        print(f"  missed: seed {miss[0]} {miss[1]} {miss[2]} diameters {miss[3]} type {miss[4]}")


def speed(folder: Path | None) -> None:
    from breastgate.algorithms.kinetics import KineticsAlgorithm
    from breastgate.phantoms.mri import write_dce_phantoms
    from breastgate.pipeline.offline import collect_studies

    tmp = None
    if folder is None or not any(folder.glob("*/truth.json")):
        tmp = tempfile.TemporaryDirectory()
        folder = Path(tmp.name) if folder is None else folder
        start = time.perf_counter()
        write_dce_phantoms(folder, 1, 9100, form="series-per-phase", size=(512, 512, 160), phases=6)
        print(f"wrote the 512x512x160x6 phantom in {time.perf_counter() - start:.0f} s")
    (study_folder,) = [p.parent for p in folder.glob("*/truth.json")]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    studies, _ = collect_studies(study_folder)
    algorithm = KineticsAlgorithm()
    result = algorithm.run(algorithm.select(studies[0]))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    truth = json.loads((study_folder / "truth.json").read_text())
    print(f"result: {result.status.value}: {result.message}")
    print(f"true lesions {len(truth['lesions'])}, findings {len(result.findings)}")
    print(f"seconds {seconds:.1f} (target <= {TARGET_SECONDS:.0f}), indexing and reading included")
    print(f"peak RSS {peak:.0f} MB (target <= {TARGET_RSS_MB:.0f}; {before:.0f} MB before the run)")
    if tmp is not None:
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10, help="studies per form")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--size", default="128,128,32", help="rows,columns,slices")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--speed-dir", type=Path)
    parser.add_argument("--json", type=Path, help="write the raw runs here")
    args = parser.parse_args()
    if args.speed:
        speed(args.speed_dir)
        return
    size = tuple(int(v) for v in args.size.split(","))
    jobs = [(args.seed + i, form, size) for i in range(args.count) for form in FORMS]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = list(pool.map(_run_one, jobs))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    report(runs)


if __name__ == "__main__":
    main()
