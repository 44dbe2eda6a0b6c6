"""Accuracy and speed of ``breastgate.density`` on phantoms (and optionally mini-MIAS).

Usage: ``python bench/density_accuracy.py --count 200 --seed 1 [--workers 2] [--mias DIR] [--generator alt]``.
``--generator alt`` draws studies from the independent ``bench/alt_phantoms.py`` (default: mg).
``--realism`` is the mg generator's tissue model (default ``film``, calibrated against real
mammograms by ``bench/phantom_vs_real.py``; ``legacy`` the original texture the tests use).
Prints exact agreement, quadratic-weighted kappa, max category distance, confusion matrix,
mean absolute PD error, seconds per image and peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench._common
from bench._common import save_study

CATS = "abcd"


def one_study(args: tuple[object, ...]) -> tuple[str, str, float, float, float]:
    """Run one study: ``(seed, category, vendor, method[, generator[, realism]])``; generator "mg"
    (default) or "alt"; realism "film" (default) or "legacy"."""
    from breastgate.algorithms.density import DensityAlgorithm
    from breastgate.phantoms import generate_mg_study

    seed, category, vendor, method = args[:4]
    generator = args[4] if len(args) > 4 else "mg"
    realism = str(args[5]) if len(args) > 5 else "film"
    if generator == "alt":
        from bench.alt_phantoms import generate_alt_study

        study = generate_alt_study(int(str(seed)), category=str(category))
    else:
        study = generate_mg_study(
            int(str(seed)), category=str(category), vendor=vendor and str(vendor), realism=realism
        )
    with tempfile.TemporaryDirectory() as folder:
        ref = save_study(study.datasets, folder)
        algorithm = DensityAlgorithm(str(method))
        started = time.perf_counter()
        result = algorithm.run(algorithm.select(ref))
        per_image = (time.perf_counter() - started) / max(1, len(ref.instances))
    truth = study.truth["density"]
    got = result.density.category if result.density else "?"
    pd = result.density.percent_dense if result.density else float("nan")
    return str(truth["category"]), got, float(truth["percent_dense"]), pd, per_image


def kappa_quadratic(confusion: np.ndarray) -> float:
    n = confusion.shape[0]
    weights = np.array([[(i - j) ** 2 for j in range(n)] for i in range(n)], dtype=float) / (n - 1) ** 2
    total = confusion.sum()
    expected = np.outer(confusion.sum(1), confusion.sum(0)) / total
    return float(1 - (weights * confusion).sum() / max((weights * expected).sum(), 1e-12))


def mias(folder: Path, method: str) -> None:
    from skimage.io import imread

    from breastgate.algorithms.density import segmenter
    from breastgate.imaging.geometry import analyse_breast
    from breastgate.imaging.pixels import MammoImage

    by_class: dict[str, list[float]] = {}
    seen: set[str] = set()
    with open(folder / "labels.csv", newline="") as handle:
        labels = list(csv.DictReader(handle))
    for row in labels:
        if row["refnum"] in seen:
            continue
        seen.add(row["refnum"])
        path = folder / row["image"]
        if not path.exists():
            path = path.with_suffix(".png")
        pixels = imread(path).astype(np.float32)
        image = MammoImage(pixels, (0.2, 0.2), row["side"], "MLO", "MONOCHROME2", (), "", row["refnum"], "")
        geometry = analyse_breast(image)
        seg = segmenter(method)(geometry.image, geometry.breast, geometry.tissue, 0.2 * geometry.factor)
        pd = 100.0 * seg.dense.sum() / max(1, geometry.tissue.sum())
        by_class.setdefault(row["background_tissue"], []).append(pd)
    for cls in "FGD":
        values = by_class.get(cls, [])
        if values:
            print(
                f"mini-MIAS {cls}: n={len(values)} PD% mean {np.mean(values):.1f} "
                f"median {np.median(values):.1f} range {min(values):.1f}-{max(values):.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--mias", type=Path)
    parser.add_argument("--method", default="ref", help="dense-tissue segmenter (density.SEGMENTERS)")
    parser.add_argument(
        "--generator",
        choices=("mg", "alt"),
        default="mg",
        help="phantom generator: mg = breastgate.phantoms, alt = the independent bench/alt_phantoms.py",
    )
    parser.add_argument(
        "--realism", choices=("film", "legacy"), default="film", help="mg phantoms' tissue model"
    )
    args = parser.parse_args()
    from breastgate.phantoms.profiles import VENDOR_PROFILES

    vendors: list[str | None] = list(sorted(VENDOR_PROFILES))
    jobs = [
        (
            args.seed + i,
            CATS[i % 4],
            vendors[(i // 4) % len(vendors)],
            args.method,
            args.generator,
            args.realism,
        )
        for i in range(args.count)
    ]
    started = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(one_study, jobs))
    else:
        rows = [one_study(j) for j in jobs]
    confusion = np.zeros((4, 4), dtype=int)
    dist = 0
    for truth, got, *_ in rows:
        if got in CATS:
            confusion[CATS.index(truth), CATS.index(got)] += 1
            dist = max(dist, abs(CATS.index(truth) - CATS.index(got)))
    exact = np.trace(confusion) / max(1, confusion.sum())
    errors = [abs(t - p) for _, _, t, p, _ in rows if p == p]
    source = "bench.alt_phantoms" if args.generator == "alt" else f"profiles {vendors}"
    print(f"studies {len(rows)} ({source}), wall {time.perf_counter() - started:.1f}s")
    print(
        f"exact agreement {100 * exact:.1f}%  quadratic kappa {kappa_quadratic(confusion):.3f}  "
        f"max category distance {dist}"
    )
    print("confusion (rows truth a-d, cols predicted a-d):")
    for i, c in enumerate(CATS):
        print(f"  {c}: {confusion[i].tolist()}")
    print(f"mean absolute PD error {np.mean(errors):.2f} points")
    for c in CATS:
        t = [p - tr for tt, _, tr, p, _ in rows if tt == c]
        if t:
            print(f"  {c}: mean PD error {np.mean(t):+.1f}")
    print(f"seconds per image {np.mean([r[4] for r in rows]):.3f}")
    print(
        f"peak RSS (this process) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
        f"children {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB"
    )
    if args.mias:
        mias(args.mias, args.method)


if __name__ == "__main__":
    main()
