"""Positioning defects of phantom plans and their ground truth (no pixels rendered here)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from breastgate.phantoms import PhantomError
from breastgate.phantoms.plan import VIEWS, plan_study
from breastgate.phantoms.positioning import (
    DEFECTS,
    PECTORAL_GAP_MM,
    PNL_DIFFERENCE_MM,
    pnl_mm,
    positioning_truth,
)

EXPECTED = {
    "pectoral_short": "mlo_pectoral_to_pnl",
    "pnl_mismatch": "pnl_cc_mlo",
    "nipple_not_in_profile": "nipple_in_profile",
    "missing_view": "views_complete",
}
VENDORS = ("profile-a-70um", "profile-b-100um")


def test_legacy_plans_are_untouched() -> None:
    """defects=None is the legacy plan (density tests depend on its pixels)."""
    for seed in range(5):
        legacy = plan_study(seed)
        assert legacy == plan_study(seed, defects=None)
        assert legacy.defects == () and not legacy.controlled and legacy.defect_sites == {}
        assert all(s.nipple_shift == (0.0, 0.0) and s.pectoral_contrast == 0.85 for s in legacy.views)


def test_unknown_defect_is_refused() -> None:
    with pytest.raises(PhantomError, match="unknown positioning defect"):
        plan_study(1, defects=("crooked",))


def test_legacy_plans_positioning_rates() -> None:
    """Legacy plans: the muscle always reaches the PNL, but many CC/MLO PNLs differ by > 1 cm
    (why well-positioned studies need ``defects=()``)."""
    studies = 200
    mismatched = 0
    for seed in range(studies):
        truth = positioning_truth(plan_study(seed, vendor=VENDORS[seed % 2]))
        failing = set(truth["verdict"]["failing_checks"])
        assert "mlo_pectoral_to_pnl" not in failing
        mismatched += "pnl_cc_mlo" in failing
    print(f"legacy plans with CC/MLO PNL > 10 mm apart: {mismatched}/{studies}")
    assert mismatched > 0


@pytest.mark.parametrize("seed", range(60))
def test_clean_controlled_plans_are_well_positioned(seed: int) -> None:
    plan = plan_study(seed, vendor=VENDORS[seed % 2], defects=())
    truth = positioning_truth(plan)
    assert plan.controlled and plan.defects == ()
    assert truth["verdict"] == {"passed": True, "failing_checks": [], "failures": []}
    assert len(truth["images"]) == 4 and truth["missing_views"] == []
    for breast in truth["breasts"].values():
        assert breast["pnl_difference_mm"] <= PNL_DIFFERENCE_MM - 5
    for image in truth["images"]:
        assert image["nipple_in_profile"]
        if image["view"] == "MLO":
            assert image["pectoral_reaches_pnl"] and image["pectoral_gap_mm"] < PECTORAL_GAP_MM - 10


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_fails_exactly_its_check(defect: str) -> None:
    for seed in range(40):
        plan = plan_study(seed, vendor=VENDORS[seed % 2], defects=(defect,))
        truth = positioning_truth(plan)
        assert plan.defects == (defect,) and set(plan.defect_sites) == {defect}
        assert truth["verdict"]["passed"] is False
        assert truth["verdict"]["failing_checks"] == [EXPECTED[defect]], (seed, truth["verdict"])


def test_defect_sites_and_margins() -> None:
    for seed in range(30):
        short = positioning_truth(plan_study(seed, defects=("pectoral_short",)))
        lat = short["defect_sites"]["pectoral_short"][0]
        image = next(i for i in short["images"] if (i["laterality"], i["view"]) == (lat, "MLO"))
        assert 18.0 <= image["pectoral_gap_mm"] <= 32.0 and image["pectoral_reaches_pnl"] is False

        mismatch = positioning_truth(plan_study(seed, defects=("pnl_mismatch",)))
        lat = mismatch["defect_sites"]["pnl_mismatch"][0]
        assert 17.0 <= mismatch["breasts"][lat]["pnl_difference_mm"] <= 29.0

        missing = plan_study(seed, defects=("missing_view",))
        gone = missing.defect_sites["missing_view"]
        assert len(missing.views) == 3 and gone not in {(s.laterality, s.view) for s in missing.views}
        assert positioning_truth(missing)["missing_views"] == [f"{gone[0]} {gone[1]}"]


def test_a_defect_changes_only_its_site() -> None:
    """All random numbers are drawn up front: the clean study of a seed differs only at the defect."""
    for seed in range(10):
        clean = {(s.laterality, s.view): s for s in plan_study(seed, defects=()).views}
        plan = plan_study(seed, defects=("nipple_not_in_profile",))
        site = plan.defect_sites["nipple_not_in_profile"]
        for spec in plan.views:
            key = (spec.laterality, spec.view)
            if key == site:
                assert spec.nipple_shift[1] > spec.shape.nipple_radius_mm
                # Only the nipple and (the CC's PNL follows the MLO's) the CC depth differ.
                unshifted = replace(spec, nipple_shift=(0.0, 0.0), shape=clean[key].shape)
                assert unshifted == clean[key]
            elif key[0] != site[0] or site[1] == "CC":
                assert spec == clean[key]


def test_several_defects_at_once() -> None:
    plan = plan_study(3, defects=DEFECTS)
    truth = positioning_truth(plan)
    assert set(truth["verdict"]["failing_checks"]) == set(EXPECTED.values())
    assert len(plan.views) == 3


def test_pnl_definitions() -> None:
    """CC: nipple apex to the chest wall; MLO: perpendicular to the pectoral chord."""
    plan = plan_study(5, defects=())
    specs = {(s.laterality, s.view): s for s in plan.views}
    cc = specs[("L", "CC")]
    tip_r = 1.0 + sum(a * math.cos(p) for a, p in cc.shape.harmonics)
    assert pnl_mm(cc) == pytest.approx(cc.shape.depth_mm * tip_r + cc.shape.nipple_radius_mm)
    mlo = specs[("L", "MLO")]
    assert mlo.pectoral is not None
    width, height, _ = mlo.pectoral
    tip_r = 1.0 + sum(a * math.cos(p) for a, p in mlo.shape.harmonics)
    x = mlo.shape.depth_mm * tip_r
    y = mlo.shape.centre_mm + mlo.shape.droop * x
    # Distance from (x, y) to the line through (width, 0) and (0, height), plus the nipple radius.
    expected = (x * height + y * width - width * height) / math.hypot(width, height)
    assert pnl_mm(mlo) == pytest.approx(expected + mlo.shape.nipple_radius_mm)
    assert [(s.laterality, s.view) for s in plan.views] == list(VIEWS)
