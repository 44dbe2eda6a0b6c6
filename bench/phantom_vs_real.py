"""Phantoms against real tissue: false marks, density spread and texture, side by side.

Usage: ``python bench/phantom_vs_real.py --mias ../shared/data/minimias-dev [--count 24] [--seed 7000]
[--realism film|legacy] [--skip-detectors] [--cache DIR]``.

Real side: the mini-MIAS *normal* images (no labelled finding; digitised film, 200 µm, MLO), each
wrapped by ``bench._mias.film_study`` as a site's film digitiser sends it. Phantom side: ``--count``
normal FFDM phantom studies (``breastgate.phantoms.generate_mg_study(seed + i, category="abcd"[i % 4],
vendor alternating every 4, distractors=True, realism=...)``), every view saved as the gateway
indexes it (``bench._common.save_study``) and run as its own one-image study, as the film is: no
CC/MLO correlation lifts a phantom score that a single film could not have. Every algorithm runs as
the gateway runs it (``algo.run(algo.select(study))``).

Printed, real | phantom (all views) | phantom MLO | ratio phantom/real:

(a) ``breastgate.masses`` and ``breastgate.calcifications``: false marks per image at the shipped
    operating point (``result.operating_threshold``; every mark on a normal image is false), the
    fraction of images with any mark shown, and the best candidate score per image (quartiles);
(b) ``breastgate.density``: percent dense (PD) median and SD overall and within each class
    (phantom true category a-d, MIAS background tissue F/G/D), and the mean within-class SD;
(c) texture at one physical scale (the image resampled to 0.2 mm, MIAS's pixel, by area
    averaging; breast tissue at least 8 mm inside the skin line, pectoral muscle excluded, from
    ``breastgate.imaging.geometry.analyse_breast``):
    - β: slope of the radially averaged power spectrum, fitted on log-log axes over 0.15-0.8 cycles
      per mm on Hann-windowed 25.6 mm patches lying fully in that tissue (algorithms.md §6.2: Chen
      et al. 2012 measured 3.17 CC, 3.30 MLO on FFDM);
    - band-pass clutter: SD of a difference of Gaussians at the calcification scale (σ 0.2/0.6 mm)
      and at the mass scale (σ 3/6 mm) over that tissue, relative to the tissue's signal range
      (5th-95th percentile of the image smoothed at 1 mm there), so display units (8-bit film, 12-
      or 14-bit FFDM) cancel.

Measured (masses 1.2.0, calcifications 2.0.0, density as merged; 105 real normal images against
16 normal phantom studies, seeds 7000-7015, 64 images; ratio phantom/real):

=====================================  =====  ==============  ============
figure                                 real   legacy          film
=====================================  =====  ==============  ============
masses false marks/image at 0.126      0.495  0.844 (1.70)    0.375 (0.76)
PD SD within class (a-d vs F/G/D)      15.6   10.2 (0.66)     14.6 (0.94)
PD SD, all images                      22.3   26.2 (1.17)     25.7 (1.15)
calcifications false marks/image       0.181  0.047 (0.26)    0.016 (0.09)
β (0.15-0.8 cycles/mm)                 3.06   2.36 (0.77)     2.30 (0.75)
calcification-scale clutter            0.017  0.038 (2.26)    0.043 (2.56)
mass-scale clutter                     0.045  0.060 (1.33)    0.061 (1.35)
=====================================  =====  ==============  ============

The real figures themselves move from one fifth of the women to another (5 folds by woman):
masses 0.26-0.85 false marks per image, within-class PD SD 10.1-17.8, calcifications 0.05-0.32.
``realism="film"`` meets ±30 % on the mass false marks and the density spread; the calcification
false marks and the texture statistics are not matched (module docstring of
``breastgate.phantoms.plan._film`` says what was tried).

Results are cached per input (``--cache``, default ``/tmp/phantom-cal-cache``) keyed by a hash of
the algorithm, imaging and phantom sources, so re-running after a generator change re-runs only the
phantom side. The mini-MIAS images stay where they lie (research licence); nothing is written into
the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo root: bench._common, bench._mias
from bench._common import save_study  # noqa: E402

SCALE_MM = 0.2
INSET_MM = 8.0
PATCH = 128
BETA_BAND = (0.15, 0.8)
CALC_SIGMAS_MM = (0.2, 0.6)
MASS_SIGMAS_MM = (3.0, 6.0)
DETECTORS = ("masses", "calcifications")


def _source_hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        for path in sorted((ROOT / "src" / "breastgate" / part).rglob("*.py")):
            digest.update(path.read_bytes())
    for measure in (_resample, texture_stats, run_image):  # what the records hold, not how they are shown
        digest.update(inspect.getsource(measure).encode())
    return digest.hexdigest()[:12]


# --- texture -------------------------------------------------------------------------------------


def _resample(pixels: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, float]:
    """Area-average to about ``SCALE_MM`` pixels (integer factor; film at 0.2 mm is left as is)."""
    factor = max(1, round(SCALE_MM / spacing_mm))
    if factor == 1:
        return pixels.astype(np.float64), spacing_mm
    h, w = (pixels.shape[0] // factor) * factor, (pixels.shape[1] // factor) * factor
    out = (
        pixels[:h, :w].astype(np.float64).reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    )
    return out, spacing_mm * factor


def texture_stats(path: str) -> dict[str, float]:
    """β, calcification- and mass-scale clutter relative to the tissue's signal range (module doc)."""
    from scipy import ndimage as ndi

    from breastgate.imaging.geometry import analyse_breast
    from breastgate.imaging.pixels import load_mammogram

    image = load_mammogram(path)
    geometry = analyse_breast(image)
    px = float(min(image.spacing_mm))
    img, mm = _resample(np.asarray(image.pixels, np.float32), px)
    if geometry.flipped:
        img = img[:, ::-1]  # working grid has the chest wall on the left
    tissue_w = geometry.tissue
    work_mm = px * geometry.factor
    inner_w = ndi.binary_erosion(tissue_w, iterations=max(1, round(INSET_MM / work_mm)))
    # working-grid mask → resampled grid (nearest)
    rows = np.minimum((np.arange(img.shape[0]) * mm / work_mm).astype(int), inner_w.shape[0] - 1)
    cols = np.minimum((np.arange(img.shape[1]) * mm / work_mm).astype(int), inner_w.shape[1] - 1)
    inner = inner_w[rows[:, None], cols[None, :]]
    if inner.sum() < 500:
        return {"beta": math.nan, "calc_clutter": math.nan, "mass_clutter": math.nan, "patches": 0}
    smooth = ndi.gaussian_filter(img, 1.0 / mm)
    lo, hi = np.percentile(smooth[inner], [5, 95])
    signal = max(float(hi - lo), 1e-6)

    def dog(sigmas: tuple[float, float]) -> float:
        band = ndi.gaussian_filter(img, sigmas[0] / mm) - ndi.gaussian_filter(img, sigmas[1] / mm)
        return float(band[inner].std()) / signal

    # power spectrum on patches fully inside the tissue
    n = PATCH
    window = np.outer(np.hanning(n), np.hanning(n))
    freq = np.hypot(*np.meshgrid(np.fft.fftfreq(n, mm), np.fft.fftfreq(n, mm)))
    band = (freq >= BETA_BAND[0]) & (freq <= BETA_BAND[1])
    ps = np.zeros((n, n))
    count = 0
    for r in range(0, img.shape[0] - n + 1, n // 2):
        for c in range(0, img.shape[1] - n + 1, n // 2):
            if inner[r : r + n, c : c + n].all():
                patch = img[r : r + n, c : c + n]
                patch = (patch - patch.mean()) * window
                ps += np.abs(np.fft.fft2(patch)) ** 2
                count += 1
    beta = math.nan
    if count:
        edges = np.geomspace(BETA_BAND[0], BETA_BAND[1], 12)
        idx = np.digitize(freq[band], edges)
        fx, py = [], []
        for k in range(1, len(edges)):
            sel = idx == k
            if sel.any():
                fx.append(math.log(float(freq[band][sel].mean())))
                py.append(math.log(float(ps[band][sel].mean())))
        beta = -float(np.polyfit(fx, py, 1)[0])
    return {
        "beta": beta,
        "calc_clutter": dog(CALC_SIGMAS_MM),
        "mass_clutter": dog(MASS_SIGMAS_MM),
        "patches": count,
    }


# --- one image -----------------------------------------------------------------------------------


def run_image(study: Any, detectors: bool) -> dict[str, Any]:
    """Run density (and the detectors) on a one-image study; marks' scores and texture."""
    from breastgate.algorithms.calcifications import CalcificationAlgorithm
    from breastgate.algorithms.density import DensityAlgorithm
    from breastgate.algorithms.masses import MassAlgorithm

    out: dict[str, Any] = {}
    algorithms: dict[str, Any] = {"density": DensityAlgorithm()}
    if detectors:
        algorithms |= {"masses": MassAlgorithm(), "calcifications": CalcificationAlgorithm()}
    for name, algorithm in algorithms.items():
        started = time.perf_counter()
        result = algorithm.run(algorithm.select(study))
        out[f"{name}_seconds"] = time.perf_counter() - started
        if name == "density":
            out["percent_dense"] = result.density.percent_dense if result.density else math.nan
        else:
            out[f"{name}_scores"] = [f.score for f in result.findings for _ in f.marks]
            out[f"{name}_threshold"] = result.operating_threshold
    out |= texture_stats(study.instances[0].path)
    return out


def real_records(folder: Path, cache: Path, detectors: bool) -> list[dict[str, Any]]:
    from bench._mias import film_study, read_cases

    key = _source_hash("algorithms", "imaging")
    path = cache / f"real-{key}-{int(detectors)}.json"
    if path.is_file():
        return list(json.loads(path.read_text()))
    records = []
    for case in read_cases(folder):
        if not case.normal:
            continue
        with film_study(folder, case) as study:
            record = run_image(study, detectors)
        records.append({"id": case.refnum, "class": case.tissue, "view": "MLO", **record})
        print(f"  real {case.refnum} {case.tissue} PD {record['percent_dense']:.1f}", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records))
    return records


def phantom_records(
    count: int, seed: int, realism: str, cache: Path, detectors: bool
) -> list[dict[str, Any]]:
    from breastgate.phantoms import VENDOR_PROFILES, generate_mg_study

    key = _source_hash("algorithms", "imaging", "phantoms")
    path = cache / f"phantom-{key}-{seed}-{count}-{realism}-{int(detectors)}.json"
    if path.is_file():
        return list(json.loads(path.read_text()))
    records = []
    vendors = sorted(VENDOR_PROFILES)
    for i in range(count):
        category, vendor = "abcd"[i % 4], vendors[(i // 4) % 2]
        study = generate_mg_study(
            seed + i, category=category, vendor=vendor, distractors=True, realism=realism
        )
        for ds in study.datasets:
            with tempfile.TemporaryDirectory() as folder:
                ref = save_study([ds], folder, views=True)
                record = run_image(ref, detectors)
            view = str(ds.ViewPosition)
            records.append(
                {"id": f"{seed + i}-{ds.ImageLaterality}{view}", "class": category, "view": view, **record}
            )
        print(f"  phantom {seed + i} {category} {vendor}", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records))
    return records


# --- figures -------------------------------------------------------------------------------------


def _q(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


def figures(records: list[dict[str, Any]], detectors: bool) -> dict[str, float]:
    """The compared figures of one set of images."""
    out: dict[str, float] = {"images": float(len(records))}
    if detectors:
        for name in DETECTORS:
            shown, best = [], []
            for r in records:
                threshold = r[f"{name}_threshold"] or 0.0
                scores = r[f"{name}_scores"]
                shown.append(sum(1 for s in scores if s >= threshold))
                best.append(max(scores, default=0.0))
            out[f"{name} false marks/image"] = float(np.mean(shown))
            out[f"{name} images with a mark"] = float(np.mean([s > 0 for s in shown]))
            for q in (25, 50, 75):
                out[f"{name} best score p{q}"] = _q(best, q)
            out[f"{name} operating threshold"] = float(records[0][f"{name}_threshold"] or 0.0)
    pd = [r["percent_dense"] for r in records if not math.isnan(r["percent_dense"])]
    out["PD median"] = statistics.median(pd)
    out["PD SD (all)"] = _sd(pd)
    classes = sorted({r["class"] for r in records})
    within = []
    for cls in classes:
        values = [
            r["percent_dense"] for r in records if r["class"] == cls and not math.isnan(r["percent_dense"])
        ]
        out[f"PD median [{cls}]"] = statistics.median(values)
        out[f"PD SD [{cls}]"] = _sd(values)
        within.append(_sd(values))
    out["PD SD within class (mean)"] = float(np.nanmean(within))
    for name in ("beta", "calc_clutter", "mass_clutter"):
        values = [r[name] for r in records if not math.isnan(r[name])]
        out[f"{name} median"] = statistics.median(values) if values else math.nan
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mias", type=Path, required=True, help="mini-MIAS folder (labels.csv, images/)")
    parser.add_argument("--count", type=int, default=24, help="phantom studies (4 views each)")
    parser.add_argument("--seed", type=int, default=7000)
    parser.add_argument("--realism", default="film", help="generate_mg_study(realism=...): film or legacy")
    parser.add_argument("--skip-detectors", action="store_true", help="density and texture only (fast)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/phantom-cal-cache"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    detectors = not args.skip_detectors
    started = time.perf_counter()
    real = real_records(args.mias, args.cache, detectors)
    phantom = phantom_records(args.count, args.seed, args.realism, args.cache, detectors)
    columns = {
        "real": figures(real, detectors),
        "phantom": figures(phantom, detectors),
        "phantom MLO": figures([r for r in phantom if r["view"] == "MLO"], detectors),
    }
    print(
        f"realism={args.realism}: {len(real)} real normal images (mini-MIAS) vs {len(phantom)} phantom "
        f"images ({args.count} normal studies, seed {args.seed}); wall {time.perf_counter() - started:.0f} s"
    )
    print(f"{'figure':38s} {'real':>9s} {'phantom':>9s} {'ph. MLO':>9s} {'ratio':>7s}")
    names = list(dict.fromkeys(k for col in columns.values() for k in col))
    for name in names:
        real_v = columns["real"].get(name, math.nan)
        ph_v = columns["phantom"].get(name, math.nan)
        mlo_v = columns["phantom MLO"].get(name, math.nan)
        ratio = ph_v / real_v if real_v and not math.isnan(real_v) else math.nan
        print(f"{name:38s} {real_v:9.3f} {ph_v:9.3f} {mlo_v:9.3f} {ratio:7.2f}")
    # How much the real figures themselves move from one fifth of the women to another (folds by
    # woman, bench._mias): a phantom figure inside that range is as close as the sample can tell.
    from bench._mias import folds_by_woman, read_cases

    folds = folds_by_woman(read_cases(args.mias), 5)
    per_fold = [figures([r for r in real if folds[r["id"]] == k], detectors) for k in range(5)]
    print("\nreal figure per held-out fifth of the women (min-max over 5 folds by woman):")
    for name in (
        "masses false marks/image",
        "calcifications false marks/image",
        "PD SD (all)",
        "PD SD within class (mean)",
        "beta median",
        "calc_clutter median",
        "mass_clutter median",
    ):
        values = [f[name] for f in per_fold if name in f and not math.isnan(f[name])]
        if values:
            print(f"  {name:38s} {min(values):7.3f} - {max(values):7.3f}")
    if args.json:
        args.json.write_text(json.dumps(columns, indent=2) + "\n")


if __name__ == "__main__":
    main()
