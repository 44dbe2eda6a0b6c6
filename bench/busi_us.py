"""Cross-validated benchmark of the B-mode ultrasound lesion detector on a BUSI-layout folder.

Usage: ``python bench/busi_us.py --data /work/shared/data/busi-dev [--folds 5 --seed 0]
[--workers 2] [--cache FILE] [--cnn-maps OOF.pkl [--no-map-candidates] [--variant V]]
[--phantom-records FILE]``

``--phantom-records``: the development phantom candidates of ``bench/us_phantom_records.py``
(seeds 7000-7099) join every fold's detection fit (never the thresholds, which stay fitted on the
BUSI training folds, nor the malignancy model); version 1.3.0's models are fitted so.

The network's map: never the shipped network here (it saw every image); with ``--cnn-maps`` (the
out-of-fold maps of ``bench/busi_cnn.py --oof``, each from a network trained on the other folds)
the candidates get the map's features and its components as candidates, as ``find_lesions`` does;
without it the detector is the classical one. ``--variant features`` / ``classical`` drop the map's
candidates / the map from records analysed with it (the classical candidates do not depend on it).
Out of fold (version 1.3.0, 5 folds, seed 0, ``--phantom-records`` of seeds 7000-7099): at the
per-fold thresholds for <= 0.5 false/image sensitivity 180/208 = 0.865 at 0.52 false regions/image
(1.2.1: 177/208 = 0.851 at 0.48; 1.2.0: 175/208 = 0.841 at 0.50; classical: 167/208 = 0.803 at
0.47), for <= 1: 0.899 at 1.04 (1.2.1: 0.870 at 1.00; classical 0.870 at 1.02); median Dice of
detected lesions 0.839 (1.2.1: 0.838; classical 0.802); AUC per detected lesion 0.865 (0.876;
0.838); normals with a shown detection 17/40 (28/40; 24/40).

1. Every image is analysed once (:func:`breastgate.algorithms._us_lesions.analyse`: all candidate
   regions and their features) and, to time it, finished with the shipped models as
   ``find_lesions`` does; each candidate is matched to each true lesion (IoU at the working
   resolution; Dice at input resolution where they overlap; centre inside the truth mask).
2. Images are split into ``--folds`` folds by image with a fixed seed, stratified by label;
   near-duplicates (contrast-normalised 24×24 thumbnails correlating above ``DUPLICATE_R``) are
   kept in one fold. For each fold the detection models (candidates with IoU >= 0.3 as positives,
   then the context stage on their in-sample scores),
   the malignancy model (candidates with IoU >= 0.3 of benign and malignant images) and the thresholds
   (scores at 0.5 and 1 false regions per training image) are fitted on the other folds only,
   then the fold is scored.
   Each kept detection is drawn as ``find_lesions`` draws it (:func:`~breastgate.algorithms.
   _us_lesions.outline`, then :func:`~breastgate.algorithms._us_lesions.refine` for its Dice).
3. Printed, all out of fold: sensitivity at the per-fold thresholds, the pooled FROC, Dice of the
   best-matching shown detection per true lesion, benign-vs-malignant AUC, time per image, and
   normals with a shown detection.

Hit rule: a shown detection is a hit on a true lesion when its centre lies in the lesion's mask or
their IoU is >= 0.3; any other shown detection (including a second one on an already found lesion)
is a false region.
"""

from __future__ import annotations

import argparse
import collections
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._busi import cases, load, thumbnail
from bench._mias import auc
from bench.mass_model_fit import fit, predict
from breastgate.algorithms import _us_lesions as us
from breastgate.algorithms._us_candidates import Region, WorkImage
from breastgate.algorithms._us_cnn import CNN_FEATURES, network_input, to_work

DUPLICATE_R = 0.95
#: Candidates with IoU >= this against a true lesion are the detector's positives: the hit rule's
#: IoU (0.5 left 76 of the 208 BUSI lesions without any positive candidate).
POSITIVE_IOU = 0.3
#: The malignancy model learns from every candidate that a hit could be (IoU >= 0.3), with a
#: stronger penalty: 190 lesions, not 35 000 candidates.
MALIGNANCY_IOU = 0.3
DETECTION_L2 = 1.0
CONTEXT_L2 = 1.0
MALIGNANCY_L2 = 10.0
HIT_IOU = 0.3
MAX_SHOWN = 5
#: Features of the two models (a new feature is added here and in busi_fit's printout).
DETECTION_FEATURES = (
    "area_mm2", "wd_ratio", "contrast", "darkness", "edge", "edge_abs", "solidity", "extent",
    "aspect", "ellipse_misfit", "roughness", "heterogeneity", "anechoic_frac", "posterior",
    "depth_frac", "top_frac", "centre_offset", "border", "level", "is_ratio",
)  # fmt: skip
#: The context features of ``_us_features.context_features`` are not ranked on: out of fold they
#: added nothing to detection (pooled sensitivity at 0.5 false/image 0.788 with seven of them, the
#: gray levels left out, or without, one stage) but showed more regions on lesion-free phantom
#: speckle (10 of 18 images against 8;
#: unit-test seeds 48-53, not the held-out ones). The malignancy model uses them, the gray levels
#: themselves included (AUC per detected lesion 0.835 with them, 0.796 without the three gray
#: levels: a choice made on the same folds; the gray levels follow the scanner's gain, so the
#: score is specific to BUSI's settings; it is reported, never used to triage).
DETECTION_LOG = frozenset({"area_mm2", "wd_ratio", "roughness"})
#: Ranked on with the network's features only (1.2.2; the classical models keep 1.1.0's): the
#: candidate against the image at its depth (``_us_features.band_features``, ``row_contrast``).
#: The network fires on the phantoms' subcutaneous fat band, a dark layer crossing the image.
LAYER_FEATURES = ("band_frac", "side_contrast", "row_contrast")
MALIGNANCY_FEATURES = (
    "area_mm2", "wd_ratio", "contrast", "edge", "solidity", "ellipse_misfit", "roughness",
    "heterogeneity", "anechoic_frac", "posterior", "depth_frac", "contrast_far", "ring_sd",
    "row_contrast", "edge_cover", "edge_top", "inside_grad", "inside_gray", "ring_gray", "image_gray",
    "posterior_diff",
)  # fmt: skip
MALIGNANCY_LOG = frozenset({"area_mm2", "wd_ratio", "roughness"})


@dataclass
class Record:
    """One analysed image: candidates, their features and their match to the truth."""

    name: str
    label: str
    n_truth: int
    regions: list[Region]
    features: list[dict[str, float]]
    iou: np.ndarray  # candidates × truths, working resolution
    dice: np.ndarray  # candidates × truths, input resolution where they overlap (refined)
    dice_raw: np.ndarray  # the same for the candidate's own outline
    centre_in: np.ndarray  # candidates × truths
    seconds: float
    thumb: np.ndarray


def _oof_map(prob: np.ndarray | None) -> us.NetworkMap | None:
    """The network map of one image from its out-of-fold map (network grid), or no network."""
    if prob is None:
        return None

    def network(work: WorkImage) -> np.ndarray:
        _, shape = network_input(work)
        return to_work(prob.astype(np.float64), shape, (work.smooth.shape[0], work.smooth.shape[1]))

    return network


def _analyse(args: tuple[str, str, str, list[str], np.ndarray | None, bool]) -> Record:
    folder, image, label, masks, prob, map_candidates = args
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    us.MAP_CANDIDATES = map_candidates
    case = load(Path(folder), image, label, masks)
    start = time.perf_counter()
    # Never the shipped network here: it saw every image. The map is the out-of-fold one.
    analysis = us.analyse(case.gray, case.valid, None, _oof_map(prob))
    first = us.candidate_scores(analysis.features)
    network = us.uses_network(analysis.features)
    scores = us.detection_scores(first, network)
    for i in us.select(analysis, scores, us.thresholds(network)[1], MAX_SHOWN):
        us._lesion(analysis, us.outline(analysis, first, i), scores[i], case.valid)
    seconds = time.perf_counter() - start
    shape = analysis.work.smooth.shape
    n, m = len(analysis.regions), len(case.truths)
    iou, dice, centre_in = np.zeros((n, m)), np.zeros((n, m)), np.zeros((n, m), bool)
    dice_raw = np.zeros((n, m))
    for j, truth in enumerate(case.truths):
        small = _shrink(truth, shape)
        for i, region in enumerate(analysis.regions):
            h, w = region.mask.shape
            sub = small[region.r0 : region.r0 + h, region.c0 : region.c0 + w]
            inter = float((sub & region.mask).sum())
            rr, cc = np.nonzero(region.mask)
            row = (region.r0 + rr.mean() + 0.5) * truth.shape[0] / shape[0] - 0.5
            col = (region.c0 + cc.mean() + 0.5) * truth.shape[1] / shape[1] - 0.5
            centre_in[i, j] = bool(truth[round(row), round(col)])
            if inter == 0:
                continue
            iou[i, j] = inter / (region.mask.sum() + small.sum() - inter)
            if iou[i, j] > 0.1:
                # The outline find_lesions returns (redrawn at the edge's mid-level).
                full = us.refine(analysis, region, case.valid)
                dice[i, j] = 2 * (full & truth).sum() / (full.sum() + truth.sum())
                raw = us.input_mask(analysis, region, case.valid)
                dice_raw[i, j] = 2 * (raw & truth).sum() / (raw.sum() + truth.sum())
    return Record(
        image, label, m, list(analysis.regions), list(analysis.features), iou, dice, dice_raw,
        centre_in, seconds, thumbnail(case.gray),
    )  # fmt: skip


def _shrink(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    from scipy import ndimage as ndi

    f = (shape[0] / mask.shape[0], shape[1] / mask.shape[1])
    out = ndi.zoom(mask.astype(float), f, order=1, grid_mode=True, mode="nearest") > 0.5
    return np.asarray(out[: shape[0], : shape[1]])


class _Unpickler(pickle.Unpickler):
    """Reads a cache written when this file ran as ``__main__`` from busi_fit as well."""

    def find_class(self, module: str, name: str) -> Any:
        if name == "Record":
            return Record
        return super().find_class(module, name)


def analyse_all(
    folder: Path, workers: int, cache: Path | None, maps: Path | None = None, map_candidates: bool = True
) -> list[Record]:
    """All images analysed (from ``cache`` when it holds them); with ``maps`` (the out-of-fold
    network maps of ``bench/busi_cnn.py --oof``, by image name) ranked with the network's features,
    and (``map_candidates``) the map's components as candidates too."""
    if cache is not None and cache.exists():
        with cache.open("rb") as handle:
            records: list[Record] = _Unpickler(handle).load()
        return records
    probs: dict[str, np.ndarray] = pickle.loads(maps.read_bytes()) if maps is not None else {}
    if maps is not None and len(probs) < len(cases(folder)):
        raise SystemExit(f"{maps} holds {len(probs)} maps, not one per image")
    jobs = [
        (str(folder), image, label, masks, probs.get(image), map_candidates)
        for image, label, masks in cases(folder)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        records = list(pool.map(_analyse, jobs, chunksize=4))
    if cache is not None:
        cache.write_bytes(pickle.dumps(records))
    return records


def folds(records: list[Record], k: int, seed: int) -> tuple[np.ndarray, int]:
    """Fold of each image (near-duplicates together, labels spread) and the duplicate count."""
    thumbs = np.stack([r.thumb.ravel() for r in records])
    corr = thumbs @ thumbs.T
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs = 0
    for i, j in zip(*np.nonzero(np.triu(corr, 1) > DUPLICATE_R), strict=True):
        pairs += 1
        parent[root(int(i))] = root(int(j))
    groups = collections.defaultdict(list)
    for i in range(len(records)):
        groups[root(i)].append(i)
    rng = np.random.default_rng(seed)
    order = list(groups.values())
    rng.shuffle(order)  # type: ignore[arg-type]
    order.sort(key=lambda g: records[g[0]].label)
    fold = np.zeros(len(records), int)
    sizes = np.zeros(k)
    for g in order:
        f = int(np.argmin(sizes + rng.random(k) * 0.1))
        fold[g] = f
        sizes[f] += len(g)
    return fold, pairs


def design(
    rows: list[dict[str, float]], names: tuple[str, ...], log: frozenset[str], ranges: Any = None
) -> tuple[np.ndarray, Any]:
    """Feature matrix (log where listed, clipped to the training 1st-99th percentiles)."""
    cols = []
    for name in names:
        v = np.nan_to_num(np.array([r[name] for r in rows], float))
        cols.append(np.log(np.maximum(v, 0.05)) if name in log else v)
    x = np.stack(cols, axis=1) if cols else np.zeros((0, len(names)))
    if ranges is None:
        ranges = (np.quantile(x, 0.01, axis=0), np.quantile(x, 0.99, axis=0))
    return np.clip(x, *ranges), ranges


class Model:
    """A fitted logistic model with its clipping ranges."""

    def __init__(self, rows: list[dict[str, float]], y: np.ndarray, names: Any, log: Any, l2: float) -> None:
        self.names, self.log = names, log
        x, self.ranges = design(rows, names, log)
        self.fitted = fit(x, y.astype(float), l2)

    def __call__(self, rows: list[dict[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        x, _ = design(rows, self.names, self.log, self.ranges)
        return np.asarray(predict(x, self.fitted))


def detection_features(records: list[Record]) -> tuple[str, ...]:
    """``DETECTION_FEATURES``, and the network's and ``LAYER_FEATURES`` when the records were
    analysed with its maps."""
    with_map = any(r.features and "cnn_mean" in r.features[0] for r in records)
    return DETECTION_FEATURES + (CNN_FEATURES + LAYER_FEATURES if with_map else ())


class Detector:
    """The two detection stages: the candidate model, then the context model on its logit
    (:func:`breastgate.algorithms._us_lesions.detection_scores`), both fitted on the same images
    (the second on the first's in-sample scores)."""

    def __init__(self, records: list[Record], y: list[np.ndarray]) -> None:
        rows = [f for r in records for f in r.features]
        labels = np.concatenate(y) if y else np.zeros(0, bool)
        names = detection_features(records)
        self.candidate = Model(rows, labels, names, DETECTION_LOG, DETECTION_L2)
        context = [c for r in records for c in us.context_rows(list(self.candidate(r.features)))]
        self.context = Model(context, labels, us.CONTEXT_FEATURES, frozenset(), CONTEXT_L2)

    def __call__(self, rows: list[dict[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        return self.context(us.context_rows(list(self.candidate(rows))))

    def first(self, rows: list[dict[str, float]]) -> np.ndarray:
        """The first stage's scores (what ``outline`` compares nested candidates by)."""
        return self.candidate(rows)


def fit_models(records: list[Record]) -> tuple[Detector, Model]:
    """Detection and malignancy models fitted on ``records``."""
    y, mal_rows, mal_y = [], [], []
    for r in records:
        best = r.iou.max(axis=1) if r.n_truth else np.zeros(len(r.features))
        y.append(best >= POSITIVE_IOU)
        if r.label in ("benign", "malignant"):
            for i in np.flatnonzero(best >= MALIGNANCY_IOU):
                mal_rows.append(r.features[i])
                mal_y.append(r.label == "malignant")
    detector = Detector(records, y)
    malignancy = Model(mal_rows, np.array(mal_y), MALIGNANCY_FEATURES, MALIGNANCY_LOG, MALIGNANCY_L2)
    return detector, malignancy


@dataclass
class Shown:
    """The detections of one image (up to ``MAX_SHOWN``, best first) and their matches."""

    scores: np.ndarray
    malignancy: np.ndarray
    hit: np.ndarray  # detections × truths


def detect(record: Record, detector: Detector | Model, malignancy: Model) -> Shown:
    """Non-maximum-suppressed detections of one image with no floor."""
    scores = detector(record.features)
    analysis = us.Analysis(None, record.regions, record.features, (0, 0))  # type: ignore[arg-type]
    seeds = us.select(analysis, list(scores), -1.0, MAX_SHOWN)
    first = detector.first(record.features) if isinstance(detector, Detector) else scores
    kept = [us.outline(analysis, list(first), i) for i in seeds]
    hit = record.centre_in[kept] | (record.iou[kept] >= HIT_IOU)
    mal = malignancy([record.features[i] for i in kept])
    shown = Shown(scores[seeds], mal, hit.reshape(len(kept), record.n_truth))
    shown.kept = kept  # type: ignore[attr-defined]
    return shown


def tally(shown: list[Shown], threshold: float) -> tuple[int, int, int]:
    """(lesions found, lesions, false regions) at ``threshold``."""
    found = total = false = 0
    for s in shown:
        sel = s.scores >= threshold
        total += s.hit.shape[1]
        got = np.zeros(s.hit.shape[1], bool)
        for d in np.flatnonzero(sel):
            new = s.hit[d] & ~got
            if new.any():
                got[int(np.flatnonzero(new)[0])] = True
            else:
                false += 1
        found += int(got.sum())
    return found, total, false


def threshold_at(shown: list[Shown], per_image: float) -> float:
    """Lowest score whose false regions per image stay <= ``per_image``."""
    levels = np.unique(np.concatenate([s.scores for s in shown] + [np.array([1.0])]))[::-1]
    best = 1.0
    for t in levels:
        if tally(shown, t)[2] / len(shown) > per_image:
            break
        best = float(t)
    return best


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cnn-maps``, ``--no-map-candidates`` (:func:`analyse_all`) and ``--variant``
    (:func:`variant`)."""
    parser.add_argument("--cnn-maps", type=Path, help="out-of-fold maps of bench/busi_cnn.py --oof")
    parser.add_argument("--no-map-candidates", action="store_true", help="the map ranks, adds none")
    parser.add_argument(
        "--phantom-records", type=Path,
        help="records of bench/us_phantom_records.py added to every detection fit (never thresholds)",
    )  # fmt: skip
    parser.add_argument(
        "--variant", choices=("full", "features", "classical"), default="full",
        help="of records analysed with maps: all (full), without the map's candidates (features), "
        "or without the map at all (classical: the same candidates and models as without --cnn-maps)",
    )  # fmt: skip


def phantom_records(path: Path | None, name: str) -> list[Record]:
    """The development phantom records of ``bench/us_phantom_records.py`` (none without ``path``),
    as :func:`variant` ``name`` makes them."""
    if path is None:
        return []
    with path.open("rb") as handle:
        return variant(_Unpickler(handle).load(), name)


def variant(records: list[Record], name: str) -> list[Record]:
    """The records as if analysed without the map's candidates (``features``) or without the map
    (``classical``); ``full``: unchanged. The classical candidates do not depend on the map."""
    if name == "full":
        return records
    out = []
    for r in records:
        keep = np.array([g.family != "cnn" for g in r.regions], bool)
        idx = np.flatnonzero(keep)
        feats = [r.features[i] for i in idx]
        if name == "classical":
            feats = [{k: v for k, v in f.items() if not k.startswith("cnn_")} for f in feats]
        out.append(
            Record(
                r.name, r.label, r.n_truth, [r.regions[i] for i in idx], feats, r.iou[keep],
                r.dice[keep], r.dice_raw[keep], r.centre_in[keep], r.seconds, r.thumb,
            )
        )  # fmt: skip
    return out


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
    fold, pairs = folds(records, args.folds, args.seed)
    print(f"{len(records)} images, {sum(r.n_truth for r in records)} lesions, "
          f"{pairs} near-duplicate pairs (thumbnail r > {DUPLICATE_R}) kept in one fold")  # fmt: skip
    oof: list[Shown | None] = [None] * len(records)
    per_fold = []
    for k in range(args.folds):
        train = [r for r, f in zip(records, fold, strict=True) if f != k]
        detector, malignancy = fit_models(train + phantoms)
        train_shown = [detect(r, detector, malignancy) for r in train]
        t05, t1 = threshold_at(train_shown, 0.5), threshold_at(train_shown, 1.0)
        test = [i for i in range(len(records)) if fold[i] == k]
        shown = [detect(records[i], detector, malignancy) for i in test]
        for i, s in zip(test, shown, strict=True):
            oof[i] = s
        per_fold.append((t05, t1, tally(shown, t05), tally(shown, t1), len(test)))
    report(records, [s for s in oof if s is not None], per_fold)


def report(records: list[Record], oof: list[Shown], per_fold: list[Any]) -> None:
    """Print the out-of-fold figures."""
    for name, col in (("0.5", 2), ("1", 3)):
        found = sum(p[col][0] for p in per_fold)
        total = sum(p[col][1] for p in per_fold)
        false = sum(p[col][2] for p in per_fold)
        thresholds = ", ".join(f"{p[col - 2]:.3f}" for p in per_fold)
        print(f"at the threshold for <= {name} false/image fitted on the training folds "
              f"({thresholds}): sensitivity {found}/{total} = {found / total:.3f}, "
              f"{false / len(records):.2f} false regions/image")  # fmt: skip
    print("pooled out-of-fold FROC (false regions/image: sensitivity, threshold):")
    froc = {}
    for rate in (0.125, 0.25, 0.5, 1.0, 2.0):
        t = threshold_at(oof, rate)
        found, total, false = tally(oof, t)
        froc[rate] = t
        print(f"  {rate:5.3f}: {found / total:.3f} ({false / len(records):.2f}/image, t={t:.4f})")
    dice_report(records, oof, froc[0.5])
    malignancy_report(records, oof, froc[0.5])
    seconds = np.array([r.seconds for r in records])
    print(f"time per image (analysis + the shipped models): median {np.median(seconds):.2f} s, "
          f"p95 {np.quantile(seconds, 0.95):.2f} s, max {seconds.max():.2f} s")  # fmt: skip
    for rate in (0.5, 1.0):
        normals = [s for r, s in zip(records, oof, strict=True) if r.label == "normal"]
        shown = sum(bool((s.scores >= froc[rate]).any()) for s in normals)
        print(f"normals with a shown detection at the pooled {rate}/image threshold: "
              f"{shown}/{len(normals)}")  # fmt: skip


def dice_report(records: list[Record], oof: list[Shown], threshold: float) -> None:
    """Dice of the best-matching detection per true lesion (shown ones, and any of the top 5)."""
    shown_d, any_d, raw_d = [], [], []
    for r, s in zip(records, oof, strict=True):
        kept = np.asarray(s.kept, dtype=int)  # type: ignore[attr-defined]
        for j in range(r.n_truth):
            d = r.dice[kept, j] if kept.size else np.zeros(1)
            raw = r.dice_raw[kept, j] if kept.size else np.zeros(1)
            any_d.append(float(d.max()) if d.size else 0.0)
            sel = s.scores >= threshold
            shown_d.append(float(d[sel].max()) if sel.any() else 0.0)
            raw_d.append(float(raw[sel].max()) if sel.any() else 0.0)
    for name, d in (
        ("shown at the 0.5/image threshold", shown_d),
        ("shown, candidate outline before the redraw", raw_d),
        ("top 5, no floor", any_d),
    ):
        a = np.array(d)
        print(f"Dice per true lesion, best {name}: median {np.median(a):.3f}, mean "
              f"{a.mean():.3f}; among detected (Dice > 0): median {np.median(a[a > 0]):.3f}")  # fmt: skip


def malignancy_report(records: list[Record], oof: list[Shown], threshold: float) -> None:
    """Benign-vs-malignant AUC by lesion (matched detection) and by image (top detection)."""
    pos, neg, ipos, ineg = [], [], [], []
    for r, s in zip(records, oof, strict=True):
        if r.label not in ("benign", "malignant"):
            continue
        target = pos if r.label == "malignant" else neg
        for j in range(r.n_truth):
            hits = np.flatnonzero(s.hit[:, j])
            if hits.size:
                target.append(float(s.malignancy[hits[0]]))
        image_target = ipos if r.label == "malignant" else ineg
        sel = s.scores >= threshold
        if sel.any():
            image_target.append(float(s.malignancy[sel].max()))
        elif s.malignancy.size:
            image_target.append(float(s.malignancy[0]))
    print(f"benign-vs-malignant AUC, per detected lesion (its best-ranked hit, any of the top 5): "
          f"{auc(pos, neg):.3f} ({len(pos)} malignant, {len(neg)} benign)")  # fmt: skip
    print(f"benign-vs-malignant AUC, per image (highest malignancy of the shown detections, or "
          f"of the top one when none is shown): {auc(ipos, ineg):.3f} ({len(ipos)}/{len(ineg)})")  # fmt: skip


if __name__ == "__main__":
    main()
