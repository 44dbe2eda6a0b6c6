"""Candidate records of development US phantoms, for fitting the lesion ranker with BUSI.

Usage: ``python bench/us_phantom_records.py --seed 7000 --count 100 --out FILE [--workers 2]``
then ``bench/busi_fit.py … --phantom-records FILE`` (and ``bench/busi_us.py`` the same, to measure
on BUSI out of fold with them in every training fold).

Each study (:func:`breastgate.phantoms.us.generate_us_study`, default draws) is written as Part 10
files and each B-mode region read as ``breastgate.ultrasound`` reads it (pixels, overlay mask,
calibration; no OCR) and analysed (:func:`breastgate.algorithms._us_lesions.analyse`, the shipped
network). Each candidate is matched to the region's true lesions: IoU at the working resolution
(positives at IoU >= 0.3, as on BUSI) and whether its centre lies in the truth box (2 px margin, the
hit rule of ``bench/us_phantoms.py``). Records carry the label ``phantom``: they train the
detection models only (never the malignancy model, never a threshold). Development seeds only
(7000-7099): the held-out seeds 6000-6059 of ``bench/us_phantoms.py`` are never used here.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.busi_us import Record, _shrink

MARGIN_PX = 2
#: The held-out seeds of ``bench/us_phantoms.py`` (first, last): refused here.
HELD_OUT = (6000, 6059)


def _match(analysis: Any, lesions: list[tuple[np.ndarray, list[int]]]) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, centre in the truth box) of each candidate against each (mask, box) of the region."""
    shape = analysis.work.smooth.shape
    height, width = analysis.shape
    n, m = len(analysis.regions), len(lesions)
    iou, inside = np.zeros((n, m)), np.zeros((n, m), bool)
    for j, (mask, (c0, r0, c1, r1)) in enumerate(lesions):
        small = _shrink(mask, shape)
        for i, region in enumerate(analysis.regions):
            rr, cc = np.nonzero(region.mask)
            x = (region.c0 + cc.mean() + 0.5) * width / shape[1] - 0.5
            y = (region.r0 + rr.mean() + 0.5) * height / shape[0] - 0.5
            inside[i, j] = (c0 - MARGIN_PX <= x <= c1 + 1 + MARGIN_PX) and (
                r0 - MARGIN_PX <= y <= r1 + 1 + MARGIN_PX
            )
            h, w = region.mask.shape
            inter = float((small[region.r0 : region.r0 + h, region.c0 : region.c0 + w] & region.mask).sum())
            if inter:
                iou[i, j] = inter / (region.mask.sum() + small.sum() - inter)
    return iou, inside


def _region_record(
    name: str, image: Any, frame: np.ndarray, region: Any, truth: dict[str, Any], full: np.ndarray | None
) -> Record:
    """One B-mode region read as ``breastgate.ultrasound`` reads it, analysed and matched."""
    from breastgate.algorithms import _us_lesions as us
    from breastgate.imaging.us import overlay_mask, to_gray

    c0, r0, c1, r1 = region.box
    mm = region.mm_per_pixel()
    pixel_mm = None if mm is None else float(np.sqrt(mm[0] * mm[1]))
    analysis = us.analyse(to_gray(frame[r0:r1, c0:c1]), ~overlay_mask(frame, region.box), pixel_mm)
    lesions = [
        (
            full[r0:r1, c0:c1] == les["mask_value"],
            [b - o for b, o in zip(les["bbox_px"], (c0, r0) * 2, strict=True)],
        )
        for les in truth["lesions"]
        if les["region"] == region.index and full is not None
    ]
    iou, inside = _match(analysis, lesions)
    return Record(
        f"{name}-{region.index}", "phantom", len(lesions), list(analysis.regions), list(analysis.features),
        iou, np.zeros(iou.shape), np.zeros(iou.shape), inside, 0.0, np.zeros((24, 24)),
    )  # fmt: skip


def _study(seed: int) -> list[Record]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from breastgate.imaging.us import read_us_frames, read_us_header
    from breastgate.phantoms.us import generate_us_study

    study = generate_us_study(seed)
    images = {t["sop_instance_uid"]: t for t in study.truth["images"]}
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, ds in enumerate(study.datasets):
            path = Path(tmp) / f"{k}.dcm"
            ds.save_as(path, enforce_file_format=True)
            image = read_us_header(path)
            frame = read_us_frames(image)[0]
            truth = images[image.sop_instance_uid]
            full = study.masks.get(image.sop_instance_uid, [None])[0]
            for region in image.bmode_regions():
                records.append(_region_record(f"phantom-{seed}-{k}", image, frame, region, truth, full))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7000)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.seed <= HELD_OUT[1] and args.seed + args.count > HELD_OUT[0]:
        raise SystemExit("seeds 6000-6059 are held out (bench/us_phantoms.py): never fitted on")
    with ProcessPoolExecutor(args.workers) as pool:
        records = [r for batch in pool.map(_study, range(args.seed, args.seed + args.count)) for r in batch]
    args.out.write_bytes(pickle.dumps(records))
    print(f"{len(records)} regions, {sum(r.n_truth for r in records)} lesions, "
          f"{sum(len(r.regions) for r in records)} candidates -> {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
