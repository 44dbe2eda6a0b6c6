"""breastgate.algorithms.correlation: placing findings in the breast frame and linking them across
studies (issue 19)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from bench.correlation_links import score, simulate_women

from breastgate.algorithms._correlation_groups import refine
from breastgate.algorithms._correlation_place import BREAST_TOMOSYNTHESIS, ROUNDING_SD_H
from breastgate.algorithms.correlation import (
    MAX_NORMALISED_DISTANCE,
    SCORE_GATE_FLOOR,
    UNCERTAINTY,
    BreastPosition,
    LesionTable,
    PlacedFinding,
    evidence,
    link,
    modality_of,
    place,
    score_gate,
    why_unplaced,
)

KIND = {"MG": "mass", "DBT": "mass", "US": "us_lesion", "MR": "enhancing_lesion"}


def finding(
    clock: float | None,
    distance: float | None,
    size: float | None = 12.0,
    *,
    side: str = "L",
    kind: str = "mass",
    **attributes: float,
) -> dict[str, Any]:
    """A results-JSON finding (DESIGN §4) with the fields placing reads."""
    return {
        "id": "f",
        "kind": kind,
        "laterality": side,
        "size_mm": size,
        "location": {"clock": clock, "distance_from_nipple_mm": distance, "depth": "middle"},
        "attributes": attributes,
        "marks": [],
    }


def placed(
    study: str,
    fid: str,
    modality: str,
    clock: float,
    distance: float,
    size: float = 12.0,
    *,
    side: str = "L",
    patient: str = "P1",
    day: str = "20250106",
    score: float | None = None,
) -> PlacedFinding:
    data = finding(clock, distance, size, side=side, kind=KIND[modality])
    if score is not None:
        data["score"] = score
    position = place(data, modality)
    assert position is not None
    return PlacedFinding(patient, study, day, modality, fid, KIND[modality], position, "algo")


def lesion_keys(table: LesionTable) -> list[set[str]]:
    return [{f"{f.study_instance_uid}/{f.finding_id}" for f in lesion.findings} for lesion in table.lesions]


# placing ---------------------------------------------------------------------------------------


def test_each_modality_is_placed_with_its_own_uncertainty() -> None:
    mg = place(finding(10, 40.0), "MG")
    us = place(finding(10, 40.0, kind="us_lesion"), "US")
    mr = place(finding(10, 40.0, kind="enhancing_lesion", clock_hours=10.4), "MRI")
    assert mg is not None and us is not None and mr is not None
    assert (mg.modality, us.modality, mr.modality) == ("MG", "US", "MR")
    # a whole-hour clock adds the rounding error; MRI's unrounded clock does not
    assert mg.sigma_clock_h == pytest.approx(math.hypot(UNCERTAINTY["MG"].clock_h, ROUNDING_SD_H))
    assert mr.sigma_clock_h == pytest.approx(UNCERTAINTY["MR"].clock_h) and mr.clock == pytest.approx(10.4)
    assert mr.sigma_clock_h < us.sigma_clock_h < mg.sigma_clock_h
    assert mr.sigma_distance_mm < us.sigma_distance_mm < mg.sigma_distance_mm
    mg_far = place(finding(10, 80.0), "MG")
    assert mg_far is not None and mg_far.sigma_distance_mm > mg.sigma_distance_mm  # relative error
    assert mg.depth == "middle" and mg.size_mm == 12.0 and mg.laterality == "L"


def test_coronal_point_follows_the_clock_facing_the_patient() -> None:
    def xy(clock: float) -> tuple[float, float]:
        position = place(finding(clock, 50.0), "MR")
        assert position is not None
        return position.xy

    assert xy(12) == pytest.approx((0.0, 50.0), abs=1e-9)  # 12 o'clock is 0 h: up
    assert xy(3) == pytest.approx((50.0, 0.0), abs=1e-9)  # viewer's right
    assert xy(6) == pytest.approx((0.0, -50.0), abs=1e-9)
    assert xy(9) == pytest.approx((-50.0, 0.0), abs=1e-9)


def test_unplaceable_findings_say_why() -> None:
    assert "one view" in (why_unplaced(finding(None, 40.0), "MG") or "")
    assert "distance" in (why_unplaced(finding(3, None), "US") or "")
    assert "laterality" in (why_unplaced(finding(3, 40.0, side="B"), "MG") or "")
    assert "modality" in (why_unplaced(finding(3, 40.0), "CT") or "")
    assert why_unplaced({"laterality": "L", "kind": "mass"}, "MG") == "no location"
    assert place(finding(None, 40.0), "MG") is None
    assert why_unplaced(finding(3, 40.0), "MG") is None


def test_modality_of_a_finding() -> None:
    assert modality_of(finding(1, 1, kind="us_lesion")) == "US"
    assert modality_of(finding(1, 1, kind="enhancing_lesion")) == "MR"
    assert modality_of(finding(1, 1), {"MG", "SR"}) == "MG"
    dbt = {**finding(1, 1), "marks": [{"sop_class_uid": BREAST_TOMOSYNTHESIS}]}
    assert modality_of(dbt, {"MG"}) == "DBT"
    assert modality_of(finding(1, 1, kind="mass"), {"US"}) == "US"  # an engine's mass on ultrasound


def test_compare_normalises_by_both_uncertainties() -> None:
    mr = place(finding(10, 50.0, kind="enhancing_lesion"), "MR")
    mg = place(finding(10, 50.0), "MG")
    mr_off = place(finding(11, 50.0, kind="enhancing_lesion"), "MR")
    mg_off = place(finding(11, 50.0), "MG")
    assert mr is not None and mg is not None and mr_off is not None and mg_off is not None
    exact = mr.compare(mg)
    assert exact.frame_distance_mm == pytest.approx(0.0, abs=1e-9) and exact.normalised_distance == 0.0
    # one hour apart at 50 mm is ~26 mm either way, but far fewer sd for the mammogram's clock
    assert mr.compare(mr_off).frame_distance_mm == pytest.approx(2 * 50 * math.sin(math.pi / 12))
    assert mr.compare(mr_off).normalised_distance > 2 * mg.compare(mg_off).normalised_distance
    assert exact.size_ratio == 1.0


# linking ---------------------------------------------------------------------------------------


def three_modalities() -> list[PlacedFinding]:
    """One lesion (L 10 o'clock, ~45 mm, ~14 mm) on MG, US and MR, and an unrelated lesion in each."""
    return [
        placed("mg", "mass-1", "MG", 10, 48.0, 15.0),
        placed("mg", "mass-2", "MG", 4, 70.0, 25.0),  # unrelated: other clock, size
        placed("us", "us-1", "US", 10, 40.0, 13.0, day="20250110"),
        placed("us", "us-2", "US", 6, 20.0, 6.0, day="20250110"),  # unrelated: other place, small
        placed("mr", "kinetics-1", "MR", 10, 44.0, 14.0, day="20250120"),
        placed("mr", "kinetics-2", "MR", 1, 75.0, 9.0, day="20250120"),  # unrelated
    ]


def test_one_lesion_is_linked_across_mammography_ultrasound_and_mri() -> None:
    table = link(three_modalities())
    groups = lesion_keys(table)
    assert {"mg/mass-1", "us/us-1", "mr/kinetics-1"} in groups
    for unrelated in ("mg/mass-2", "us/us-2", "mr/kinetics-2"):
        assert {unrelated} in groups
    assert len(groups) == 4
    lesion = next(x for x in table.lesions if len(x.findings) == 3)
    assert lesion.laterality == "L" and [f.modality for f in lesion.findings] == ["MG", "US", "MR"]
    assert len(lesion.links) == 3  # every study pair agrees
    mg = lesion.findings[0]
    assert table.correlated_with(mg) == ("us/us-1", "mr/kinetics-1")


def test_links_carry_their_evidence() -> None:
    table = link(three_modalities())
    lesion = next(x for x in table.lesions if len(x.findings) == 3)
    for item in lesion.links:
        e = item.evidence
        assert e.normalised_distance <= MAX_NORMALISED_DISTANCE and e.frame_distance_mm > 0
        assert e.size_ratio is not None and e.size_ratio >= 1.0 and e.size_z is not None
        assert set(e.modalities) <= {"MG", "US", "MR"} and e.modalities[0] != e.modalities[1]
        assert set(e.kinds) <= {"mass", "us_lesion", "enhancing_lesion"}
        assert e.days_apart in (4, 10, 14)
        assert e.cost == pytest.approx(e.normalised_distance**2 + e.size_z**2)
        assert item.a.study_date is not None and item.b.study_date is not None
        assert item.a.study_date <= item.b.study_date  # the earlier study first


def test_never_across_breasts_patients_or_unknown_patients() -> None:
    same_place = [
        placed("a", "1", "MG", 10, 40.0),
        placed("b", "1", "US", 10, 40.0, side="R"),  # other breast
        placed("c", "1", "US", 10, 40.0, patient="P2"),  # other woman
        placed("d", "1", "MR", 10, 40.0, patient=""),  # woman unknown
        placed("e", "1", "MR", 10, 40.0, patient=""),
    ]
    groups = lesion_keys(link(same_place))
    assert sorted(len(g) for g in groups) == [1, 1, 1, 1, 1]


def test_findings_of_one_study_are_never_linked_to_each_other() -> None:
    table = link([placed("a", "1", "MG", 10, 40.0), placed("a", "2", "MG", 10, 41.0)])
    assert all(len(x.findings) == 1 for x in table.lesions)


def test_one_to_one_per_study_pair_and_never_two_of_one_study_in_a_lesion() -> None:
    # two MG findings near one US finding: only the closer one is linked
    table = link(
        [
            placed("mg", "near", "MG", 10, 40.0, 12.0),
            placed("mg", "close", "MG", 9, 44.0, 12.0),
            placed("us", "us", "US", 10, 40.0, 12.0),
        ]
    )
    assert {"mg/near", "us/us"} in lesion_keys(table) and {"mg/close"} in lesion_keys(table)
    # a chain a1 - b - a2 through a third study: a1 and a2 never end in one lesion
    chain = link(
        [
            placed("a", "1", "MR", 10, 40.0),
            placed("b", "1", "MG", 10, 50.0),
            placed("c", "1", "MR", 10, 62.0),
            placed("c", "2", "MR", 10, 41.0),
        ]
    )
    for lesion in chain.lesions:
        studies = [f.study_instance_uid for f in lesion.findings]
        assert len(studies) == len(set(studies))
    assert {"a/1", "b/1", "c/2"} in lesion_keys(chain)


def us_false_positive_on_the_lesion_image() -> list[PlacedFinding]:
    """Phantom woman 7's pattern: MG, US and MR see one lesion; the US image holding it also
    shows a weak false positive, so both US findings carry the image's clock and distance. By
    size the false positive fits the MR finding better than the US lesion does."""
    return [
        placed("mg", "mass-1", "MG", 10.6, 46.0, 23.0, score=0.92),
        placed("us", "us-1", "US", 10, 40.0, 24.0, score=0.93, day="20250113"),
        placed("us", "us-2", "US", 10, 40.0, 16.0, score=0.23, day="20250113"),
        placed("mr", "kinetics-1", "MR", 10, 46.0, 15.6, score=0.8, day="20250127"),
    ]


def test_three_studies_that_agree_form_one_lesion() -> None:
    """Study pairs assigned one at a time gave MG + US lesion and US false positive + MR: the
    lesion split in two. The refinement keeps the three findings that agree together."""
    findings = us_false_positive_on_the_lesion_image()
    _, us, fp, mr = findings
    assert evidence(fp, mr).cost < evidence(us, mr).cost  # the pairwise choice alone is wrong
    table = link(findings)
    assert {"mg/mass-1", "us/us-1", "mr/kinetics-1"} in lesion_keys(table)
    assert {"us/us-2"} in lesion_keys(table)
    lesion = table.lesion_of(mr)
    assert lesion is not None and len(lesion.links) >= 2
    inside = {f.key for f in lesion.findings}
    assert all(x.a.key in inside and x.b.key in inside for x in lesion.links)
    # two studies alone: the assignment stands (the false positive's size fits the MR finding)
    assert {"us/us-2", "mr/kinetics-1"} in lesion_keys(link([us, fp, mr]))


def test_refine_moves_a_finding_only_when_the_summed_margin_rises() -> None:
    findings = us_false_positive_on_the_lesion_image()
    mg, us, fp, mr = findings
    weights = {frozenset((mg.key, us.key)): 0.9, frozenset((fp.key, mr.key)): 0.9}
    weights |= {frozenset((mg.key, mr.key)): 0.8, frozenset((us.key, mr.key)): 0.5}

    def margin(a: PlacedFinding, b: PlacedFinding) -> float:
        return weights.get(frozenset((a.key, b.key)), 0.0)

    def ids(groups: list[list[PlacedFinding]]) -> list[list[str]]:
        return sorted(sorted(f.finding_id for f in g) for g in groups)

    assert ids(refine([[mg, us], [fp, mr]], margin)) == [["kinetics-1", "mass-1", "us-1"], ["us-2"]]
    weights[frozenset((mg.key, mr.key))] = 0.0  # MR agrees with the US lesion only, less well
    assert ids(refine([[mg, us], [fp, mr]], margin)) == [["kinetics-1", "us-2"], ["mass-1", "us-1"]]
    # a group no compatible pair holds together is split
    assert sorted(len(g) for g in refine([[mg, fp]], margin)) == [1, 1]


def test_sizes_must_agree_more_loosely_over_time() -> None:
    small, big = placed("a", "1", "MR", 10, 40.0, 8.0), placed("b", "1", "MR", 10, 40.0, 26.0)
    assert all(len(x.findings) == 1 for x in link([small, big]).lesions)  # same day: no
    prior = placed("a", "1", "MR", 10, 40.0, 8.0, day="20230101")
    table = link([prior, big])  # two years of growth: yes
    assert len(table.lesions) == 1
    assert table.lesions[0].links[0].evidence.days_apart == 736


def test_other_clock_or_distance_is_not_the_same_lesion() -> None:
    base = placed("a", "1", "MR", 10, 50.0)
    assert len(link([base, placed("b", "1", "US", 4, 50.0)]).lesions) == 2  # opposite clock
    assert len(link([base, placed("b", "1", "US", 10, 120.0)]).lesions) == 2  # over twice as far
    assert len(link([base, placed("b", "1", "US", 10, 50.0, 40.0)]).lesions) == 2  # 12 vs 40 mm
    assert len(link([base, placed("b", "1", "US", 10, 50.0)]).lesions) == 1


def test_a_weak_finding_must_agree_more_tightly() -> None:
    """A pair well inside the gate but not close: linked when both findings are credible, not when
    one is a weak candidate (most weak mammographic findings are false positives)."""
    us = placed("us", "1", "US", 10, 50.0, score=0.9, day="20250110")
    strong, weak, unscored = (placed("mg", "1", "MG", 8, 50.0, score=s) for s in (0.9, 0.15, None))
    e = evidence(strong, us)
    assert 0.6 * MAX_NORMALISED_DISTANCE < e.normalised_distance < MAX_NORMALISED_DISTANCE
    assert score_gate(strong.position, us.position) == 1.0
    assert score_gate(weak.position, us.position) < 0.6
    assert len(link([strong, us]).lesions) == 1
    assert len(link([weak, us]).lesions) == 2
    assert len(link([unscored, us]).lesions) == 1  # no score: the gate as it was
    # at the same place even a weak finding links
    assert len(link([placed("mg", "1", "MG", 10, 50.0, score=0.15), us]).lesions) == 1
    # the gate scale never falls below its floor
    assert score_gate(placed("mg", "1", "MG", 10, 50.0, score=0.0).position, us.position) >= SCORE_GATE_FLOOR


def test_place_keeps_a_probability_score_only() -> None:
    assert place({**finding(10, 40.0), "score": 0.42}, "MG").score == 0.42  # type: ignore[union-attr]
    for bad in (1.7, -0.1, "high", None, True):
        assert place({**finding(10, 40.0), "score": bad}, "MG").score is None  # type: ignore[union-attr]


def test_positions_are_frozen_values() -> None:
    position = place(finding(10, 40.0), "MG")
    assert isinstance(position, BreastPosition)
    with pytest.raises(AttributeError):
        position.clock = 3.0  # type: ignore[misc]


# simulated women (bench/correlation_links.py) ---------------------------------------------------


def test_simulated_women_are_linked_with_high_precision_and_recall() -> None:
    """At the modelled noise the two are about 0.8-0.9 (bench seed 0: 0.88 / 0.88); with a quarter
    of the noise recall is near 1 while the gates keep out most unrelated lesions."""
    sim = simulate_women(80, seed=3)
    result = score(sim, link(sim.findings))
    assert result.true > 150
    assert result.precision >= 0.75 and result.recall >= 0.75
    assert result.lesion_precision >= 0.75 and result.lesion_recall >= 0.75
    quiet = simulate_women(80, seed=3, noise_scale=0.25)
    result = score(quiet, link(quiet.findings))
    assert result.recall >= 0.95 and result.precision >= 0.85


def test_the_simulation_never_links_across_women() -> None:
    sim = simulate_women(30, seed=4)
    for lesion in link(sim.findings).lesions:
        assert len({f.patient_id for f in lesion.findings}) == 1
        assert len({f.position.laterality for f in lesion.findings}) == 1
