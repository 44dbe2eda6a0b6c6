"""The B-mode lesion detector on synthetic US phantom studies: detection, size and descriptors.

Usage: ``python bench/us_phantom_lesions.py [--seed 2000 --count 16]`` (needs
``breastgate.phantoms.us`` and ``breastgate.imaging.us``). Seeds 1000-1011 were used to choose the
descriptor thresholds of ``_us_descriptors.py``: report figures from other seeds.

Each single-frame study image (cine loops skipped) is split into its tissue regions (truth boxes,
as the reader's Sequence of Ultrasound Regions gives them); each region is converted to gray and
its overlays (calipers, text, colour) masked by ``breastgate.imaging.us.overlay_mask``, then passed
to ``find_lesions`` with the region's mm per pixel (None when uncalibrated). A lesion shown at
``OPERATING_THRESHOLD`` is a hit when its centre lies in the true mask or its IoU is >= 0.3; any
other shown lesion is false. For each hit: width and depth errors (mm; the true width is the
``elevation_mm`` on an antiradial view) and agreement of the five descriptors with the truth.
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from breastgate.algorithms import _us_lesions as us

DESCRIPTORS = ("shape", "orientation", "margin", "echo_pattern", "posterior")


def _hit(lesion: us.UsLesion, masks: list[np.ndarray], got: set[int]) -> int | None:
    col, row = lesion.centre
    for k, m in enumerate(masks):
        iou = (m & lesion.mask).sum() / max(1, (m | lesion.mask).sum())
        if k not in got and (m[round(row), round(col)] or iou >= 0.3):
            return k
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--count", type=int, default=16)
    args = parser.parse_args()
    # The reader and the phantom come from their own branches (issue 19).
    from breastgate.imaging.us import overlay_mask, to_gray
    from breastgate.phantoms.us import generate_us_study

    n: collections.Counter[str] = collections.Counter()
    errors: dict[str, list[float]] = {"width": [], "depth": []}
    agree: dict[str, collections.Counter[bool]] = {k: collections.Counter() for k in DESCRIPTORS}
    seconds = []
    for seed in range(args.seed, args.seed + args.count):
        study = generate_us_study(seed)
        for ds, truth in zip(study.datasets, study.truth["images"], strict=True):
            if truth["frames"] > 1:
                continue
            frame = ds.pixel_array
            labels = study.masks[truth["sop_instance_uid"]][0]
            for region in truth["regions"]:
                if region["data_type"] != "tissue":
                    continue
                c0, r0, c1, r1 = region["box"]
                mm = region["mm_per_pixel"][0] if region["calibrated"] else None
                valid = ~overlay_mask(frame, (c0, r0, c1, r1))
                start = time.perf_counter()
                found = us.find_lesions(to_gray(frame)[r0:r1, c0:c1], valid, mm)
                seconds.append(time.perf_counter() - start)
                lesions = [les for les in truth["lesions"] if les["region"] == region["index"]]
                masks = [labels[r0:r1, c0:c1] == les["mask_value"] for les in lesions]
                n["regions"] += 1
                n["lesions"] += len(lesions)
                got: set[int] = set()
                for lesion in (f for f in found if f.score >= us.OPERATING_THRESHOLD):
                    k = _hit(lesion, masks, got)
                    if k is None:
                        n["false"] += 1
                        continue
                    got.add(k)
                    t = lesions[k]
                    if mm:
                        width = t["width_mm"] if t["view"] == "width" else t["elevation_mm"]
                        errors["width"].append(lesion.width_px * mm - width)
                        errors["depth"].append(lesion.depth_px * mm - t["depth_mm"])
                    for d in DESCRIPTORS:
                        agree[d][t[d] == lesion.descriptors[d].value] += 1
                n["hits"] += len(got)
    print(f"{n['regions']} regions, {n['lesions']} lesions: sensitivity "
          f"{n['hits'] / max(n['lesions'], 1):.3f}, {n['false'] / max(n['regions'], 1):.2f} "
          f"false per region")  # fmt: skip
    for name, e in errors.items():
        a = np.abs(e)
        if a.size:
            print(f"{name}: |error| median {np.median(a):.2f} mm, p90 {np.quantile(a, 0.9):.2f} "
                  f"mm, within 1 mm {np.mean(a <= 1.0):.2f} (n={a.size})")  # fmt: skip
    for d in DESCRIPTORS:
        total = agree[d][True] + agree[d][False]
        print(f"{d}: agreement {agree[d][True] / max(total, 1):.2f} (n={total})")
    s = np.array(seconds)
    print(f"time per region: median {np.median(s):.2f} s, max {s.max():.2f} s")


if __name__ == "__main__":
    main()
