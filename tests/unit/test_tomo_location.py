"""A finding seen on one view of a tomosynthesis volume is placed from its frame (issue 19:
tomosynthesis from its frame), in the phantom's patient-coordinate convention."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from breastgate.algorithms._nipple_frame import DECOMPRESSION, clock_position, decompression, volume_offsets
from breastgate.algorithms._tomo import VolumeContext
from breastgate.domain.model import InstanceRef
from breastgate.imaging.frames import FramePlane
from breastgate.phantoms.dbt_headers import orientation

FRAMES, SLICE_MM, PX = 40, 1.0, 0.5
NIPPLE = (20.0, 100.0)  # (column, row) on a 200 x 200 frame


def volume(laterality: str, view: str, *, flipped: bool, half_width: float = 60.0) -> VolumeContext:
    """Frames as the DBT phantom places them: frame f at height (f - 0.5) mm along 'up'."""
    row, col, up = orientation(laterality, view)
    planes = tuple(
        FramePlane(
            tuple(float(v) for v in (f - 0.5) * SLICE_MM * up),  # type: ignore[arg-type]
            tuple(float(v) for v in row),  # type: ignore[arg-type]
            tuple(float(v) for v in col),  # type: ignore[arg-type]
            (PX, PX),
        )
        for f in range(1, FRAMES + 1)
    )
    nipple = (200.0 - NIPPLE[0], NIPPLE[1]) if flipped else NIPPLE
    ref = InstanceRef("1.2", "1.2.3", "1.2.3.4", "/dev/null", "MG", laterality, view)
    return VolumeContext(
        ref, laterality, view, (PX, PX), 200, nipple, flipped, FRAMES, 13, planes, None, half_width
    )


def test_decompression_is_the_ratio_of_a_round_breast_to_its_compressed_half_thickness() -> None:
    assert decompression(60.0, 40.0) == pytest.approx(math.sqrt(3.0))
    assert decompression(None, 40.0) == DECOMPRESSION[0]
    assert decompression(500.0, 10.0) == DECOMPRESSION[1]


def test_a_right_cc_mass_above_the_middle_frame_is_at_12_and_one_medial_on_its_row_at_3() -> None:
    cc = volume("R", "CC", flipped=True)
    k = decompression(60.0, FRAMES * SLICE_MM)
    ahead = (200.0 - NIPPLE[0] - 60.0, NIPPLE[1])  # 30 mm behind the nipple, on its row
    medial, superior = cc.breast_offsets(ahead, 35) or (math.nan, math.nan)
    assert medial == pytest.approx(0.0, abs=1e-6) and superior == pytest.approx(
        k * 14.5
    )  # frame 35: 34.5 mm, middle 20 mm
    assert clock_position("R", medial, superior)[0] == 12
    below = (ahead[0], NIPPLE[1] + 40.0)  # rows grow medially on the CC: 20 mm medial
    medial, superior = cc.breast_offsets(below, 20) or (math.nan, math.nan)
    assert medial == pytest.approx(20.0) and superior == pytest.approx(-0.5 * k)
    assert clock_position("R", medial, superior)[0] == 3
    low = cc.breast_offsets(ahead, 6) or (math.nan, math.nan)
    assert clock_position("R", *low)[0] == 6


def test_a_left_mlo_mass_high_in_the_stack_on_the_nipple_row_is_upper_inner() -> None:
    mlo = volume("L", "MLO", flipped=False)
    medial, superior = mlo.breast_offsets((NIPPLE[0] + 60.0, NIPPLE[1]), 35) or (math.nan, math.nan)
    assert medial > 0 and superior > 0 and medial == pytest.approx(superior)
    hour, quadrant = clock_position("L", medial, superior)
    assert (hour, quadrant) in ((10, "UIQ"), (11, "UIQ"))
    # Image-up is superolateral on the MLO: below the nipple row in the middle frame is inferior.
    medial, superior = mlo.breast_offsets((NIPPLE[0] + 60.0, NIPPLE[1] + 40.0), 20) or (math.nan, math.nan)
    assert superior < 0


def test_without_planes_or_nipple_a_volume_view_places_nothing() -> None:
    cc = volume("R", "CC", flipped=True)
    assert replace(cc, planes=()).breast_offsets((100.0, 100.0), 10) is None
    assert replace(cc, nipple=None).breast_offsets((100.0, 100.0), 10) is None
    assert cc.breast_offsets((100.0, 100.0), None) is None


def test_volume_offsets_read_lps() -> None:
    # Right breast: +x (towards the patient's left) is medial; left breast: -x is medial; +z superior.
    assert volume_offsets("R", 10.0, (1.0, 0.0, 0.0), 0.0, (0.0, 0.0, 1.0), 1.0) == (10.0, 0.0)
    assert volume_offsets("L", 10.0, (1.0, 0.0, 0.0), 5.0, (0.0, 0.0, 1.0), 2.0) == (-10.0, 10.0)
