"""Orthogonal views of one lesion on two separate ultrasound images (issue 19): which images show
one spot (same side, clock within 1 h, distance within 1 cm, orthogonal planes; never an unknown
one), which of their lesions are one lesion (depth and size), and the reader joining them into one
finding with three diameters on phantom pairs. The reader tests need Tesseract (make test
installs it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from breastgate.algorithms._us_lesions import UsLesion
from breastgate.algorithms._us_views import Seen, Track, match_views, plane_order, same_spot
from breastgate.domain.model import Mark
from breastgate.imaging.us_annotation import UsLocation
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.us import UsLesionRequest, generate_us_study
from tests.unit.test_ultrasound import _run

LESION = UsLesionRequest(
    width_mm=14.0, depth_mm=8.0, elevation_mm=10.0, shape="oval", margin_detail="circumscribed"
)


def _at(side: str | None, clock: int | None, cm: float | None, plane: str | None) -> UsLocation:
    return UsLocation(
        laterality=side,
        clock=clock,
        clock_hours=None if clock is None else float(clock),
        distance_from_nipple_mm=None if cm is None else cm * 10,
        plane=plane,
    )


RAD = _at("R", 10, 3, "radial")


@pytest.mark.parametrize(
    ("other", "sides", "same"),
    [
        (_at("R", 10, 3, "antiradial"), ("R", "R"), True),
        (_at("R", 11, 4, "antiradial"), ("R", "R"), True),  # 1 h and 1 cm apart: still one spot
        (_at("R", 12, 3, "antiradial"), ("R", "R"), False),  # 2 h apart
        (_at("R", 10, 4.5, "antiradial"), ("R", "R"), False),  # 15 mm apart
        (_at("R", 10, 3, "radial"), ("R", "R"), False),  # the same plane twice
        (_at("R", 10, 3, "sagittal"), ("R", "R"), False),  # not orthogonal to radial
        (_at("R", 10, 3, None), ("R", "R"), False),  # plane unknown
        (_at("R", None, 3, "antiradial"), ("R", "R"), False),  # clock unknown
        (_at("R", 10, None, "antiradial"), ("R", "R"), False),  # distance unknown
        (_at("L", 10, 3, "antiradial"), ("R", "L"), False),  # the other breast
        (_at(None, 10, 3, "antiradial"), ("R", None), False),  # side unknown
        (_at("L", 10, 3, "antiradial"), ("R", "R"), False),  # the annotation says the other side
        (None, ("R", "R"), False),  # location unknown
    ],
)
def test_one_spot_needs_side_clock_distance_and_orthogonal_planes(
    other: UsLocation | None, sides: tuple[str | None, str | None], same: bool
) -> None:
    assert same_spot(RAD, other, sides) is same
    assert same_spot(other, RAD, (sides[1], sides[0])) is same


def test_the_clock_wraps_at_twelve() -> None:
    twelve = _at("L", 12, 2, "transverse")
    assert same_spot(twelve, _at("L", 1, 2, "sagittal"), ("L", "L"))
    assert same_spot(_at("L", 11, 2, "sagittal"), twelve, ("L", "L"))
    assert not same_spot(twelve, _at("L", 2, 2, "sagittal"), ("L", "L"))


def test_plane_order() -> None:
    assert plane_order("radial", "antiradial") == 0
    assert plane_order("antiradial", "radial") == 1
    assert plane_order("sagittal", "transverse") == 1
    assert plane_order("radial", "transverse") is None
    assert plane_order(None, "radial") is None


def _track(depth_row: float, depth_px: float, score: float = 0.9) -> Track:
    """A detection centred ``depth_row`` pixels below the skin, ``depth_px`` tall, at 0.1 mm/px."""
    lesion = UsLesion(
        mask=np.ones((2, 2), dtype=bool),
        score=score,
        malignancy=0.1,
        centre=(50.0, depth_row),
        bbox=(40, 40, 60, 60),
        width_px=100.0,
        depth_px=depth_px,
        axis_line=((0.0, 0.0), (1.0, 0.0)),
        depth_line=((0.0, 0.0), (0.0, 1.0)),
        descriptors={},
    )
    return Track([Seen("1.2.3", None, 0, (0, 0), lesion, (0.1, 0.1))])


def test_views_match_by_depth_and_size_each_lesion_once() -> None:
    shallow, deep = _track(100, 80), _track(300, 60)
    shallow_2, deep_2, huge = _track(120, 70), _track(290, 65), _track(200, 300)
    pairs = match_views([shallow, deep], [deep_2, huge, shallow_2])
    assert {(id(a), id(b)) for a, b in pairs} == {(id(shallow), id(shallow_2)), (id(deep), id(deep_2))}
    # 9 mm deeper (more than 8 mm), or twice the depth diameter: another lesion
    assert match_views([shallow], [_track(190, 80)]) == []
    assert match_views([shallow], [_track(100, 170)]) == []
    # two candidates for one lesion: the closer in depth wins, the other stays alone
    (pair,) = match_views([shallow], [_track(150, 80), _track(105, 80)])
    assert depth_of(pair[1]) == pytest.approx(10.5)


def depth_of(item: Track) -> float:
    return item.key.lesion.centre[1] * 0.1


def test_the_phantom_shows_one_lesion_in_two_orthogonal_images() -> None:
    us = generate_us_study(
        51, images=3, orthogonal=True, location="structured", overlays=False, lesions=[LESION]
    )
    (pair,) = us.truth["orthogonal_pairs"]
    first, second = us.truth["images"][:2]
    assert pair["images"] == [first["sop_instance_uid"], second["sop_instance_uid"]]
    assert plane_order(*pair["planes"]) is not None and pair["planes_readable"]
    assert pair["diameters_mm"] == {"width": 14.0, "elevation": 10.0, "depth": 8.0}
    (a,), (b,) = first["lesions"], second["lesions"]
    assert a["id"] == b["id"] == pair["lesion"]
    assert (a["view"], b["view"]) == ("width", "elevation")
    assert (a["width_mm"], b["width_mm"]) == (14.0, 10.0)
    assert a["depth_from_skin_mm"] == b["depth_from_skin_mm"]
    assert first["location"]["clock"] == second["location"]["clock"]
    for image, ds in zip(us.truth["images"][:2], us.datasets[:2], strict=True):
        assert ds.ImageComments == image["location"]["text"]
        assert ds.ImageComments.endswith(" RAD" if image["location"]["plane"] == "radial" else " ARAD")
    third = us.truth["images"][2]
    assert all(les["id"] != pair["lesion"] for les in third["lesions"])
    with pytest.raises(PhantomError):
        generate_us_study(51, images=1, orthogonal=True)
    unreadable = generate_us_study(51, images=2, orthogonal=True, location="text", style="caps_clock")
    assert not unreadable.truth["orthogonal_pairs"][0]["planes_readable"]


@pytest.mark.parametrize(
    ("seed", "location", "style"), [(51, "structured", None), (52, "text", "hours_plane")]
)
def test_orthogonal_images_give_one_finding_with_three_diameters(
    tmp_path: Path, seed: int, location: str, style: str | None
) -> None:
    us = generate_us_study(
        seed, images=2, orthogonal=True, location=location, style=style, overlays=False, lesions=[LESION]
    )
    (pair,) = us.truth["orthogonal_pairs"]
    result = _run(us, tmp_path)
    paired = [f for f in result.findings if len(f.marks) == 2]
    (finding,) = paired
    assert {m.sop_instance_uid for m in finding.marks} == set(pair["images"])
    assert finding.diameters_mm == pytest.approx((14.0, 10.0, 8.0), abs=1.5)
    assert (
        finding.location is not None and finding.location.clock == us.truth["images"][0]["location"]["clock"]
    )
    assert (finding.attributes["plane"], finding.attributes["plane_2"]) in (
        ("radial", "antiradial"),
        ("transverse", "sagittal"),
    )
    # the lesion is not also reported alone on either image
    for mark in finding.marks:
        alone = [f for f in result.findings if len(f.marks) == 1 and _overlap(f.marks[0], mark)]
        assert alone == [], alone


def _overlap(a: Mark, b: Mark) -> bool:
    """``a``'s centre lies inside ``b``'s box on the same image."""
    assert b.bbox is not None
    (col, row), (c0, r0, c1, r1) = a.point, b.bbox
    return a.sop_instance_uid == b.sop_instance_uid and c0 <= col <= c1 and r0 <= row <= r1


@pytest.mark.parametrize(("location", "style"), [("none", None), ("text", "caps_clock")])
def test_images_of_unknown_location_or_plane_are_never_paired(
    tmp_path: Path, location: str, style: str | None
) -> None:
    us = generate_us_study(
        51, images=2, orthogonal=True, location=location, style=style, overlays=False, lesions=[LESION]
    )
    result = _run(us, tmp_path)
    assert result.findings or location == "none"
    assert all(len(f.marks) == 1 for f in result.findings)
