"""The built-in 2-D algorithms on real mammograms (mini-MIAS digitised film), cross-validated by woman.

Usage: ``python bench/real_mias.py --mias PATH [--folds 5] [--cache DIR] [--phantoms 24] [--out FILE]``.

PATH holds ``labels.csv`` and ``images/<refnum>.png`` (bench/_mias.py reads them). Each image is
converted to DICOM as a site's film digitiser sends it (8 bits, 200 µm, MLO, film labels and markers
left in) and run through the same code path as the gateway (``select`` → ``run`` of
breastgate.masses, .calcifications, .density and .positioning). The per-image records (the shipped
algorithm's output plus the candidate features and measurements its fitted parts score) come from
``bench/_real_masses.py``, ``_real_calcifications.py`` and ``_real_density.py``.

Two kinds of figures are printed, and they must not be confused:

- **out-of-fold** (``--folds`` folds by woman, both breasts of a woman in one fold, stratified by
  content): every fitted or chosen part (scoring models, operating points, density cut-offs) is
  fitted on the other folds and measured on the held-out fold. On the calibration half these are
  the figures to report.
- **shipped**: the algorithms exactly as committed, whose parameters were fitted on the whole
  calibration half. On the calibration half that is a figure on images the parameters were tuned
  on (in-sample, not a result); on any other set of real images (the held-out half) it is the
  honest figure.

Printed: mass FROC (all, and circumscribed / spiculated / ill-defined), calcification-cluster FROC,
sensitivity and false marks per image at the operating point chosen on the training folds, density
confusion (MIAS F/G/D × BI-RADS a–d), AUC of percent dense for D vs F and dense-vs-fatty accuracy,
the case-level AUC of the suspicion score (any mass or calcification vs normal, the triage
policy's rule: the highest finding score), time per image, and the same figures of the shipped
algorithms on ``--phantoms`` FFDM phantom studies (breastgate.phantoms), side by side with real.
95 % intervals: Wilson for proportions, Hanley-McNeil for AUCs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench._mias
from bench import _real_calcifications, _real_density, _real_masses
from bench._mias import (
    CALC_CLASSES,
    MASS_CLASSES,
    Case,
    Marked,
    auc_ci,
    film_study,
    folds_by_woman,
    froc,
    read_cases,
    sensitivity_at,
    wilson,
)
from breastgate.worklist.policy import DEFAULT_POLICY, case_score

FP_RATES = (0.25, 0.5, 1.0, 2.0)
MODULES: dict[str, Any] = {
    "mass": _real_masses,
    "calcification": _real_calcifications,
    "density": _real_density,
}
CLASSES = {"mass": MASS_CLASSES, "calcification": CALC_CLASSES}
#: Source files whose change invalidates cached records.
SOURCES = (
    "src/breastgate/algorithms",
    "src/breastgate/imaging",
    "bench/_real_masses.py",
    "bench/_real_calcifications.py",
    "bench/_real_density.py",
    "bench/_mias.py",
)


def fingerprint() -> str:
    """Hash of the algorithm sources: a cache of records is used only for the same code."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for source in SOURCES:
        path = root / source
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def extract_all(
    folder: Path, cases: Sequence[Case], cache: Path | None
) -> dict[str, dict[str, dict[str, Any]]]:
    """kind → refnum → record, plus ``positioning``; cached per code fingerprint when asked."""
    stamp = fingerprint()
    target = cache / f"records-{stamp}.json" if cache else None
    if target is not None and target.is_file():
        loaded: dict[str, dict[str, dict[str, Any]]] = json.loads(target.read_text(encoding="utf-8"))
        return loaded
    from breastgate.algorithms.positioning import PositioningAlgorithm

    records: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in (*MODULES, "positioning")}
    for i, case in enumerate(cases, 1):
        with film_study(folder, case) as study:
            for kind, module in MODULES.items():
                records[kind][case.refnum] = module.extract(study, case)
            algorithm = PositioningAlgorithm()
            started = time.perf_counter()
            result = algorithm.run(algorithm.select(study))
            records["positioning"][case.refnum] = {
                "seconds": time.perf_counter() - started,
                "checks": {q.name: q.passed for q in result.quality},
            }
        if i % 20 == 0:
            print(f"  … {i}/{len(cases)} images", file=sys.stderr)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(records), encoding="utf-8")
    return records


def out_of_fold(
    module: Any, records: dict[str, dict[str, Any]], cases: dict[str, Case], folds: dict[str, int]
) -> tuple[dict[str, Any], list[Any]]:
    """Each image's output from the model fitted on the other folds; the per-fold models."""
    outputs: dict[str, Any] = {}
    models = []
    for fold in sorted(set(folds.values())):
        train = {r: rec for r, rec in records.items() if folds[r] != fold}
        model = module.fit(train, {r: cases[r] for r in train})
        models.append(model)
        for refnum, record in records.items():
            if folds[refnum] == fold:
                outputs[refnum] = module.apply(model, record)
    return outputs, models


def _threshold(model: Any) -> float:
    """The operating point a detector's fitted model carries (a dict from the bench modules)."""
    return float(model["threshold"] if isinstance(model, dict) else model.threshold)


def _cuts(model: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in model.items())


def _fmt(p: tuple[float, float, float]) -> str:
    return f"{p[0]:.2f} [{p[1]:.2f}–{p[2]:.2f}]"


def froc_lines(
    title: str, images: list[Marked], classes: Sequence[str], subsets: dict[str, Sequence[str]]
) -> list[str]:
    lines = [title]
    for name, group in {"all": classes, **subsets}.items():
        curve = froc(images, group, FP_RATES)
        cells = []
        for rate, (hits, total, _) in curve.items():
            cells.append(f"{rate:g}/img {hits}/{total} = {_fmt(wilson(hits, total))}")
        lines.append(f"  {name:>5}: " + "; ".join(cells))
    return lines


def case_auc(
    scores: dict[str, float], cases: dict[str, Case], classes: Sequence[str]
) -> tuple[float, float, float]:
    """AUC of an image score: images with a lesion of ``classes`` vs normal images."""
    positives = [s for r, s in scores.items() if cases[r].of(classes)]
    negatives = [s for r, s in scores.items() if cases[r].normal]
    return auc_ci(positives, negatives)


def detector_report(
    kind: str, records: dict[str, dict[str, Any]], cases: dict[str, Case], folds: dict[str, int]
) -> tuple[list[str], dict[str, float], dict[str, float]]:
    """Lines for one detector; its out-of-fold and shipped best score per image."""
    module = MODULES[kind]
    classes = CLASSES[kind]
    subsets = {c: (c,) for c in classes} if len(classes) > 1 else {}
    outputs, models = out_of_fold(module, records, cases, folds)
    oof = [Marked(cases[r], tuple((tuple(p), s) for p, s in outputs[r])) for r in sorted(outputs)]
    shipped = [
        Marked(cases[r], tuple((tuple(p), s) for p, s in records[r]["marks"])) for r in sorted(records)
    ]
    lines = froc_lines(
        f"{kind} FROC, out-of-fold (sensitivity at false marks per image):", oof, classes, subsets
    )
    # The operating point each fold's model chose on its training folds, measured on the held-out fold.
    hits = total = 0
    false = 0.0
    for fold, model in enumerate(models):
        held = [m for m in oof if folds[m.case.refnum] == fold]
        h, t, fp = sensitivity_at(held, classes, _threshold(model))
        hits, total, false = hits + h, total + t, false + fp * len(held)
    thresholds = ", ".join(f"{_threshold(m):.3g}" for m in models)
    lines.append(
        f"  at each training fold's operating point ({thresholds}): sensitivity {hits}/{total} = "
        f"{_fmt(wilson(hits, total))}, {false / len(oof):.2f} false marks per image"
    )
    best_oof = {m.case.refnum: max((s for _, s in m.marks), default=0.0) for m in oof}
    best_shipped = {m.case.refnum: max((s for _, s in m.marks), default=0.0) for m in shipped}
    threshold = records[next(iter(records))]["operating_threshold"]
    # The case score's share: the policy's rule, with the operating point the image's model used.
    rule = DEFAULT_POLICY.case_score
    case_oof = {r: case_score(v, _threshold(models[folds[r]]), rule) for r, v in best_oof.items()}
    case_shipped = {r: case_score(v, threshold, rule) for r, v in best_shipped.items()}
    lines.append(
        f"  case AUC ({kind} images vs normal), out-of-fold: {_fmt(case_auc(best_oof, cases, classes))}"
    )
    h, t, fp = sensitivity_at(shipped, classes, threshold)
    title = f"  {kind} FROC, shipped (parameters fitted on the calibration half: in-sample there):"
    lines.extend(froc_lines(title, shipped, classes, {}))
    lines.append(
        f"  shipped at its operating point {threshold:.3g}: {h}/{t} = {_fmt(wilson(h, t))}, "
        f"{fp:.2f} false marks per image; case AUC {_fmt(case_auc(best_shipped, cases, classes))}"
    )
    return lines, case_oof, case_shipped


def density_report(
    records: dict[str, dict[str, Any]], cases: dict[str, Case], folds: dict[str, int]
) -> list[str]:
    module = MODULES["density"]
    outputs, models = out_of_fold(module, records, cases, folds)
    lines = []
    for label, got in (("out-of-fold", outputs), ("shipped (in-sample)", records)):
        table: dict[str, dict[str, int]] = {}
        for refnum, out in got.items():
            table.setdefault(cases[refnum].tissue, {}).setdefault(str(out.get("category")), 0)
            table[cases[refnum].tissue][str(out.get("category"))] += 1
        d_pd = [float(o["percent_dense"]) for r, o in got.items() if cases[r].tissue == "D"]
        f_pd = [float(o["percent_dense"]) for r, o in got.items() if cases[r].tissue == "F"]
        right = sum(1 for r, o in got.items() if cases[r].tissue == "D" and o.get("category") in ("c", "d"))
        right += sum(1 for r, o in got.items() if cases[r].tissue == "F" and o.get("category") in ("a", "b"))
        lines.append(f"density, {label}:")
        for tissue in ("F", "G", "D"):
            row = table.get(tissue, {})
            lines.append(f"  MIAS {tissue}: " + " ".join(f"{c} {row.get(c, 0):3d}" for c in "abcd"))
        lines.append(
            f"  AUC of percent dense, D vs F: {_fmt(auc_ci(d_pd, f_pd))}; dense (c/d) vs fatty (a/b) "
            f"accuracy on D and F: {right}/{len(d_pd) + len(f_pd)} = "
            f"{_fmt(wilson(right, len(d_pd) + len(f_pd)))}"
        )
        for tissue in ("F", "G", "D"):
            values = [float(o["percent_dense"]) for r, o in got.items() if cases[r].tissue == tissue]
            if len(values) > 1:
                lines.append(
                    f"  percent dense, MIAS {tissue}: median {statistics.median(values):.1f}, "
                    f"SD {statistics.stdev(values):.1f} ({len(values)} images)"
                )
    lines.append("  cut-offs per training fold: " + "; ".join(_cuts(m) for m in models))
    return lines


def phantom_lines(count: int, seed: int) -> list[str]:
    """The shipped algorithms on ``count`` FFDM phantom studies (4 views), as bench/findings_froc.py."""
    from bench.findings_froc import auc as phantom_auc
    from bench.findings_froc import combined_auc, evaluate, one_study

    rows = [one_study((seed, i, ("calc", "mass"), "mg")) for i in range(count)]
    lines = [
        f"phantoms (breastgate.phantoms, {count} FFDM studies of 4 views, seeds {seed}+, shipped algorithms):"
    ]
    for kind, name in (("mass", "mass"), ("calc", "calcification")):
        threshold = next(r[f"{kind}_threshold"] for r in rows)
        at = evaluate(rows, kind, threshold)
        normal = evaluate([r for r in rows if r["content"] == "normal"], kind, threshold)
        seconds = statistics.mean(r[f"{kind}_seconds"] for r in rows) / 4
        lines.append(
            f"  {name}: sensitivity {at['sensitivity']:.2f} at {at['fp_per_image']:.2f} false marks per "
            f"image (normal studies only: {normal['fp_per_image']:.2f}) at {threshold:.3g}; case AUC "
            f"{phantom_auc(rows, kind):.2f}; {seconds:.2f} s per image"
        )
    combined = combined_auc(rows, ("calc", "mass"))
    lines.append(f"  case AUC (any lesion vs normal, highest raw finding score): {combined:.2f}")
    from bench.density_accuracy import one_study as density_study

    spread: dict[str, list[float]] = {}
    for i in range(count):
        category = "abcd"[i % 4]
        _, _, _, pd, _ = density_study((seed + 100 + i, category, None, "ref"))
        spread.setdefault(category, []).append(pd)
    lines.append(
        "  percent dense by true category: "
        + "; ".join(
            f"{c} median {statistics.median(v):.1f} SD {statistics.stdev(v) if len(v) > 1 else 0.0:.1f}"
            for c, v in sorted(spread.items())
        )
    )
    return lines


def timing_lines(records: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    seconds: dict[str, float] = {}
    for kind, by_ref in records.items():
        values = [float(r["seconds"]) for r in by_ref.values()]
        seconds[kind] = statistics.mean(values)
    total = sum(seconds.values())
    return [
        "time per image (1 core, the algorithm's run as the gateway calls it): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items())
        + f"; all {total:.2f} s"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mias", type=Path, required=True, help="folder with labels.csv and images/")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--cache", type=Path, help="keep the per-image records here (keyed by the code)")
    parser.add_argument("--phantoms", type=int, default=24, help="phantom studies to measure too (0: none)")
    parser.add_argument("--seed", type=int, default=5000, help="first phantom seed")
    parser.add_argument("--out", type=Path, help="write the figures as JSON lines here")
    args = parser.parse_args(argv)
    cases_list = read_cases(args.mias)
    cases = {c.refnum: c for c in cases_list}
    folds = folds_by_woman(cases_list, args.folds)
    print(
        f"{len(cases)} images of {len({c.woman for c in cases_list})} women; {args.folds} folds by woman; "
        f"contents: "
        + ", ".join(
            f"{k} {sum(1 for c in cases_list if c.content == k)}"
            for k in ("mass", "calcification", "other", "normal")
        )
    )
    records = extract_all(args.mias, cases_list, args.cache)
    lines: list[str] = []
    best: dict[str, dict[str, float]] = {}
    shipped_best: dict[str, dict[str, float]] = {}
    for kind in ("mass", "calcification"):
        kind_lines, best[kind], shipped_best[kind] = detector_report(kind, records[kind], cases, folds)
        lines.extend(kind_lines)
    lines.extend(density_report(records["density"], cases, folds))
    lesion_classes = MASS_CLASSES + CALC_CLASSES
    for label, source in (("out-of-fold", best), ("shipped (in-sample)", shipped_best)):
        score = {r: max(source["mass"][r], source["calcification"][r]) for r in cases}
        lines.append(
            f"case suspicion score ({DEFAULT_POLICY.name}: {DEFAULT_POLICY.case_score}), mass or "
            f"calcification images vs normal, {label}: AUC {_fmt(case_auc(score, cases, lesion_classes))}"
        )
    checks: dict[str, int] = {}
    for record in records["positioning"].values():
        for name, passed in record["checks"].items():
            key = f"{name} {'pass' if passed else 'fail'}"
            checks[key] = checks.get(key, 0) + 1
    lines.append(
        "positioning checks (single MLO views): " + ", ".join(f"{k} {v}" for k, v in sorted(checks.items()))
    )
    lines.extend(timing_lines(records))
    if args.phantoms:
        lines.extend(phantom_lines(args.phantoms, args.seed))
    for line in lines:
        print(line)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
