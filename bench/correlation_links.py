"""Cross-modality lesion links (``breastgate.algorithms.correlation``) on simulated women.

Usage: ``python bench/correlation_links.py --women 200 --seed 0 [--noise-scale 1.0]``.

Woman i (``numpy`` generator seeded ``[seed, i, 19]``): 2-3 studies on different modalities drawn
from MG, DBT, US and MR (one episode: MG on day 0, the others 0-30 days later), and for a third of
the women a prior of the first modality 1-2 years earlier. 1-2 true lesions, each in a random
breast at a uniform clock (0-12 h) and distance 10-90 mm from the nipple, size log-uniform 5-40 mm
(the prior sees it 0-40 % smaller); each true lesion is seen in every study with probability 0.9
(in at least two). Every study also holds one unrelated lesion (a breast, place and size of its
own) that no other study sees.

Measurement noise, per modality, the standard deviations of
``breastgate.algorithms._correlation_place.UNCERTAINTY`` times ``--noise-scale``: clock
``N(0, clock_h)`` then rounded to a whole hour (as every algorithm writes it); distance
``d·(1 + N(0, distance_rel)) + N(0, distance_floor_mm)``, ultrasound's rounded to whole cm (the
floor stands for the rest of the annotation's error); size ``s·exp(N(0, sqrt(size_rel² + (2/s)²)))``.
Findings are results-JSON findings (kind mass on MG/DBT, us_lesion, enhancing_lesion) placed by
``place`` and linked by ``link``.

Printed: direct links (each kept link is true when both findings are of one true lesion) precision
and recall over all true cross-study pairs; the same per modality pair; and lesion-level pair
precision / recall (two findings in one output lesion). Target (issue 19): >= 0.95.

Figures (``--women 200 --seed 0``; the gates were chosen on seeds 1-2): direct links precision
0.880, recall 0.881; lesion pairs 0.869 / 0.914. With half the modelled noise recall is 0.979 and
precision 0.905. The target is not reached here, and gates cannot reach it: tightened to 1.0 sd
(positions) and 1.0-1.5 sd (sizes) precision stays at 0.88-0.90 with recall 0.3-0.4, because the
remaining false links join lesions whose measured places and sizes coincide (an unrelated lesion
at the same hour and distance as a true one; every study holds one, in a random breast).

Branch ``links2`` (groups refined across three or more studies; MG, US and MR distance
uncertainties narrowed to the errors measured on phantom women, so the simulated distance noise is
narrower too): direct links 0.893 / 0.885, lesion pairs 0.886 / 0.926; half the noise: direct
links 0.919 / 0.983, lesion pairs 0.917 / 0.989.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from breastgate.algorithms.correlation import UNCERTAINTY, LesionTable, PlacedFinding, link, place

MODALITY_KIND = {"MG": "mass", "DBT": "mass", "US": "us_lesion", "MR": "enhancing_lesion"}
EPOCH = date(2025, 1, 6)

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Simulation:
    """Placed findings and, by finding key, the true lesion each one shows."""

    findings: list[PlacedFinding]
    truth: dict[Key, str]


@dataclass(frozen=True)
class _Lesion:
    label: str
    laterality: str
    clock: float
    distance: float
    size: float


def _lesion(rng: np.random.Generator, label: str) -> _Lesion:
    return _Lesion(
        label,
        "L" if rng.random() < 0.5 else "R",
        float(rng.uniform(0.0, 12.0)),
        float(rng.uniform(10.0, 90.0)),
        float(math.exp(rng.uniform(math.log(5.0), math.log(40.0)))),
    )


def measured(
    rng: np.random.Generator, lesion: _Lesion, modality: str, scale: float = 1.0, shrink: float = 1.0
) -> dict[str, Any]:
    """A results-JSON finding of ``lesion`` as ``modality`` measures it (module docstring)."""
    u = UNCERTAINTY[modality]
    clock = round((lesion.clock + rng.normal(0.0, u.clock_h * scale)) % 12.0) % 12 or 12
    distance = lesion.distance * (1.0 + rng.normal(0.0, u.distance_rel * scale))
    distance = max(distance + rng.normal(0.0, u.distance_floor_mm * scale), 0.0)
    if modality == "US":
        distance = 10.0 * round(distance / 10.0)
    true_size = lesion.size * shrink
    sd = math.hypot(u.size_rel, 2.0 / true_size) * scale
    size = true_size * math.exp(rng.normal(0.0, sd))
    return {
        "kind": MODALITY_KIND[modality],
        "laterality": lesion.laterality,
        "size_mm": round(size, 1),
        "location": {"clock": clock, "distance_from_nipple_mm": round(distance, 1), "depth": None},
        "attributes": {},
        "marks": [],
    }


def _woman(rng: np.random.Generator, i: int, scale: float) -> Simulation:
    patient = f"W{i:05d}"
    modalities = list(rng.choice(list(MODALITY_KIND), size=int(rng.integers(2, 4)), replace=False))
    studies = [
        (m, EPOCH + timedelta(days=0 if n == 0 else int(rng.integers(0, 31))))
        for n, m in enumerate(modalities)
    ]
    shrink: dict[int, float] = {}
    if rng.random() < 1 / 3:
        shrink[len(studies)] = float(rng.uniform(0.6, 1.0))
        studies.append((modalities[0], EPOCH - timedelta(days=int(rng.integers(365, 731)))))
    true = [_lesion(rng, f"{patient}-T{k}") for k in range(int(rng.integers(1, 3)))]
    seen = {lesion.label: rng.random(len(studies)) < 0.9 for lesion in true}
    for flags in seen.values():
        while flags.sum() < 2:
            flags[int(rng.integers(len(studies)))] = True
    findings: list[PlacedFinding] = []
    truth: dict[Key, str] = {}
    for s, (modality, when) in enumerate(studies):
        uid = f"1.2.826.0.1.19.{i}.{s}"
        shown = [x for x in true if seen[x.label][s]] + [_lesion(rng, f"{patient}-U{s}")]
        for n, lesion in enumerate(shown, start=1):
            data = measured(rng, lesion, modality, scale, shrink.get(s, 1.0))
            position = place(data, modality)
            assert position is not None
            found = PlacedFinding(
                patient, uid, when.strftime("%Y%m%d"), modality, f"f-{n}", data["kind"], position, "sim"
            )
            findings.append(found)
            truth[found.key] = lesion.label
    return Simulation(findings, truth)


def simulate_women(women: int, seed: int, noise_scale: float = 1.0) -> Simulation:
    """Placed findings of ``women`` simulated women and their truth (module docstring)."""
    findings: list[PlacedFinding] = []
    truth: dict[Key, str] = {}
    for i in range(women):
        one = _woman(np.random.default_rng([seed, i, 19]), i, noise_scale)
        findings += one.findings
        truth.update(one.truth)
    return Simulation(findings, truth)


def _pair(a: PlacedFinding, b: PlacedFinding) -> tuple[frozenset[Key], str]:
    return frozenset((a.key, b.key)), "-".join(sorted((a.modality, b.modality)))


def true_pairs(sim: Simulation) -> dict[frozenset[Key], str]:
    """Every cross-study pair of findings of one true lesion, with its modality pair."""
    by_label: dict[str, list[PlacedFinding]] = {}
    for f in sim.findings:
        by_label.setdefault(sim.truth[f.key], []).append(f)
    return dict(
        _pair(a, b)
        for group in by_label.values()
        for a, b in combinations(group, 2)
        if a.study_instance_uid != b.study_instance_uid
    )


@dataclass(frozen=True)
class Scores:
    """Precision and recall of direct links, per modality pair, and of lesion membership."""

    precision: float
    recall: float
    links: int
    true: int
    lesion_precision: float
    lesion_recall: float
    per_pair: dict[str, tuple[float, float, int, int]]


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def score(sim: Simulation, table: LesionTable) -> Scores:
    """Scores of ``table`` against the truth of ``sim``."""
    truth = true_pairs(sim)
    made = dict(_pair(x.a, x.b) for lesion in table.lesions for x in lesion.links)
    grouped = {
        _pair(a, b)[0]
        for lesion in table.lesions
        for a, b in combinations(lesion.findings, 2)
        if a.study_instance_uid != b.study_instance_uid
    }
    hits = set(made) & set(truth)
    per: dict[str, tuple[float, float, int, int]] = {}
    for name in sorted(set(truth.values()) | set(made.values())):
        m = {p for p, n in made.items() if n == name}
        t = {p for p, n in truth.items() if n == name}
        per[name] = (_ratio(len(m & t), len(m)), _ratio(len(m & t), len(t)), len(m), len(t))
    return Scores(
        precision=_ratio(len(hits), len(made)),
        recall=_ratio(len(hits), len(truth)),
        links=len(made),
        true=len(truth),
        lesion_precision=_ratio(len(grouped & set(truth)), len(grouped)),
        lesion_recall=_ratio(len(grouped & set(truth)), len(truth)),
        per_pair=per,
    )


def _lines(s: Scores, women: int, seed: int, scale: float) -> Iterable[str]:
    yield f"women {women}, seed {seed}, noise scale {scale:g}"
    yield f"direct links: precision {s.precision:.3f} ({s.links} links), recall {s.recall:.3f}"
    yield f"              ({s.true} true cross-study pairs)"
    yield f"lesion pairs: precision {s.lesion_precision:.3f}, recall {s.lesion_recall:.3f}"
    yield f"{'modalities':<10} {'precision':>9} {'recall':>7} {'links':>6} {'true':>6}"
    for name, (p, r, m, t) in s.per_pair.items():
        yield f"{name:<10} {p:>9.3f} {r:>7.3f} {m:>6} {t:>6}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--women", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise-scale", type=float, default=1.0, help="times the modelled noise")
    args = parser.parse_args(argv)
    sim = simulate_women(args.women, args.seed, args.noise_scale)
    result = score(sim, link(sim.findings))
    print("\n".join(_lines(result, args.women, args.seed, args.noise_scale)))
    kinds = Counter(f.modality for f in sim.findings)
    print("findings by modality:", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
