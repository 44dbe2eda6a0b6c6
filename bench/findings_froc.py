"""FROC of ``breastgate.calcifications`` and ``breastgate.masses`` on phantoms with known lesions.

Usage: ``python bench/findings_froc.py --count 300 --seed 5000 [--workers 2] [--kinds calc,mass]
[--generator mg|alt]``; ``--kinds`` also takes the algorithm names (``--kinds calcifications`` runs
only that detector). Study i: density category cycles a-d, and the lesion content cycles
normal / calcification cluster / mass / both. With ``--generator mg`` (default, breastgate.phantoms)
vendor profiles alternate and every study has distractors (benign, vascular and skin
calcifications); ``--generator alt`` draws the studies from the independent bench/alt_phantoms.py
(its own anatomy, lesion solids and display processing; no distractors). ``--realism`` is the mg
generator's tissue model: ``film`` (default; calibrated against real mammograms by
bench/phantom_vs_real.py) or ``legacy`` (the original texture the tests use). A lesion is hit when a
mark's centre lies inside its true extent (bbox) on that view. Prints the generator, then per kind:
lesion sensitivity (any view) and per-view sensitivity, false marks per image at the operating
point and along the FROC curve, by density group (a/b vs c/d), case-level AUC (lesion vs normal
studies, case score = highest finding score; with both kinds also any lesion vs normal), seconds
per study, peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench._common
from bench._common import save_study

CONTENTS = ("normal", "calc", "mass", "both")
KINDS = {"calc": "calc", "mass": "mass", "calcifications": "calc", "masses": "mass"}


def _study(seed: int, i: int, generator: str, realism: str = "film") -> tuple[Any, str, str, str]:
    """Study ``i`` of the content cycle from either generator: (study, category, vendor, content)."""
    content = CONTENTS[i % 4]
    kinds = [k for k, on in (("calcification_cluster", "calc"), ("mass", "mass")) if content in (on, "both")]
    category = "abcd"[(i // 4) % 4]
    if generator == "alt":
        from bench.alt_phantoms import generate_alt_study

        return generate_alt_study(seed + i, category=category, lesions=kinds), category, "alt", content
    from breastgate.phantoms import VENDOR_PROFILES, generate_mg_study
    from breastgate.phantoms.lesions import LesionRequest

    vendor = sorted(VENDOR_PROFILES)[(i // 16) % 2]
    requests = [LesionRequest(k) for k in kinds]
    study = generate_mg_study(
        seed + i, category=category, vendor=vendor, lesions=requests, distractors=True, realism=realism
    )
    return study, category, vendor, content


def one_study(args: tuple[Any, ...]) -> dict[str, Any]:
    """Generate study ``i`` and run the requested detectors; returns truth, marks and timing.

    ``args``: (seed, i, kinds, generator[, realism]); realism defaults to "film"."""
    from breastgate.algorithms.calcifications import CalcificationAlgorithm
    from breastgate.algorithms.masses import MassAlgorithm

    seed, i, kinds, generator = args[:4]
    realism = str(args[4]) if len(args) > 4 else "film"
    study, category, vendor, content = _study(seed, i, generator, realism)
    algorithms = {"calc": CalcificationAlgorithm(), "mass": MassAlgorithm()}
    out: dict[str, Any] = {"category": category, "vendor": vendor, "content": content, "truth": study.truth}
    with tempfile.TemporaryDirectory() as folder:
        ref = save_study(study.datasets, folder, views=True)
        for kind in kinds:
            algorithm = algorithms[kind]
            started = time.perf_counter()
            result = algorithm.run(algorithm.select(ref))
            out[f"{kind}_seconds"] = time.perf_counter() - started
            out[f"{kind}_status"] = str(result.status)
            out[f"{kind}_marks"] = [
                (m.sop_instance_uid, m.point, f.score, f.id) for f in result.findings for m in f.marks
            ]
            out[f"{kind}_threshold"] = result.operating_threshold
    return out


def _inside(point: tuple[float, float], bbox: list[float]) -> bool:
    return bbox[0] <= point[0] <= bbox[2] and bbox[1] <= point[1] <= bbox[3]


def evaluate(
    rows: list[dict[str, Any]], kind: str, threshold: float, subset: set[str] | None = None
) -> dict[str, float]:
    """Lesion and per-view sensitivity and false marks per image at ``threshold``."""
    truth_kind = {"calc": "calcification_cluster", "mass": "mass"}[kind]
    lesions = hits = views = view_hits = false_marks = images = 0
    for row in rows:
        if subset is not None and row["category"] not in subset:
            continue
        images += 4
        marks = [m for m in row[f"{kind}_marks"] if m[2] >= threshold]
        truths = [t for t in row["truth"]["lesions"] if t["kind"] == truth_kind]
        used = set()
        for t in truths:
            lesions += 1
            hit_any = False
            for v in t["views"]:
                views += 1
                hit = [
                    k
                    for k, m in enumerate(marks)
                    if m[0] == v["sop_instance_uid"] and _inside(m[1], v["bbox"])
                ]
                used.update(hit)
                if hit:
                    view_hits += 1
                    hit_any = True
            hits += hit_any
        # A mark is false unless it hits a lesion of this kind (marks on the other kind count as false).
        false_marks += sum(1 for k in range(len(marks)) if k not in used)
    return {
        "lesions": lesions,
        "sensitivity": hits / lesions if lesions else float("nan"),
        "view_sensitivity": view_hits / views if views else float("nan"),
        "fp_per_image": false_marks / images if images else float("nan"),
    }


def auc(rows: list[dict[str, Any]], kind: str) -> float:
    """Case-level AUC: studies with a lesion of this kind vs normal studies; case score = max score."""
    truth_kind = {"calc": "calcification_cluster", "mass": "mass"}[kind]
    pos, neg = [], []
    for row in rows:
        score = max((m[2] for m in row[f"{kind}_marks"]), default=0.0)
        has = any(t["kind"] == truth_kind for t in row["truth"]["lesions"])
        if has:
            pos.append(score)
        elif row["content"] == "normal":
            neg.append(score)
    if not pos or not neg:
        return float("nan")
    p, n = np.array(pos)[:, None], np.array(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def combined_auc(rows: list[dict[str, Any]], kinds: tuple[str, ...]) -> float:
    """Case-level AUC over every lesion study vs normal studies; case score = max over ``kinds``."""
    pos, neg = [], []
    for row in rows:
        score = max((m[2] for kind in kinds for m in row[f"{kind}_marks"]), default=0.0)
        (neg if row["content"] == "normal" else pos).append(score)
    if not pos or not neg:
        return float("nan")
    p, n = np.array(pos)[:, None], np.array(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--kinds", default="calc,mass", help="comma-separated: calc (calcifications), mass (masses)"
    )
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
    names = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in names if k not in KINDS]
    if unknown or not names:
        parser.error(f"--kinds: unknown {unknown or 'empty'}; choose from {', '.join(KINDS)}")
    kinds = tuple(dict.fromkeys(KINDS[k] for k in names))
    started = time.perf_counter()
    jobs = [(args.seed, i, kinds, args.generator, args.realism) for i in range(args.count)]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one_study, jobs))
    wall = time.perf_counter() - started
    source = "bench.alt_phantoms (independent)" if args.generator == "alt" else "breastgate.phantoms"
    print(
        f"generator {args.generator}: {source}"
        + (f", realism {args.realism}" if args.generator == "mg" else "")
    )
    print(f"{len(rows)} studies ({args.count // 4} per content: normal/calc/mass/both), wall {wall:.0f} s")
    for kind in kinds:
        threshold = rows[0][f"{kind}_threshold"] or 0.5
        print(f"\n== {kind} (operating threshold {threshold})")
        for name, subset in (("all", None), ("a/b", {"a", "b"}), ("c/d", {"c", "d"})):
            e = evaluate(rows, kind, threshold, subset)
            print(
                f"  {name:4s} lesions {e['lesions']:4.0f}  sensitivity {e['sensitivity']:.3f}  "
                f"per-view {e['view_sensitivity']:.3f}  false marks/image {e['fp_per_image']:.3f}"
            )
        print("  FROC (threshold: sensitivity, false marks/image):")
        for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            e = evaluate(rows, kind, t)
            print(f"    {t:.1f}: {e['sensitivity']:.3f}, {e['fp_per_image']:.3f}")
        print(f"  case AUC (lesion vs normal studies) {auc(rows, kind):.3f}")
        seconds = [r[f"{kind}_seconds"] for r in rows]
        print(
            f"  seconds per 4-view study: median {np.median(seconds):.2f}, "
            f"p95 {np.percentile(seconds, 95):.2f}"
        )
        failed = sum(1 for r in rows if r[f"{kind}_status"] != "ok")
        print(f"  studies not ok: {failed}")
    if len(kinds) > 1:
        combined = combined_auc(rows, kinds)
        print(f"\ncase AUC, any lesion vs normal (case score = highest finding score) {combined:.3f}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak RSS of a worker {rss:.0f} MB")


if __name__ == "__main__":
    main()
