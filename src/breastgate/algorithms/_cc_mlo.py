"""Which CC candidate and which MLO candidate of one breast show the same lesion (reference
algorithms.md §7; used by :func:`breastgate.algorithms._findings.correlate`).

A CC and an MLO candidate may be one lesion when their distances from the nipple agree within
``max(CORRELATION_MM, CORRELATION_FRACTION · distance)`` (:func:`same_distance`). Among those, the
pairing is one-to-one and of most total :func:`pair_margin` (Hungarian,
``scipy.optimize.linear_sum_assignment``, :func:`assign_pairs`): the closer the two distances (sd
:data:`PAIR_SD_MM`) and sizes (log sd :data:`PAIR_LOG_SIZE_SD`) agree and the higher the two
scores, the larger the margin. Greedy by combined score (before) let a strong false candidate take
the lesion's other-view mark whenever it lay inside the gate.

Chosen on development phantom women (the detections of ``bench/mg_clock.py``'s women re-paired
offline, seeds 0-49; checked on 50-99). The distance from the nipple in the image (radial) paired
better than the distance behind the nipple along its axis: clock within 1 h for 32 vs 26 of 35
women with a finding on the true lesion (seeds 0-49; greedy by score on the radial distance, as
before: 30). The marks of the candidates lie several mm off the lesion's centre, and on the MLO the
slope of the nipple axis moves part of the offset across the axis into the distance along it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "CC_VIEWS",
    "CORRELATION_FRACTION",
    "CORRELATION_MM",
    "MLO_VIEWS",
    "PAIR_GATE_COST",
    "PAIR_LOG_SIZE_SD",
    "PAIR_MIN_MARGIN",
    "PAIR_SCORE_POWER",
    "PAIR_SD_MM",
    "assign_pairs",
    "pair_margin",
    "same_distance",
]

CC_VIEWS = frozenset({"CC", "XCCL", "XCCM", "FB"})
MLO_VIEWS = frozenset({"MLO", "ML", "LM", "LMO", "SIO"})
#: The gate: the two distances from the nipple within this many mm or this fraction of the larger.
CORRELATION_MM = 12.0
CORRELATION_FRACTION = 0.2
#: sd (mm) of the difference of the two views' distances from the nipple for one lesion.
PAIR_SD_MM = 5.0
#: sd of the difference of the two views' log sizes for one lesion.
PAIR_LOG_SIZE_SD = 0.6
#: The squared normalised difference at which a pair's margin runs out.
PAIR_GATE_COST = 9.0
#: The margin left to any pair inside the gate.
PAIR_MIN_MARGIN = 0.5
#: The margin is weighted by the geometric mean of the two scores to this power.
PAIR_SCORE_POWER = 0.5


class _View(Protocol):
    def nipple_distance_mm(self, point: tuple[float, float]) -> float | None: ...


class _Analysed(Protocol):
    @property
    def context(self) -> _View: ...


class _Candidate(Protocol):
    @property
    def point(self) -> tuple[float, float]: ...

    @property
    def score(self) -> float: ...

    @property
    def size_mm(self) -> float: ...


Item = tuple[_Analysed, _Candidate]


def same_distance(a: float, b: float) -> bool:
    """Whether two distances from the nipple (mm) agree within the gate."""
    return abs(a - b) <= max(CORRELATION_MM, CORRELATION_FRACTION * max(a, b))


def pair_margin(cc: Item, mlo: Item) -> float | None:
    """How much a CC and an MLO candidate look like one lesion (> 0), or None outside the gate:
    :data:`PAIR_GATE_COST` minus the squared normalised differences of the distances from the
    nipple and of the log sizes, at least :data:`PAIR_MIN_MARGIN`, times
    ``√(s_cc · s_mlo) ** PAIR_SCORE_POWER`` (a credible pair counts more)."""
    a = cc[0].context.nipple_distance_mm(cc[1].point)
    b = mlo[0].context.nipple_distance_mm(mlo[1].point)
    if a is None or b is None or not same_distance(a, b):
        return None
    cost = ((a - b) / PAIR_SD_MM) ** 2
    if cc[1].size_mm > 0 and mlo[1].size_mm > 0:
        cost += (math.log(cc[1].size_mm / mlo[1].size_mm) / PAIR_LOG_SIZE_SD) ** 2
    credible = math.pow(max(cc[1].score, 1e-6) * max(mlo[1].score, 1e-6), 0.5 * PAIR_SCORE_POWER)
    return max(PAIR_GATE_COST - cost, PAIR_MIN_MARGIN) * credible


def assign_pairs(ccs: Sequence[Item], mlos: Sequence[Item]) -> list[tuple[int, int]]:
    """(CC index, MLO index) of the one-to-one pairing of most total :func:`pair_margin`; a
    candidate with no partner inside the gate stays unpaired."""
    if not ccs or not mlos:
        return []
    margin = np.zeros((len(ccs), len(mlos)))
    for i, cc in enumerate(ccs):
        for j, mlo in enumerate(mlos):
            value = pair_margin(cc, mlo)
            if value is not None:
                margin[i, j] = value
    rows, cols = linear_sum_assignment(-margin)
    return [(i, j) for i, j in zip(rows.tolist(), cols.tolist(), strict=True) if margin[i, j] > 0.0]
