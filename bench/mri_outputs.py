"""DCE-MRI result objects at clinical size (issue 18): time and peak memory of each encoder.

Builds a synthetic first post-contrast phase of ``--slices`` × ``--size`` × ``--size`` voxels
(classic MR Image headers; anatomy decoded lazily, one slice at a time, as the pipeline does),
a kinetics result with ``--lesions`` ball lesions and its three voxel maps, then encodes the
kinetic colour map (SC), the Parametric Map, the SEG and the TID 1500 report, each in a fresh
process so its peak resident memory (``ru_maxrss``) is its own. Prints seconds, peak MB and the
encoded size of each object (encoder peak: the most memory the encoder held above what it was
given, numpy included, by tracemalloc; seconds are with tracemalloc on); with ``--validate``
also runs dciodvfy on each.

    python bench/mri_outputs.py [--size 512] [--slices 160] [--lesions 3] [--validate]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from tests.support.mr_sources import kinetics_result, manifest, mr_series

KINDS = ("kinetic-map", "pmap", "seg", "tid1500")


class _Anatomy:
    """Slices made on demand (never the whole volume at once)."""

    def __init__(self, slices: int, size: int) -> None:
        self.slices, self.size = slices, size

    def __len__(self) -> int:
        return self.slices

    def __getitem__(self, k: int) -> np.ndarray:
        return np.random.default_rng(k).integers(200, 1200, (self.size, self.size)).astype(np.float32)


def _one(kind: str, size: int, slices: int, lesions: int, out: Path) -> None:
    from breastgate.results.kinetic_map import KineticColourMap
    from breastgate.results.lesion_seg import LesionSegmentation
    from breastgate.results.mri_report import LesionMeasurementReport
    from breastgate.results.parametric_map import EnhancementParametricMap

    series = mr_series(slices=slices, rows=size, cols=size, spacing=0.7)
    for ds in series:
        del ds.PixelData  # headers only, as the pipeline reads them
    step = slices // (lesions + 1)
    centres = [(step * (i + 1), size // 3 + 40 * i, size // 3 + 50 * i) for i in range(lesions)]
    result = kinetics_result(series, centres=centres, spacing=0.7)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    if kind == "kinetic-map":
        ds = KineticColourMap(result, manifest(), series, _Anatomy(slices, size)).dataset
    elif kind == "pmap":
        ds = EnhancementParametricMap(result, manifest(), series).dataset
    else:
        seg = LesionSegmentation(result, manifest(), series)
        ds = seg.dataset
        if kind == "tid1500":
            ds = LesionMeasurementReport(seg, ds).dataset
    seconds = time.perf_counter() - start
    encode_mb = (tracemalloc.get_traced_memory()[1] - before) / 1e6
    tracemalloc.stop()
    ds.save_as(out, enforce_file_format=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    frames = int(ds.get("NumberOfFrames", 0) or 0)
    size_mb = out.stat().st_size / 1e6
    print(f"{kind}\t{seconds:.2f}\t{encode_mb:.0f}\t{peak_mb:.0f}\t{size_mb:.1f}\t{frames}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--slices", type=int, default=160)
    parser.add_argument("--lesions", type=int, default=3)
    parser.add_argument("--validate", action="store_true")
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one, args.size, args.slices, args.lesions, args.out)
        return
    print(f"grid {args.slices} x {args.size} x {args.size}, {args.lesions} lesions")
    print("object\tseconds\tencoder peak MB (tracemalloc)\tprocess peak MB\tfile MB\tframes")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KINDS:
            out = Path(tmp) / f"{kind}.dcm"
            cmd = [sys.executable, __file__, "--one", kind, "--out", str(out)]
            cmd += ["--size", str(args.size), "--slices", str(args.slices), "--lesions", str(args.lesions)]
            subprocess.run(cmd, check=True)
            if args.validate:
                report = subprocess.run(["dciodvfy", str(out)], capture_output=True, text=True)
                lines = (report.stdout + report.stderr).splitlines()
                errors = [line for line in lines if line.startswith("Error")]
                warnings = sum(line.startswith("Warning") for line in lines)
                print(f"  dciodvfy: {len(errors)} errors, {warnings} warnings")


if __name__ == "__main__":
    main()
