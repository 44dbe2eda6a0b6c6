"""Speed and memory of the DCE-MRI phantom (issue 18): plan, render, write, per size and form.

Usage: ``python bench/mri_phantom.py [--sizes 128x128x32,512x512x160] [--phases 6]
[--forms series-per-phase,enhanced] [--seed 5]``. Each (size, form) runs in a fresh process so its
peak RSS is its own; prints wall and CPU seconds of writing one study (render + DICOM + truth),
files, bytes on disk and peak RSS (MB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from breastgate.phantoms import write_dce_phantoms
out, seed, size, phases, form = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
shape = tuple(int(v) for v in size.split("x"))
t0, c0 = time.perf_counter(), time.process_time()
(folder,) = write_dce_phantoms(Path(out), 1, seed, form=form, size=shape, phases=phases)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
files = list(folder.glob("*.dcm"))
print(json.dumps({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "files": len(files),
    "mb_on_disk": round(sum(f.stat().st_size for f in files) / 2**20, 1),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128x128x32,512x512x160")
    parser.add_argument("--phases", type=int, default=6)
    parser.add_argument("--forms", default="series-per-phase,enhanced")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    for size in args.sizes.split(","):
        for form in args.forms.split(","):
            with tempfile.TemporaryDirectory(prefix="bg-mri-bench-") as tmp:
                cmd = [sys.executable, "-c", _CHILD, tmp, str(args.seed), size, str(args.phases), form]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                row = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{size} x{args.phases} {form:17s} " + " ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
