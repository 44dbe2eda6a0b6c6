"""The screen capture around the B-mode regions: layout, burned-in text, body marker, overlays.

Five annotation *styles* (named after their look): where the location text goes (top-left,
bottom-left or a right-hand column), its spelling, font (DejaVu, fonts-dejavu-core), size and
colour. Every text box is measured on the drawn text (PIL ``textbbox``) and kept in the truth as an
inclusive pixel box ``[c0, r0, c1, r1]`` (DICOM image coordinates; a box never crosses an image
region except the plane labels that dual-region images carry inside each region, as scanners do).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from breastgate.phantoms.errors import PhantomError

__all__ = ["FONT_DIR", "STYLES", "Canvas", "Location", "Style", "location_text"]

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
Box = list[int]
_PLANES = {"radial": "RAD", "antiradial": "ARAD", "transverse": "TRANS", "sagittal": "SAG"}


@dataclass(frozen=True)
class Location:
    """Where the probe is: side, clock hour (whole), distance from the nipple (whole cm), plane."""

    laterality: str
    clock: int
    distance_cm: int
    plane: str

    def structured(self, with_plane: bool = False) -> str:
        """The form written in Image Comments when the location is structured: ``RT 10:00 3 CM FN``
        (``RT 10:00 3 CM FN RAD`` with the plane)."""
        side = "RT" if self.laterality == "R" else "LT"
        plane = f" {_PLANES[self.plane]}" if with_plane and self.plane in _PLANES else ""
        return f"{side} {self.clock}:00 {self.distance_cm} CM FN{plane}"

    def lateral_medial(self) -> str | None:
        """3 o'clock is lateral in the left breast and medial in the right (algorithms.md §7)."""
        if self.clock in (6, 12):
            return None
        towards_patient_left = 1 <= self.clock <= 5
        return "lateral" if towards_patient_left == (self.laterality == "L") else "medial"

    def quadrant(self) -> str | None:
        """UOQ/UIQ/LOQ/LIQ; None on the 12, 3, 6 and 9 o'clock boundaries."""
        if self.clock in (3, 6, 9, 12):
            return None
        side = self.lateral_medial()
        upper = self.clock in (10, 11, 1, 2)
        return f"{'U' if upper else 'L'}{'O' if side == 'lateral' else 'I'}Q"


def _side(loc: Location, long: bool) -> str:
    if long:
        return "RIGHT" if loc.laterality == "R" else "LEFT"
    return "RT" if loc.laterality == "R" else "LT"


@dataclass(frozen=True)
class Style:
    """An annotation style: frame size, margins around the regions, text placement and look."""

    name: str
    frame: tuple[int, int]  # (columns, rows)
    margins: tuple[int, int, int, int]  # left, top, right, bottom
    place: str  # top | bottom | right
    font: str
    size: int
    colour: tuple[int, int, int]
    spell: Callable[[Location, bool], list[str]]  # (location, with plane) -> lines

    @property
    def rgb(self) -> bool:
        """Coloured text makes the capture RGB."""
        return len(set(self.colour)) > 1


STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            "caps_clock",
            (800, 600),
            (40, 66, 140, 36),
            "top",
            "DejaVuSans-Bold.ttf",
            17,
            (255, 255, 255),
            lambda loc, _p: [f"{_side(loc, False)} BREAST {loc.clock}:00 {loc.distance_cm} CM FN"],
        ),
        Style(
            "compact_oclock",
            (720, 540),
            (24, 38, 120, 58),
            "bottom",
            "DejaVuSans.ttf",
            16,
            (215, 215, 215),
            lambda loc, _p: [f"{loc.laterality} {loc.clock} o'clock {loc.distance_cm}cmFN"],
        ),
        Style(
            "abbrev_column",
            (800, 600),
            (20, 38, 176, 40),
            "right",
            "DejaVuSans-Bold.ttf",
            16,
            (235, 235, 235),
            lambda loc, p: [
                f"{_side(loc, False)} BR {loc.clock}:00",
                f"{loc.distance_cm}CM FN" + (f" {_PLANES[loc.plane]}" if p else ""),
            ],
        ),
        Style(
            "words_mono",
            (768, 576),
            (30, 38, 124, 60),
            "bottom",
            "DejaVuSansMono.ttf",
            15,
            (235, 225, 150),
            lambda loc, _p: [f"{_side(loc, True)} {loc.clock} OCLOCK {loc.distance_cm}CM FROM NIPPLE"],
        ),
        Style(
            "hours_plane",
            (640, 480),
            (16, 62, 112, 30),
            "top",
            "DejaVuSans.ttf",
            18,
            (200, 200, 200),
            lambda loc, p: [
                f"{_side(loc, True)} BREAST {loc.clock} H {loc.distance_cm} CMFN"
                + (f" {_PLANES[loc.plane]}" if p else "")
            ],
        ),
    )
}


def location_text(style: Style, loc: Location, with_plane: bool = True) -> str:
    """The exact annotation string (lines joined by newlines)."""
    return "\n".join(style.spell(loc, with_plane))


@cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / name
    if not path.is_file():
        raise PhantomError(f"font {path} is missing (Debian package fonts-dejavu-core)")
    return ImageFont.truetype(str(path), size)


def _inclusive(bbox: tuple[float, float, float, float]) -> Box:
    return [int(bbox[0]), int(bbox[1]), math.ceil(bbox[2]) - 1, math.ceil(bbox[3]) - 1]


def _overlap(a: Box, b: Box) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


class Canvas:
    """An 8-bit frame (grey or RGB) with its image regions, on which text and overlays are drawn."""

    def __init__(self, style: Style, regions: list[Box], rgb: bool) -> None:
        self.style = style
        self.regions = regions
        self.rgb = rgb
        cols, rows = style.frame
        self.image = Image.new("RGB" if rgb else "L", (cols, rows), 0)
        self.draw = ImageDraw.Draw(self.image)
        self.annotations: list[dict[str, Any]] = []
        self.overlays: list[dict[str, Any]] = []

    def colour(self, rgb: tuple[int, int, int]) -> int | tuple[int, int, int]:
        return rgb if self.rgb else round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])

    def paste(self, region: Box, grey: npt.NDArray[np.uint8]) -> None:
        tile = Image.fromarray(grey, "L")
        self.image.paste(tile.convert("RGB") if self.rgb else tile, (region[0], region[1]))

    def text(
        self,
        xy: tuple[int, int],
        lines: list[str],
        kind: str,
        *,
        font: str | None = None,
        size: int | None = None,
        colour: tuple[int, int, int] | None = None,
        inside: bool = False,
    ) -> Box:
        """Draw ``lines`` from ``xy`` (top-left); record one annotation per line; the overall box."""
        f = _font(font or self.style.font, size or self.style.size)
        x, y = xy
        boxes = []
        for line in lines:
            box = _inclusive(self.draw.textbbox((x, y), line, font=f))
            if not inside and any(_overlap(box, r) for r in self.regions):
                raise PhantomError(f"layout bug: {kind} text {line!r} crosses an image region")
            if box[2] >= self.image.width or box[3] >= self.image.height or box[0] < 0 or box[1] < 0:
                raise PhantomError(f"layout bug: {kind} text {line!r} leaves the frame")
            self.draw.text((x, y), line, font=f, fill=self.colour(colour or self.style.colour))
            self.annotations.append(
                {
                    "kind": kind,
                    "text": line,
                    "box": box,
                    "inside_region": inside,
                    "origin": [x, y],
                    "font": font or self.style.font,
                    "size": size or self.style.size,
                }
            )
            boxes.append(box)
            y = box[3] + 5
        return [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ]

    def line_height(self, size: int | None = None, font: str | None = None) -> int:
        bbox = self.draw.textbbox((0, 0), "Ag", font=_font(font or self.style.font, size or self.style.size))
        return int(bbox[3] - bbox[1]) + 5

    def body_marker(self, centre: tuple[int, int], loc: Location) -> None:
        """Breast pictogram (facing the patient: 12 up, 3 to the viewer's right) with the probe bar."""
        cx, cy = centre
        radius = 17
        ink = self.colour(self.style.colour)
        self.draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=ink, width=1)
        self.draw.ellipse((cx - 2, cy - 2, cx + 2, cy + 2), fill=ink)
        angle = loc.clock / 12 * 2 * math.pi
        rel = min(0.9, loc.distance_cm / 6) * radius
        px, py = cx + rel * math.sin(angle), cy - rel * math.cos(angle)
        ux, uy = math.sin(angle), -math.cos(angle)  # radial direction
        if loc.plane in ("antiradial", "transverse"):
            ux, uy = -uy, ux
        half = 7
        self.draw.line(
            (px - half * ux, py - half * uy, px + half * ux, py + half * uy),
            fill=self.colour((255, 255, 255)),
            width=3,
        )
        box = [cx - radius - 4, cy - radius - 4, cx + radius + 4, cy + radius + 4]
        if any(_overlap(box, r) for r in self.regions):
            raise PhantomError("layout bug: the body marker crosses an image region")
        self.annotations.append(
            {"kind": "body_marker_graphic", "text": "", "box": box, "inside_region": False}
        )
        self.text((cx - 5, cy + radius + 6), [loc.laterality], "body_marker", size=13)

    def caliper(
        self, region: Box, points: list[tuple[float, float]], lesion_id: str, mark: str = "+"
    ) -> None:
        """Two caliper marks (``+`` or ``x``) and a dotted line between them (frame coordinates)."""
        ink = self.colour((255, 235, 0))
        (x0, y0), (x1, y1) = points
        steps = max(2, int(math.hypot(x1 - x0, y1 - y0) // 4))
        for k in range(1, steps):
            t = k / steps
            self.draw.point((x0 + t * (x1 - x0) - 0.5, y0 + t * (y1 - y0) - 0.5), fill=ink)
        for x, y in points:
            xp, yp = x - 0.5, y - 0.5
            if mark == "+":
                self.draw.line((xp - 4, yp, xp + 4, yp), fill=ink)
                self.draw.line((xp, yp - 4, xp, yp + 4), fill=ink)
            else:
                self.draw.line((xp - 3, yp - 3, xp + 3, yp + 3), fill=ink)
                self.draw.line((xp - 3, yp + 3, xp + 3, yp - 3), fill=ink)
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        box = [
            math.floor(min(xs)) - 5,
            math.floor(min(ys)) - 5,
            math.ceil(max(xs)) + 4,
            math.ceil(max(ys)) + 4,
        ]
        self.overlays.append(
            {
                "kind": "caliper",
                "mark": mark,
                "lesion_id": lesion_id,
                "points": [[round(x, 1), round(y, 1)] for x, y in points],
                "box": box,
            }
        )

    def doppler(self, box: Box, rng: np.random.Generator) -> None:
        """A colour Doppler box: outline and a few red/blue vessel segments inside it."""
        c0, r0, c1, r1 = box
        layer = Image.new("RGB", self.image.size, 0)
        ldraw = ImageDraw.Draw(layer)
        for _ in range(int(rng.integers(2, 5))):
            colour = (
                (int(rng.integers(180, 256)), int(rng.integers(0, 90)), 0)
                if rng.random() < 0.5
                else (0, int(rng.integers(40, 140)), int(rng.integers(180, 256)))
            )
            pts = [(float(rng.uniform(c0 + 3, c1 - 3)), float(rng.uniform(r0 + 3, r1 - 3)))]
            for _ in range(3):
                x, y = pts[-1]
                pts.append(
                    (
                        float(np.clip(x + rng.uniform(-15, 15), c0 + 2, c1 - 2)),
                        float(np.clip(y + rng.uniform(-10, 10), r0 + 2, r1 - 2)),
                    )
                )
            ldraw.line(pts, fill=colour, width=int(rng.integers(2, 4)))
        colour_px = np.asarray(layer).any(axis=2)
        frame = np.asarray(self.image).copy()
        frame[colour_px] = np.asarray(layer)[colour_px]
        self.image = Image.fromarray(frame, "RGB")
        self.draw = ImageDraw.Draw(self.image)
        self.draw.rectangle((c0, r0, c1, r1), outline=(170, 170, 170), width=1)
        self.overlays.append({"kind": "doppler", "box": box, "colour_pixels": int(colour_px.sum())})

    def colour_bar(self, x: int, y: int) -> None:
        """The Doppler velocity scale in the margin (red above, blue below)."""
        h = 60
        for k in range(h):
            t = k / (h - 1)
            colour = (int(255 * (1 - 2 * t)), 40, 0) if t < 0.5 else (0, 60, int(255 * (2 * t - 1)))
            self.draw.line((x, y + k, x + 8, y + k), fill=colour)
        self.overlays.append({"kind": "colour_bar", "box": [x, y, x + 8, y + h - 1]})

    def pixels(self) -> npt.NDArray[np.uint8]:
        return np.asarray(self.image, dtype=np.uint8).copy()
