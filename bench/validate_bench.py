"""Wall time of ``breastgate validate`` on phantom studies (silent-mode validation report).

Usage: ``python bench/validate_bench.py --count 500 [--cache DIR] [--workers 2] [--seed 7000]``.
Studies are made once and kept under ``--cache`` (default ``./var/bench-validate``; a folder per
count and seed, reused on the next run): ``breastgate phantom`` writes the lesion-free ones (3 of
4), the rest get a calcification cluster or a mass (tests/support/validation_data.py), and the
outcomes CSV comes from their truth files. Then ``breastgate validate`` runs as a subprocess into
a fresh report folder. Prints studies, wall time, studies/s, the seconds to make the data (when
made) and the report's AUC.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.support

from tests.support.validation_data import outcomes_csv, write_cancer_studies

import breastgate

BREASTGATE = str(Path(sys.executable).with_name("breastgate"))
SRC = str(Path(breastgate.__file__).resolve().parents[1])


def _env(home: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH", "")) if p)
    return {"BG_HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": path}


def make_data(folder: Path, count: int, seed: int) -> float:
    """Write ``count`` studies (a quarter with a lesion) and outcomes.csv; seconds taken (0 if cached)."""
    done = folder / "outcomes.csv"
    if done.exists():
        return 0.0
    started = time.perf_counter()
    studies = folder / "studies"
    cancers = count // 4
    made = subprocess.run(
        [BREASTGATE, "phantom", "--out", str(studies), "--count", str(count - cancers), "--seed", str(seed)],
        capture_output=True,
        text=True,
        check=True,
        env=_env(folder / "var"),
    )
    normals = [Path(line) for line in made.stdout.split()]
    lesions = write_cancer_studies(studies, cancers, seed + count)
    done.write_text(outcomes_csv(normals + lesions))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=Path("var/bench-validate"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7000)
    args = parser.parse_args()
    folder = (args.cache / f"n{args.count}-s{args.seed}").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    made = make_data(folder, args.count, args.seed)
    with tempfile.TemporaryDirectory(prefix="bg-bench-validate-") as tmp:
        report = Path(tmp) / "report"
        started = time.perf_counter()
        run = subprocess.run(
            [BREASTGATE, "validate", str(folder / "studies"), "--outcomes", str(folder / "outcomes.csv"),
             "--out", str(report), "--workers", str(args.workers)],
            capture_output=True,
            text=True,
            env=_env(Path(tmp) / "var"),
        )  # fmt: skip
        wall = time.perf_counter() - started
        if run.returncode != 0:
            sys.exit(f"validate failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
        metrics = json.loads((report / "metrics.json").read_text())
    auc = metrics["auc"]
    counts = metrics["counts"]
    if made:
        print(f"data: {args.count} studies made in {made:.1f} s under {folder}")
    else:
        print(f"data: {args.count} studies reused from {folder}")
    print(
        f"validate: {counts['studies']} studies ({counts['cancer']} cancers), workers {args.workers}: "
        f"wall {wall:.1f} s, {counts['studies'] / wall:.2f} studies/s, {wall / counts['studies']:.2f} s/study"
    )
    print(f"case-level AUC {auc['value']:.3f} (95% CI {auc['ci_low']:.3f}-{auc['ci_high']:.3f})")


if __name__ == "__main__":
    main()
