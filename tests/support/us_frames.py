"""Ultrasound-like frames with burned-in annotation text, for the OCR tests and bench/us_ocr.py.

A frame is black, with a speckle-like image region in the middle (the region the Sequence of
Ultrasound Regions would name) and annotation text drawn with PIL in the margins, as scanners do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf")
WHITE = (255, 255, 255)
LIGHT_GREY = (200, 200, 200)
YELLOWISH = (240, 225, 120)
COLOURS = (WHITE, LIGHT_GREY, YELLOWISH)


@dataclass(frozen=True)
class Text:
    """One line of text drawn at (column, row) of its top-left corner."""

    text: str
    at: tuple[int, int]


def render_frame(
    texts: Sequence[Text],
    *,
    font: str = FONTS[0],
    size: int = 16,
    colour: tuple[int, int, int] = WHITE,
    shape: tuple[int, int] = (600, 800),
    region: tuple[int, int, int, int] = (160, 60, 640, 540),
    inside: Sequence[Text] = (),
    seed: int = 0,
    speckle: bool = True,
) -> np.ndarray:
    """An (H, W, 3) uint8 frame: speckle in ``region`` (c0, r0, c1, r1), ``texts`` outside it.

    ``inside`` lines are drawn over the speckle (a different location, to check the region is
    ignored); bright line-like noise is drawn there too, unless ``speckle`` is False (a black region).
    """
    rng = np.random.default_rng(seed)
    height, width = shape
    frame = np.zeros((height, width, 3), np.uint8)
    c0, r0, c1, r1 = region
    if speckle:
        frame[r0:r1, c0:c1] = rng.rayleigh(45.0, (r1 - r0, c1 - c0)).clip(0, 255)[..., None].astype(np.uint8)
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    typeface = ImageFont.truetype(FONT_DIR + font, size)
    for line in inside:
        draw.text(line.at, line.text, font=typeface, fill=WHITE)
    for _ in range(6 if speckle else 0):
        x, y = int(rng.integers(c0, c1 - 60)), int(rng.integers(r0, r1 - 10))
        draw.line((x, y, x + int(rng.integers(10, 60)), y + int(rng.integers(-3, 4))), fill=(230, 230, 230))
    for line in texts:
        draw.text(line.at, line.text, font=typeface, fill=colour)
    return np.asarray(image)
