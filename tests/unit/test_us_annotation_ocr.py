"""OCR of the burned-in ultrasound annotation (issue 19): rendered frames read back.

Needs Debian's tesseract-ocr (the Makefile's system-libs installs it): without it these tests fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from breastgate.imaging.us_ocr import ocr_status, read_annotation, text_boxes_inside
from tests.support.us_frames import FONTS, LIGHT_GREY, WHITE, YELLOWISH, Text, render_frame

REGION = (160, 60, 640, 540)
# A different location written over the speckle: it must not be read.
DECOY = (Text("LT 4:00 2CM FN", (300, 300)), Text("RT 7 OCLOCK 6CM FN ARAD", (200, 420)))


@pytest.fixture(autouse=True)
def _one_ocr_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tesseract's OpenMP threads only slow these small images down on a shared machine
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")


RIGHT_COLUMN = [Text(t, (660, 100 + 25 * i)) for i, t in enumerate(("LT BR", "2:00", "4CM FN", "RAD"))]
BOTTOM_LEFT = [Text("L 2 o'clock 4cmFN", (10, 570))]
SETTINGS = [Text("GAIN 50  DR 60", (650, 10)), Text("12L5", (700, 570))]
LAYOUTS = [
    pytest.param(
        [Text("RT BREAST 10:00 3 CM FN", (10, 10))], 16, FONTS[0], WHITE, ("R", 10, 30.0, None), id="top-left"
    ),
    pytest.param(BOTTOM_LEFT, 14, FONTS[2], YELLOWISH, ("L", 2, 40.0, None), id="bottom-left"),
    pytest.param(RIGHT_COLUMN, 18, FONTS[1], LIGHT_GREY, ("L", 2, 40.0, "radial"), id="right-column"),
    pytest.param(
        [Text("RIGHT 10 OCLOCK", (10, 8)), Text("3CM FROM NIPPLE", (10, 32))],
        20,
        FONTS[0],
        WHITE,
        ("R", 10, 30.0, None),
        id="two-lines",
    ),
    pytest.param(
        [Text("LEFT BREAST 2 H 4 CMFN ARAD", (10, 570)), *SETTINGS],
        14,
        FONTS[1],
        WHITE,
        ("L", 2, 40.0, "antiradial"),
        id="body-marker-and-settings",
    ),
]


@pytest.mark.parametrize(("texts", "size", "font", "colour", "expected"), LAYOUTS)
def test_reads_the_location_outside_the_region(
    texts: list[Text], size: int, font: str, colour: tuple[int, int, int], expected: tuple[object, ...]
) -> None:
    frame = render_frame(texts, size=size, font=font, colour=colour, region=REGION, inside=DECOY)
    grey = colour == WHITE and size == 20  # one layout given as a (H, W) grey frame
    reading = read_annotation(frame.max(axis=2) if grey else frame, [REGION])
    assert reading.available, reading.reason
    loc = reading.location
    assert (loc.laterality, loc.clock, loc.distance_from_nipple_mm, loc.plane) == expected
    assert loc.source == "ocr"
    assert loc.known
    c0, r0, c1, r1 = REGION
    covered = np.zeros(frame.shape[:2], bool)
    for line in reading.lines:  # no text taken from inside the region
        lc0, lr0, lc1, lr1 = line.box
        assert lc1 < c0 or lc0 >= c1 or lr1 < r0 or lr0 >= r1, line  # boxes inclusive
        covered[lr0 : lr1 + 1, lc0 : lc1 + 1] = True
    ink = frame.max(axis=2) > 60
    ink[r0:r1, c0:c1] = False
    assert covered[ink].all()  # the boxes cover all the text drawn, for masking


def test_text_in_the_region_is_masked_not_missed() -> None:
    # on a black region the decoy is readable: masking, not luck, keeps it out of the readings above
    frame = render_frame([], size=16, region=REGION, inside=DECOY[:1], speckle=False)
    unmasked = read_annotation(frame, [])
    assert (unmasked.location.laterality, unmasked.location.clock) == ("L", 4)
    masked = read_annotation(frame, [REGION])
    assert masked.lines == ()


def test_a_frame_without_annotation_is_unknown() -> None:
    frame = render_frame([], region=REGION, inside=DECOY)
    reading = read_annotation(frame, [REGION])
    assert reading.available
    assert reading.lines == ()
    assert not reading.location.known
    assert reading.location.laterality is None


def test_a_missing_tesseract_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    frame = render_frame([Text("RT BREAST 10:00 3 CM FN", (10, 10))], region=REGION)
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    ocr_status.cache_clear()
    try:
        reading = read_annotation(frame, [REGION])
    finally:
        monkeypatch.undo()
        ocr_status.cache_clear()
    assert not reading.available
    assert reading.reason is not None and "tesseract" in reading.reason
    assert not reading.location.known
    assert ocr_status() is None  # and found again once it is there


def test_text_inside_the_region_is_found_for_masking() -> None:
    inside = (*DECOY, Text("1", (620, 100)), Text("2", (620, 200)))
    frame = render_frame([Text("RT BREAST 10:00 3 CM FN", (10, 10))], region=REGION, inside=inside)
    lines = text_boxes_inside(frame, REGION)
    assert lines is not None
    assert "LT 4:00 2CM FN" in {line.text for line in lines}
    for line in lines:
        c0, r0, c1, r1 = line.box
        assert REGION[0] <= c0 < c1 <= REGION[2] and REGION[1] <= r0 < r1 <= REGION[3]
    for text in inside:  # every drawn text has a box to mask (a lone "1" may read as "i")
        col, row = text.at[0] + 4, text.at[1] + 8
        assert any(b[0] <= col <= b[2] and b[1] <= row <= b[3] for b in (line.box for line in lines)), text


def test_speckle_alone_holds_no_text() -> None:
    frame = render_frame([], region=REGION)
    assert text_boxes_inside(frame, REGION) == ()
