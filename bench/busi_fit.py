"""Fit the ultrasound lesion models on a whole BUSI-layout folder and print them to paste.

Usage: ``python bench/busi_fit.py --data /work/shared/data/busi-dev [--folds 5 --seed 0]
[--workers 2] [--cache DIR] [--cnn-maps OOF.pkl [--variant full|features|classical]]
[--phantom-records FILE]``

With ``--phantom-records`` (``bench/us_phantom_records.py``, development seeds 7000-7099) those
phantom candidates join the detection fits (the final one and each fold's for the thresholds,
which are read on BUSI images only); the malignancy model never sees them.

With ``--cnn-maps`` (the out-of-fold maps of ``bench/busi_cnn.py --oof``) the detection models and
thresholds are those with the network's features, printed as ``CNN_DETECTOR``, ``CNN_CONTEXT``,
``CNN_OPERATING_THRESHOLD`` and ``CNN_REPORT_FLOOR`` (``--variant classical``: the classical ones).
Stacking caveat: each image's features come from a network that never saw it, but that network
saw the other folds' images, so a fold's training features were made by networks that saw the
fold; the shipped network (trained on all images) is sharper on BUSI than any out-of-fold one.

The models of ``bench/busi_us.py`` (detection: candidates with IoU >= 0.3 against a true lesion
as positives, then the context stage on the detector's in-sample scores; malignancy: the
candidates with IoU >= 0.3 of benign and malignant images) fitted on ALL images, printed as the
``DETECTOR``, ``CONTEXT`` and ``MALIGNANCY`` literals of ``src/breastgate/algorithms/_us_models.py``;
then the thresholds: the scores at 0.5 and 1 false regions per image on the pooled out-of-fold
detections of the same cross-validation as the benchmark (each fold scored by models fitted on the
other folds), printed as ``OPERATING_THRESHOLD`` and ``REPORT_FLOOR``. No figure printed here is
a result: the results are ``bench/busi_us.py``'s out-of-fold ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.busi_us import (
    Model,
    Shown,
    add_network_arguments,
    analyse_all,
    detect,
    fit_models,
    folds,
    phantom_records,
    threshold_at,
    variant,
)


def literal(name: str, model: Model) -> str:
    """The ``LogisticModel`` literal of a fitted model."""

    def tup(a: np.ndarray) -> str:
        return "(" + ", ".join(f"{v:.5g}" for v in a) + ("," if len(a) == 1 else "") + ")"

    w, mu, sd = model.fitted
    low, high = model.ranges
    return (
        f"{name} = LogisticModel(\n    features={model.names!r},\n"
        f"    log=frozenset({sorted(model.log)!r}),\n    low={tup(low)},\n    high={tup(high)},\n"
        f"    mean={tup(mu)},\n    scale={tup(sd)},\n    weights={tup(w[1:])},\n"
        f"    bias={w[0]:.5g},\n)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path)
    add_network_arguments(parser)
    args = parser.parse_args()
    records = analyse_all(args.data, args.workers, args.cache, args.cnn_maps, not args.no_map_candidates)
    records = variant(records, args.variant)
    phantoms = phantom_records(args.phantom_records, args.variant)
    detector, malignancy = fit_models(records + phantoms)
    prefix = "CNN_" if args.cnn_maps is not None and args.variant != "classical" else ""
    extra = f" and {len(phantoms)} development phantom regions" if phantoms else ""
    print(f"# Fitted on {len(records)} images of {args.data.name}{extra} by bench/busi_fit.py.")
    print(literal(f"{prefix}DETECTOR", detector.candidate))
    print(literal(f"{prefix}CONTEXT", detector.context))
    print(literal("MALIGNANCY", malignancy))
    fold, _ = folds(records, args.folds, args.seed)
    oof: list[Shown] = []
    for k in range(args.folds):
        train = [r for r, f in zip(records, fold, strict=True) if f != k]
        d, m = fit_models(train + phantoms)
        oof += [detect(r, d, m) for r, f in zip(records, fold, strict=True) if f == k]
    print(f"{prefix}OPERATING_THRESHOLD = {threshold_at(oof, 0.5):.4g}")
    print(f"{prefix}REPORT_FLOOR = {threshold_at(oof, 1.0):.4g}")


if __name__ == "__main__":
    main()
