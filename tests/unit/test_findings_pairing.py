"""CC/MLO pairing of mammographic candidates (``breastgate.algorithms._cc_mlo`` through
``_findings.correlate``): one-to-one by the best total agreement of distance from the nipple, size
and score."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from breastgate.algorithms._cc_mlo import pair_margin
from breastgate.algorithms._findings import Candidate, _Detected, correlate
from breastgate.algorithms._nipple_frame import axis_offsets
from breastgate.domain.model import FindingKind, InstanceRef

NIPPLE = (200.0, 100.0)  # (column, row) on a 1 mm grid, chest wall on the left


@dataclass(frozen=True)
class View:
    """A 1 mm image of one view with the nipple at :data:`NIPPLE` and a horizontal nipple axis."""

    ref: InstanceRef
    laterality: str
    view: str

    def nipple_distance_mm(self, point: tuple[float, float]) -> float | None:
        return math.hypot(point[0] - NIPPLE[0], point[1] - NIPPLE[1])

    def chest_wall_depth_mm(self) -> float | None:
        return NIPPLE[0]

    def axis_offsets(self, point: tuple[float, float]) -> tuple[float, float] | None:
        return axis_offsets(point, NIPPLE, None, (1.0, 1.0), False)

    def patient_mm(self, point: tuple[float, float], frame: int | None) -> tuple[float, float, float] | None:
        return None

    def breast_offsets(self, point: tuple[float, float], frame: int | None) -> tuple[float, float] | None:
        return None


def view(name: str, side: str = "L") -> View:
    uid = f"1.2.3.{side}.{name}"
    return View(InstanceRef("1.2", "1.2.1", uid, "1.2.840.10008.5.1.4.1.1.1.2", "MG", ""), side, name)


def candidate(behind: float, across: float, score: float, size: float = 15.0) -> Candidate:
    """A candidate ``behind`` mm behind the nipple and ``across`` mm off its axis (rows grow +)."""
    point = (NIPPLE[0] - behind, NIPPLE[1] + across)
    box = (point[0] - size / 2, point[1] - size / 2, point[0] + size / 2, point[1] + size / 2)
    return Candidate(point=point, bbox=box, score=score, size_mm=size)


def pairs(cc: list[Candidate], mlo: list[Candidate]) -> set[tuple[int, int]]:
    """(CC index, MLO index) of every two-view finding."""
    found = correlate([_Detected(view("CC"), cc), _Detected(view("MLO"), mlo)], FindingKind.MASS)
    out = set()
    for f in found:
        if len(f.marks) == 2:
            i = next(
                k
                for k, c in enumerate(cc)
                if (round(c.point[0], 2), round(c.point[1], 2)) == f.marks[0].point
            )
            j = next(
                k
                for k, c in enumerate(mlo)
                if (round(c.point[0], 2), round(c.point[1], 2)) == f.marks[1].point
            )
            out.add((i, j))
    return out


def test_the_best_pairing_overall_not_the_strongest_pair_first() -> None:
    """Greedy by score paired the two strong candidates 10 mm apart and then the weak ones 11 mm
    apart; each strong candidate agrees with a weak one within 2 mm."""
    cc = [candidate(40.0, 5.0, 0.9), candidate(52.0, -5.0, 0.3)]
    mlo = [candidate(50.0, 0.0, 0.9), candidate(41.0, 0.0, 0.3)]
    assert pairs(cc, mlo) == {(0, 1), (1, 0)}


def test_a_strong_candidate_does_not_take_the_lesion_from_a_better_match() -> None:
    """A strong false candidate 11 mm off (inside the gate) against the true one 1 mm off and the
    same size."""
    cc = [candidate(40.0, 10.0, 0.5, size=20.0), candidate(51.0, -10.0, 0.6, size=8.0)]
    mlo = [candidate(40.0, 5.0, 0.5, size=20.0)]
    assert pairs(cc, mlo) == {(0, 0)}


def test_pairs_only_within_the_gate_and_one_to_one() -> None:
    cc = [candidate(30.0, 0.0, 0.8), candidate(90.0, 0.0, 0.8)]
    mlo = [candidate(60.0, 0.0, 0.8), candidate(31.0, 0.0, 0.8), candidate(32.0, 0.0, 0.8)]
    assert pairs(cc, mlo) == {(0, 1)}  # 60 mm is 30 mm from either CC candidate: not paired
    found = correlate([_Detected(view("CC"), cc), _Detected(view("MLO"), mlo)], FindingKind.MASS)
    assert sorted(len(f.marks) for f in found) == [1, 1, 1, 2]  # every candidate is one finding


def test_pair_margin_prefers_agreement_and_credibility() -> None:
    cc, mlo = view("CC"), view("MLO")
    base = pair_margin(
        (_Detected(cc, []), candidate(40.0, 0.0, 0.5)), (_Detected(mlo, []), candidate(40.0, 0.0, 0.5))
    )
    off = pair_margin(
        (_Detected(cc, []), candidate(40.0, 0.0, 0.5)), (_Detected(mlo, []), candidate(48.0, 0.0, 0.5))
    )
    weak = pair_margin(
        (_Detected(cc, []), candidate(40.0, 0.0, 0.1)), (_Detected(mlo, []), candidate(40.0, 0.0, 0.5))
    )
    sized = pair_margin(
        (_Detected(cc, []), candidate(40.0, 0.0, 0.5, size=10.0)),
        (_Detected(mlo, []), candidate(40.0, 0.0, 0.5, size=25.0)),
    )
    far = pair_margin(
        (_Detected(cc, []), candidate(40.0, 0.0, 0.5)), (_Detected(mlo, []), candidate(70.0, 0.0, 0.5))
    )
    assert base is not None and off is not None and weak is not None and sized is not None
    assert base > off > 0.0 and base > weak > 0.0 and base > sized > 0.0
    assert far is None
    assert pytest.approx(base) == pair_margin(
        (_Detected(cc, []), candidate(40.0, 0.0, 0.5)), (_Detected(mlo, []), candidate(40.0, 0.0, 0.5))
    )


def test_never_across_breasts() -> None:
    found = correlate(
        [
            _Detected(view("CC", "L"), [candidate(40.0, 0.0, 0.9)]),
            _Detected(view("MLO", "R"), [candidate(40.0, 0.0, 0.9)]),
        ],
        FindingKind.MASS,
    )
    assert sorted(len(f.marks) for f in found) == [1, 1]
