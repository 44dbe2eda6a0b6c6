"""Speed of the 2-D algorithms (density, calcifications, masses, positioning) per 4-view study.

Usage: ``python bench/algorithm_speed.py --count 20 --seed 9000 [--workers 2] [--modes seq,proc,thread]``.
Study i: odd studies carry a calcification cluster and a mass, every study has look-alikes; the
density category cycles a-d over pairs of studies and the vendor profile alternates per pair (and
swaps every four pairs), so 16 studies cover both profiles in every category. The studies are
written as DICOM files first; then each algorithm's ``select`` + ``run`` is timed, three ways:

- ``seq``: the four one after another in this process (one core); total = their sum;
- ``proc``: the four submitted together to ``--workers`` warm worker processes; total = wall time
  from the first submit to the last result;
- ``thread``: the same on ``--workers`` threads of this process, which is how the embedded Huey
  consumer runs jobs (``jobs/queue.py``, ``worker_type="thread"``), so the GIL counts.

Prints median / p95 / max seconds per algorithm and per study (with CPU seconds of the running
thread, which other load on the machine does not inflate), peak RSS, the load average before and
after, and PASS/MISS against the target: all 2-D algorithms ≤ 10 s p95 per study on 2 cores.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench._common
from bench._common import median, percentile, save_study

ALGORITHMS = (
    "breastgate.calcifications",
    "breastgate.density",
    "breastgate.masses",
    "breastgate.positioning",
)
TARGET_S = 10.0
MODES = {"seq": "sequential, 1 process", "proc": "processes", "thread": "threads, 1 process"}


def write_study(args: tuple[int, int, str]) -> Any:
    """Generate study ``i`` (see the module docstring), write it under ``folder``; its StudyRef."""
    from breastgate.phantoms import VENDOR_PROFILES, generate_mg_study
    from breastgate.phantoms.lesions import LesionRequest

    seed, i, folder = args
    pair = i // 2
    vendor = sorted(VENDOR_PROFILES)[(pair + pair // 4) % 2]
    lesions = [LesionRequest("calcification_cluster"), LesionRequest("mass")] if i % 2 else []
    study = generate_mg_study(
        seed + i, category="abcd"[pair % 4], vendor=vendor, lesions=lesions, distractors=True
    )
    out = Path(folder) / str(i)
    out.mkdir()
    return save_study(study.datasets, out)


@functools.cache
def algorithms() -> dict[str, Any]:
    """The 2-D algorithms as the gateway loads them (entry points), once per process."""
    from breastgate.algorithms.registry import Registry

    registry = Registry.from_entry_points()
    return {algorithm_id: registry.get(algorithm_id) for algorithm_id in ALGORITHMS}


Run = tuple[str, float, float, str, float]


def run_one(args: tuple[str, Any]) -> Run:
    """Select + run one algorithm: (id, wall seconds, CPU seconds of this thread, status, peak RSS
    of this process in MB)."""
    algorithm_id, study = args
    algorithm = algorithms()[algorithm_id]
    started, cpu = time.perf_counter(), time.thread_time()
    result = algorithm.run(algorithm.select(study))
    seconds, cpu_seconds = time.perf_counter() - started, time.thread_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return algorithm_id, seconds, cpu_seconds, str(result.status), rss


def warm(study: Any) -> None:
    """Load the plugins and run each once, so lazy imports and first calls are not timed."""
    for algorithm_id in ALGORITHMS:
        run_one((algorithm_id, study))


def time_study(study: Any, pool: Executor | None) -> tuple[float, list[Run]]:
    """(study seconds, per-algorithm results): one after another, or all at once on ``pool``."""
    started = time.perf_counter()
    if pool is None:
        runs = [run_one((a, study)) for a in ALGORITHMS]
        return sum(r[1] for r in runs), runs
    futures = [pool.submit(run_one, (a, study)) for a in ALGORITHMS]
    runs = [f.result() for f in futures]
    return time.perf_counter() - started, runs


def run_mode(mode: str, studies: list[Any], workers: int) -> dict[str, Any]:
    """Time every study in one mode; totals, per-algorithm wall and CPU seconds, failures."""
    pool: Executor | None = None
    if mode == "proc":
        pool = ProcessPoolExecutor(workers, initializer=warm, initargs=(studies[0],))
        list(pool.map(time.sleep, [0.0] * workers))  # start (and warm) every worker before timing
    elif mode == "thread":
        pool = ThreadPoolExecutor(workers)
    totals: list[float] = []
    wall: dict[str, list[float]] = {a: [] for a in ALGORITHMS}
    cpu: dict[str, list[float]] = {a: [] for a in ALGORITHMS}
    failed: list[str] = []
    rss = 0.0
    try:
        for study in studies:
            total, runs = time_study(study, pool)
            totals.append(total)
            for algorithm_id, seconds, cpu_seconds, status, peak in runs:
                rss = max(rss, peak)
                wall[algorithm_id].append(seconds)
                cpu[algorithm_id].append(cpu_seconds)
                if status != "ok":
                    failed.append(f"{algorithm_id}: {status}")
    finally:
        if pool is not None:
            pool.shutdown()
    return {"totals": totals, "wall": wall, "cpu": cpu, "failed": failed, "rss": rss}


def _row(name: str, values: list[float], cpu: list[float] | None = None) -> str:
    line = f"  {name:28s} {median(values):7.2f} {percentile(values, 95):7.2f} {max(values):7.2f}"
    return line + (f" {median(cpu):8.2f}" if cpu else "")


def report(mode: str, workers: int, timing: dict[str, Any]) -> None:
    label = MODES[mode] if mode == "seq" else f"{MODES[mode]} x{workers}"
    print(f"\n== {label}")
    print(f"  {'seconds':28s} {'median':>7s} {'p95':>7s} {'max':>7s} {'cpu med':>8s}")
    for algorithm_id in ALGORITHMS:
        print(_row(algorithm_id, timing["wall"][algorithm_id], timing["cpu"][algorithm_id]))
    cpu_total = [sum(c) for c in zip(*timing["cpu"].values(), strict=True)]
    name = "total per study (sum)" if mode == "seq" else "total per study (wall)"
    print(_row(name, timing["totals"], cpu_total))
    where = "a worker process" if mode == "proc" else "this process"
    print(f"  peak RSS of {where}: {timing['rss']:.0f} MB")
    if timing["failed"]:
        print(f"  not ok: {len(timing['failed'])} ({'; '.join(sorted(set(timing['failed'])))})")


def verdict(mode: str, workers: int, timing: dict[str, Any]) -> str:
    p95 = percentile(timing["totals"], 95)
    where = "1 core" if mode == "seq" else f"{workers} {'processes' if mode == 'proc' else 'threads'}"
    mark = "PASS" if p95 <= TARGET_S else "MISS"
    return f"  {where:12s} p95 {p95:6.2f} s  {mark}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=9000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="seq,proc,thread", help=f"comma-separated: {', '.join(MODES)}")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if not modes or any(m not in MODES for m in modes):
        parser.error(f"--modes: choose from {', '.join(MODES)}")
    if args.count < 1:
        parser.error("--count must be at least 1")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        jobs = [(args.seed, i, folder) for i in range(args.count)]
        with ProcessPoolExecutor(args.workers) as pool:
            studies = list(pool.map(write_study, jobs))
        print(
            f"{len(studies)} 4-view studies ({(args.count + 1) // 2} without lesions, {args.count // 2} "
            f"with a calcification cluster and a mass), generated in {time.perf_counter() - started:.0f} s; "
            f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f}"
        )
        if "seq" in modes or "thread" in modes:
            warm(studies[0])
        results = {mode: run_mode(mode, studies, args.workers) for mode in modes}
    for mode, timing in results.items():
        report(mode, args.workers, timing)
    load_after = os.getloadavg()
    print(
        f"\nload average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}: "
        "other work on the machine inflates wall times, not CPU seconds"
    )
    print(f"target: all 2-D algorithms ≤ {TARGET_S:.0f} s p95 per 4-view study on 2 cores")
    for mode, timing in results.items():
        print(verdict(mode, args.workers, timing))


if __name__ == "__main__":
    main()
