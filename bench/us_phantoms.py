"""Benchmark of ``breastgate.ultrasound`` on breast ultrasound phantoms (issue 19), and its speed.

Usage: ``python bench/us_phantoms.py --count 60 --seed 6000 [--workers 2]`` and
``python bench/us_phantoms.py --speed``.

Accuracy mode: each study (:func:`breastgate.phantoms.us.generate_us_study`, default draws: 2-4
single-frame images, one in five dual-view, calipers / colour Doppler on some, location burned in,
structured or absent) is written as Part 10 files, indexed as ``analyze`` indexes a folder and read by
:class:`~breastgate.algorithms.ultrasound.UltrasoundAlgorithm`. A true lesion (per image, per region)
is detected when a shown finding (score at or above the operating threshold) has a mark on that
image whose point lies inside the lesion's truth box (inclusive, 2 px margin); a shown finding with
no mark on a true lesion is a false region. Prints sensitivity and false regions per image at the
operating threshold and at fixed thresholds; for the detected lesions in calibrated regions, the
width and depth errors (mm) against the truth; agreement of each BI-RADS US descriptor with the
phantom's; location agreement (side, clock, distance) where the truth has one and how often an
absent location was reported (never guessed: should be 0); seconds per image.

Speed mode: one 800 x 600 single-frame image and one 100-frame cine sweep, each read in this
process (reading, OCR, detection), against the targets (<= 1 s, <= 20 s on 2 cores). Tesseract runs
on one OpenMP thread, as under the ``breastgate`` command; the annotation is read while the regions
are searched (1.2.1 before: 1.58-1.92 s with Tesseract's default threads, about 1.0 s with one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7)
DESCRIPTORS = ("shape", "orientation", "margin", "echo_pattern", "posterior")
MARGIN_PX = 2
TARGET_IMAGE_S, TARGET_CINE_S = 1.0, 20.0


def _study_ref(study: Any, folder: Path) -> Any:
    from breastgate.pipeline.offline import collect_studies

    for i, ds in enumerate(study.datasets):
        ds.save_as(folder / f"{i}.dcm", enforce_file_format=True)
    (ref,), _ = collect_studies(folder)
    return ref


def _inside(point: tuple[float, float], box: list[int]) -> bool:
    c0, r0, c1, r1 = box
    return (
        c0 - MARGIN_PX <= point[0] <= c1 + 1 + MARGIN_PX and r0 - MARGIN_PX <= point[1] <= r1 + 1 + MARGIN_PX
    )


def _timed_run(study: Any) -> tuple[Any, float]:
    """``breastgate.ultrasound`` on ``study`` written to files, and its seconds (reading included)."""
    from breastgate.algorithms.ultrasound import UltrasoundAlgorithm

    with tempfile.TemporaryDirectory() as tmp:
        ref = _study_ref(study, Path(tmp))
        algorithm = UltrasoundAlgorithm()
        started = time.perf_counter()
        result = algorithm.run(algorithm.select(ref))
        return result, time.perf_counter() - started


def _run_one(seed: int) -> dict[str, Any]:
    from breastgate.phantoms.us import generate_us_study

    study = generate_us_study(seed)
    result, seconds = _timed_run(study)
    findings = [
        {
            "score": f.score,
            "marks": [(m.sop_instance_uid, m.point) for m in f.marks],
            "attributes": dict(f.attributes),
            "laterality": f.laterality,
            "clock": f.location.clock if f.location else None,
            "distance": f.location.distance_from_nipple_mm if f.location else None,
        }
        for f in result.findings
    ]
    return {
        "seed": seed,
        "truth": study.truth,
        "findings": findings,
        "threshold": result.operating_threshold,
        "seconds": seconds,
        "status": result.status.value,
    }


def _match(
    run: dict[str, Any], threshold: float
) -> tuple[list[tuple[dict[str, Any], dict[str, Any] | None]], int]:
    """(truth lesion, the shown finding on it or None) per true lesion, and the false regions."""
    shown = [f for f in run["findings"] if f["score"] >= threshold]
    used: set[int] = set()
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for image in run["truth"]["images"]:
        for lesion in image["lesions"]:
            hit = None
            for index, finding in enumerate(shown):
                if any(
                    uid == image["sop_instance_uid"] and _inside(p, lesion["bbox_px"])
                    for uid, p in finding["marks"]
                ):
                    hit = finding
                    used.add(index)
                    break
            pairs.append(({**lesion, "image": image}, hit))
    return pairs, len(shown) - len(used)


def _summary(runs: list[dict[str, Any]]) -> None:
    images = sum(len(r["truth"]["images"]) for r in runs)
    lesions = sum(len(i["lesions"]) for r in runs for i in r["truth"]["images"])
    print(f"studies {len(runs)}, images {images}, true lesions (per image and region) {lesions}")
    threshold = runs[0]["threshold"] or 0.0
    for value in sorted({*THRESHOLDS, threshold}):
        found = false = 0
        for run in runs:
            pairs, wrong = _match(run, value)
            found += sum(1 for _, hit in pairs if hit is not None)
            false += wrong
        mark = "  <- operating threshold" if value == threshold else ""
        print(
            f"  threshold {value:.3f}: sensitivity {found / max(lesions, 1):.3f}, "
            f"false regions / image {false / images:.3f}{mark}"
        )
    width: list[float] = []
    depth: list[float] = []
    agree: dict[str, list[bool]] = {name: [] for name in DESCRIPTORS}
    location: dict[str, list[bool]] = {"side": [], "clock": [], "distance": []}
    guessed = unknown = 0
    for run in runs:
        pairs, _ = _match(run, threshold)
        for lesion, hit in pairs:
            if hit is None:
                continue
            attributes = hit["attributes"]
            if "width_mm" in attributes and len(hit["marks"]) == 1:
                width.append(abs(float(attributes["width_mm"]) - lesion["width_mm"]))
                depth.append(abs(float(attributes["depth_mm"]) - lesion["depth_mm"]))
            for name in DESCRIPTORS:
                if name in attributes:
                    agree[name].append(attributes[name] == lesion[name])
            truth = lesion["image"]["location"]
            if truth["clock"] is None:
                unknown += 1
                guessed += hit["clock"] is not None
                continue
            location["side"].append(hit["laterality"] == lesion["image"]["laterality"])
            location["clock"].append(hit["clock"] == truth["clock"])
            location["distance"].append(hit["distance"] == truth["distance_from_nipple_mm"])
    if width:
        for name, errors in (("width", width), ("depth", depth)):
            ordered = sorted(errors)
            p90 = ordered[int(0.9 * (len(ordered) - 1))]
            within = sum(e <= 1.0 for e in errors) / len(errors)
            print(
                f"  {name} error (single view, calibrated): median {statistics.median(errors):.2f} mm, "
                f"p90 {p90:.2f} mm, within 1 mm {within:.3f} (n={len(errors)})"
            )
    for name, values in agree.items():
        if values:
            print(f"  descriptor {name}: agreement {sum(values) / len(values):.3f} (n={len(values)})")
    for name, values in location.items():
        if values:
            print(f"  location {name}: {sum(values) / len(values):.3f} (n={len(values)})")
    print(
        f"  location absent in truth: {unknown} detected lesions, "
        f"a location reported for {guessed} (must be 0)"
    )
    per_image = [r["seconds"] / max(len(r["truth"]["images"]), 1) for r in runs]
    print(f"  seconds per image: median {statistics.median(per_image):.2f}, max {max(per_image):.2f}")


def _speed() -> None:
    from breastgate.phantoms.us import UsLesionRequest, generate_us_study

    lesion = UsLesionRequest(
        width_mm=12.0, depth_mm=8.0, shape="oval", orientation="parallel", echo_pattern="hypoechoic"
    )
    for label, kwargs, target in (
        ("single-frame 800x600", {"images": 1, "style": "caps_clock"}, TARGET_IMAGE_S),
        ("100-frame cine", {"images": 0, "cine": True, "frames": 100}, TARGET_CINE_S),
    ):
        study = generate_us_study(7, lesions=[lesion], location="text", overlays=False, dual=False, **kwargs)
        result, seconds = _timed_run(study)
        print(
            f"{label}: {seconds:.2f} s (target <= {target:.0f} s), status {result.status.value}, "
            f"findings {len(result.findings)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--seed", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--speed", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # as the ``breastgate`` command sets it
    if args.speed:
        _speed()
        return
    seeds = range(args.seed, args.seed + args.count)
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(_run_one, seeds))
    _summary(runs)


if __name__ == "__main__":
    main()
