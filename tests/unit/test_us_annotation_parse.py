"""Parse rules of the ultrasound location annotation (issue 19): spellings -> side, clock, distance."""

from __future__ import annotations

import pytest

from breastgate.imaging.us_annotation import UsLocation, normalise, parse_annotation, parse_structured

# (text, laterality, clock, distance_from_nipple_mm, plane)
SPELLINGS: list[tuple[str, str | None, int | None, float | None, str | None]] = [
    # the phantom's styles
    ("RT BREAST 10:00 3 CM FN", "R", 10, 30.0, None),
    ("L 2 o'clock 4cmFN", "L", 2, 40.0, None),
    ("LT BR 2:00 4CM FN RAD", "L", 2, 40.0, "radial"),
    ("RIGHT 10 OCLOCK 3CM FROM NIPPLE", "R", 10, 30.0, None),
    ("LEFT BREAST 2 H 4 CMFN ARAD", "L", 2, 40.0, "antiradial"),
    # sides
    ("R 9:00 2CM FN", "R", 9, 20.0, None),
    ("RBR 11:00 5 CM FN", "R", 11, 50.0, None),
    ("LBR 4:00 1 CM FN TRANS", "L", 4, 10.0, "transverse"),
    ("RT BR 8:00 6CMFN", "R", 8, 60.0, None),
    ("LEFT BREAST 3:00 2 cm from nipple SAG", "L", 3, 20.0, "sagittal"),
    ("right breast 7 o'clock 3 cm fn", "R", 7, 30.0, None),
    ("Lt 5:00 FN 3CM", "L", 5, 30.0, None),
    ("RT10:00 3CMFN", "R", 10, 30.0, None),
    ("L. 1:00 2 CM FN", "L", 1, 20.0, None),
    # clock spellings
    ("RT 10 O'CLOCK 3 CM FN", "R", 10, 30.0, None),
    ("RT 10 O CLOCK 3 CM FN", "R", 10, 30.0, None),
    ("RT 10OCLOCK 3CMFN", "R", 10, 30.0, None),
    ("LT 2 oclock 4 cm fn", "L", 2, 40.0, None),
    ("LT 2 HR 4CM FN", "L", 2, 40.0, None),
    ("LT 2HRS 4CM FN", "L", 2, 40.0, None),
    ("LT 2H 4CM FN", "L", 2, 40.0, None),
    ("LT 12:00 4CM FN", "L", 12, 40.0, None),
    ("LT 0:00 4CM FN", "L", 12, 40.0, None),
    ("RT 10:30 3CM FN", "R", 11, 30.0, None),
    ("RT 10:15 3CM FN", "R", 10, 30.0, None),
    ("RT 11:30 3CM FN", "R", 12, 30.0, None),
    ("RT 12:30 3CM FN", "R", 1, 30.0, None),
    ("R 10 3CM FN", "R", 10, 30.0, None),
    ("RIGHT BREAST 10 3 CM FN", "R", 10, 30.0, None),
    ("RT 10.00 3CM FN", "R", 10, 30.0, None),
    # distance spellings
    ("RT 10:00 30 MM FN", "R", 10, 30.0, None),
    ("RT 10:00 30MMFN", "R", 10, 30.0, None),
    ("RT 10:00 N+3", "R", 10, 30.0, None),
    ("RT 10:00 N + 3 CM", "R", 10, 30.0, None),
    ("RT 10:00 FN 3", "R", 10, 30.0, None),
    ("RT 10:00 FN: 3 cm", "R", 10, 30.0, None),
    ("RT 10:00 3.5 CM FN", "R", 10, 35.0, None),
    ("RT 10:00 3,5 CM FN", "R", 10, 35.0, None),
    ("RT 10:00 3 CM FROM THE NIPPLE", "R", 10, 30.0, None),
    ("RT 10:00 3CM", "R", 10, 30.0, None),
    ("LT 2:00 0 CM FN", "L", 2, 0.0, None),
    # planes
    ("LT 2:00 4CM FN RADIAL", "L", 2, 40.0, "radial"),
    ("LT 2:00 4CM FN ANTIRADIAL", "L", 2, 40.0, "antiradial"),
    ("LT 2:00 4CM FN ANTI-RAD", "L", 2, 40.0, "antiradial"),
    ("LT 2:00 4CM FN TRV", "L", 2, 40.0, "transverse"),
    ("LT 2:00 4CM FN LONG", "L", 2, 40.0, "sagittal"),
    ("LT 2:00 4CM FN OBL", "L", 2, 40.0, "oblique"),
    ("LT 2:00 4CM FN TRANSVERSE", "L", 2, 40.0, "transverse"),
    # OCR noise
    ("RT BREAST 1O:OO 3 CM FN", "R", 10, 30.0, None),
    ("RT BREAST IO:OO 3 CM FN", "R", 10, 30.0, None),
    ("RT BREAST l0:00 3 CM FN", "R", 10, 30.0, None),
    ("LT BR 2:0O 4CM FN", "L", 2, 40.0, None),
    ("LT BR Il:00 4CM FN", "L", 11, 40.0, None),
    ("LT BR 2:00 S CM FN", "L", 2, 50.0, None),  # a lone S before cm is OCR's 5
    ("RT BR 1:00 SCM FN TRANS", "R", 1, 50.0, "transverse"),
    ("R 6 o'clock IcmFN ARAD", "R", 6, 10.0, "antiradial"),
    ("R11 o'clock lcmFN SAG", "R", 11, 10.0, "sagittal"),
    ("R6 o'clock 4cmFN", "R", 6, 40.0, None),
    ("L 6 o'clock 1cmMFN ARAD", "L", 6, 10.0, "antiradial"),
    ("L 10 o'clock 2c mMFN RAD", "L", 10, 20.0, "radial"),
    ("RIGHT BREAST 7H 7 CMEN ARAD", "R", 7, 70.0, "antiradial"),
    ("RIGHT BREAST 3 H 5S CMFN", "R", 3, None, None),  # 55 cm is no nipple distance
    ("R 7 o'clock 4cmFl TRANS", "R", 7, 40.0, "transverse"),
    ("L 10 o'clock 7cmF SAG", "L", 10, 70.0, "sagittal"),
    ("LT BREAST 10:00 > CM FN SAG", "L", 10, None, "sagittal"),  # the number lost: not "00 CM"
    ("LT BR 2:00 4S MM FN", "L", 2, 45.0, None),
    ("LT BR 2:00 4CM FN SAG", "L", 2, 40.0, "sagittal"),
    ("LT BR 2:00SAG 4CM FN", "L", 2, 40.0, "sagittal"),
    ("L 2 0'clock 4cmFN", "L", 2, 40.0, None),
    ("L 2 o’clock 4cmFN", "L", 2, 40.0, None),
    ("  rt   breast  10:00   3  cm  fn  ", "R", 10, 30.0, None),
    ("LT BR 2;00 4CM FN", "L", 2, 40.0, None),
    # body-marker words and lines
    ("LEFT BREAST\n2:00 4CM FN", "L", 2, 40.0, None),
    ("RIGHT BREAST\nAXILLA", "R", None, None, None),
    ("LT BR 2:00 4CM FN\nGAIN 50 DR 60\nFR 30Hz", "L", 2, 40.0, None),
    ("L12-5 RT 10:00 3CM FN", "R", 10, 30.0, None),
    ("14L5\nRT 10:00 3CM FN", "R", 10, 30.0, None),
    ("RIGHT 3 OCLOCK 6CM FROM NIPPLE\n-l\n-2\nD 4.2cm", "R", 3, 60.0, None),  # depth ticks
    ("RT BREAST 12:00 3 CM FN\n“lt mi1.0", "R", 12, 30.0, None),  # a tick and "MI 1.0" read as "lt mi"
    ("lt 2:00 4cm fn", None, 2, 40.0, None),  # lower-case short side words are noise
    ("rt br 9 hr 5 cm fn anti-radial", "R", 9, 50.0, "antiradial"),  # ...unless before "br"/"breast"
    ("RT BR 9:00\n1CM FN\nMI 1.0\nTIS 0.50\nD1 1.90em", "R", 9, 10.0, None),  # settings
    ("RT 10:00 DEPTH 4.0 CM", "R", 10, None, None),
    # unknown, contradictory, out of range: never guessed
    ("", None, None, None, None),
    ("GAIN 50 DR 60 FR 30 Hz", None, None, None, None),
    ("BREAST 3 CM FN", None, None, 30.0, None),
    ("RIGHT LEFT 10:00 3 CM FN", None, 10, 30.0, None),
    ("RT 13:00 3CM FN", "R", None, 30.0, None),
    ("RT 10:75 3CM FN", "R", None, 30.0, None),
    ("RT 10:00 2:00 3CM FN", "R", None, 30.0, None),
    ("RT 10:00 3CM FN 5CM FN", "R", 10, None, None),
    ("RT 10:00 300 CM FN", "R", 10, None, None),
    ("RT 3CM FN", "R", None, 30.0, None),
    ("RT 10:00 RAD ARAD", "R", 10, None, None),
    ("RT BREAST\nLT BREAST", None, None, None, None),
    ("L12-5", None, None, None, None),
    ("4.0 cm", None, None, None, None),
]


@pytest.mark.parametrize(("text", "side", "clock", "distance", "plane"), SPELLINGS)
def test_spelling(
    text: str, side: str | None, clock: int | None, distance: float | None, plane: str | None
) -> None:
    loc = parse_annotation(text)
    assert (loc.laterality, loc.clock, loc.distance_from_nipple_mm, loc.plane) == (
        side,
        clock,
        distance,
        plane,
    )
    assert loc.raw == text
    assert loc.source == "text"
    assert loc.known == (side is not None and clock is not None)


def test_there_are_at_least_forty_spellings() -> None:
    assert len(SPELLINGS) >= 40
    assert len({text for text, *_ in SPELLINGS}) == len(SPELLINGS)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("RIGHT LEFT 10:00", "laterality"),
        ("RT 13:00", "clock"),
        ("RT 10:00 2:00", "clock"),
        ("RT 10:00 3CM FN 5CM FN", "distance"),
        ("RT 10:00 RAD ARAD", "plane"),
        ("RT\nLT", "laterality"),
    ],
)
def test_contradictions_are_named(text: str, field: str) -> None:
    assert field in parse_annotation(text).conflicts


def test_clock_hours_keep_the_minutes() -> None:
    assert parse_annotation("RT 10:30").clock_hours == 10.5
    assert parse_annotation("RT 0:00").clock_hours == 12.0
    assert parse_annotation("RT 10 OCLOCK").clock_hours == 10.0


@pytest.mark.parametrize(
    ("text", "ring", "depth", "region"),
    [
        ("RT 10:00 2B", 2, "B", None),
        ("LT 3:00 RING 3 DEPTH C", 3, "C", None),
        ("LT 3:00 ZONE 1", 1, None, None),
        ("LT SA", None, None, "subareolar"),
        ("LT SUBAREOLAR", None, None, "subareolar"),
        ("RT RETROAREOLAR", None, None, "retroareolar"),
        ("RT AXILLA", None, None, "axilla"),
        ("RT AXILLARY TAIL 10:00", None, None, "axillary tail"),
        ("RT AX TAIL", None, None, "axillary tail"),
    ],
)
def test_ring_depth_and_region(text: str, ring: int | None, depth: str | None, region: str | None) -> None:
    loc = parse_annotation(text)
    assert (loc.ring, loc.depth, loc.region) == (ring, depth, region)
    assert loc.distance_from_nipple_mm is None  # a ring is not a measured distance


def test_a_subareolar_location_is_not_known_without_a_clock() -> None:
    loc = parse_annotation("LT SA")
    assert loc.laterality == "L"
    assert not loc.known


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RT BREAST 1O:OO 3 CM FN", "RT BREAST 10:00 3 CM FN"),
        ("L 2 o'clock 4cmFN", "L 2 OCLOCK 4CMFN"),
        ("LT BR 2:00SAG", "LT BR 2:00SAG"),
        ("Rt. br, 9 hr", "RT BR 9 HR"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("dicom_side", "text", "side", "conflict"),
    [
        ("L", "2:00 4CM FN", "L", False),
        ("R", "RT 10:00 3CM FN", "R", False),
        ("R", "LT 2:00 4CM FN", None, True),
        ("B", "LT 2:00 4CM FN", "L", False),
        ("", "2:00 4CM FN", None, False),
        (None, None, None, False),
    ],
)
def test_structured(dicom_side: str | None, text: str | None, side: str | None, conflict: bool) -> None:
    loc = parse_structured(dicom_side, text)
    assert isinstance(loc, UsLocation)
    assert loc.source == "structured"
    assert loc.laterality == side
    assert ("laterality" in loc.conflicts) == conflict
    if text:
        assert loc.clock == (2 if "2:00" in text else 10)
