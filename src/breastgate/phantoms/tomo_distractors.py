"""Look-alikes in tomosynthesis volumes: benign, vascular and skin calcifications placed in depth.

The in-plane drawing is the FFDM phantom's (:mod:`breastgate.phantoms.lesions`: same shapes, same
random streams); a volume also needs the slice of every calcification. Depth is chosen so that a
reader scrolling through the volume sees what these findings look like in clinical DBT:

- **Scattered benign**: one round calcification at the depth its position in the breast gives a
  lesion (superior higher on the CC, superomedial higher on the MLO), on one slice like the
  calcifications of a cluster.
- **Vascular**: vessels run obliquely. Compression flattens them towards the plane of the plates
  but does not lay them flat, so the tram track is tilted by up to ±10° to the detector about the
  depth of its centre; each wall element lies on the slice at its own height, kept 1 mm inside the
  local thickness. A 25-60 mm vessel crosses up to about ten slices and goes in and out of focus
  while scrolling, instead of appearing whole on one slice.
- **Skin**: dermal calcifications lie in the skin. One that projects within 2 mm of the skin line
  (as the FFDM model places them) lies on the rounded edge of the compressed breast, on the upper
  (paddle) or lower (support) skin surface where it passes over that point; the group is on one
  surface, each calcification 0.75 mm under it, hence on its slice just inside the slice's own
  skin line (nearer the mid-plane the closer it projects to the skin line). Not on the first or
  last slices: those show only the flat contact areas under the plates, which project well inside
  the outline. A calcification whose nearest working-grid cell is outside the breast (coarse
  pixels) is on no slice and left out.

Amplitudes follow the cluster calcifications of :mod:`breastgate.phantoms.tomo`: the FFDM level
times the slice gain, without the 2-D thickness fall-off (a slice shows attenuation, not path
length). The volume blurs and fades each slice's patch off-plane with the lesions' model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from breastgate.phantoms.lesions import (
    SKIN_HOLE_LEVEL,
    SKIN_RING_LEVEL,
    VESSEL_WALL,
    VESSEL_WALL_LEVEL,
    Calcification,
    LesionSpec,
    ViewContext,
    calc_blob,
    centre_mm,
    distractor_rng,
    skin_spots,
    vascular_walls,
)

if TYPE_CHECKING:
    from breastgate.phantoms.tomo import TomoGeometry

__all__ = ["DistractorDepth", "DistractorDrawing", "draw_distractor"]

FloatArray = npt.NDArray[np.float32]

_MAX_TILT_DEG = 10.0  # vessels: largest angle to the detector plane
_VESSEL_INSET_MM = 1.0  # vessels stay this far inside the local thickness
_SKIN_DEPTH_MM = 0.75  # skin calcifications: depth under the skin surface


@dataclass(frozen=True)
class DistractorDepth:
    """What a volume tells a distractor about depth.

    ``z0``: height (mm above the breast support) of the distractor's centre, from its position in
    the breast; ``local_half(d)``: half the local thickness of the compressed breast ``d`` mm
    inside the projected skin line (0 on and outside it).
    """

    geometry: TomoGeometry
    z0: float
    local_half: Callable[[float], float]


@dataclass(frozen=True)
class DistractorDrawing:
    """A distractor's calcifications per slice (1-based frame -> patch) on a full-resolution patch
    whose top-left pixel is (r0, c0), canonical orientation, and its truth on the volume."""

    by_frame: dict[int, FloatArray]
    r0: int
    c0: int
    truth: dict[str, Any]


@dataclass(frozen=True)
class _Spot:
    """One calcification (or lucent centre) to draw: centre in pixels, amplitude, frame."""

    x: float
    y: float
    calc: Calcification
    amp: float
    frame: int


def draw_distractor(
    lesion: LesionSpec, ctx: ViewContext, depth: DistractorDepth, amp: float, pad: int
) -> DistractorDrawing | None:
    """Draw a distractor of this view's breast on the slices it lies on; None when nothing of it
    falls inside the breast on this view.

    ``amp`` is the stored value of a level of 1 on a slice; ``pad`` the patch margin (pixels) the
    off-plane blur needs. Truth (canonical orientation): ``centre``, ``bbox``, ``frames`` [first,
    last], ``focus_frame`` (the slice of the centre), ``height_mm``; skin calcifications also
    ``calcifications`` and ``calcification_frames``.
    """
    px = ctx.px_mm
    x_mm, y_mm = centre_mm(lesion, ctx)
    centre = (x_mm / px, y_mm / px)
    if lesion.distractor == "scattered_benign":
        focus = depth.geometry.frame_at(depth.z0)
        spots = [_Spot(*centre, c, c.level * amp, focus) for c in lesion.calcs]
        edge = max(max(c.diameter_mm for c in lesion.calcs) / 2.0, 0.5) / px
        truth: dict[str, Any] = {"centre": [centre[0] + 0.5, centre[1] + 0.5]}
    elif lesion.distractor == "vascular":
        spots, truth, focus = _vessel(lesion, ctx, depth, amp, centre)
        edge = 0.5 / px
    elif lesion.distractor == "skin":
        spots, truth, focus = _skin(lesion, ctx, depth, amp)
        edge = 0.5 / px
    else:
        raise ValueError(f"unknown distractor {lesion.distractor!r}")
    if not spots:
        return None
    frames = [s.frame for s in spots]
    xs, ys = np.array([s.x for s in spots]), np.array([s.y for s in spots])
    bbox = [xs.min() + 0.5 - edge, ys.min() + 0.5 - edge, xs.max() + 0.5 + edge, ys.max() + 0.5 + edge]
    truth = {
        "id": lesion.id,
        **truth,
        "bbox": [float(v) for v in bbox],
        "frames": [min(frames), max(frames)],
        "focus_frame": focus,
        "height_mm": round(depth.geometry.height_mm(focus), 2),
    }
    return _patches(spots, truth, px, pad)


def _patches(spots: list[_Spot], truth: dict[str, Any], px: float, pad: int) -> DistractorDrawing:
    """Draw the spots slice by slice on one patch covering all of them plus the blur margin."""
    reach = max(s.calc.diameter_mm for s in spots) / px
    margin = math.ceil(3.0 * (reach + 1.0)) + 2 + pad
    r0 = math.floor(min(s.y for s in spots)) - margin
    c0 = math.floor(min(s.x for s in spots)) - margin
    shape = (
        math.floor(max(s.y for s in spots)) + margin + 1 - r0,
        math.floor(max(s.x for s in spots)) + margin + 1 - c0,
    )
    by_frame: dict[int, FloatArray] = {}
    for s in spots:
        slab = by_frame.setdefault(s.frame, np.zeros(shape, np.float32))
        calc_blob(slab, s.x - c0, s.y - r0, s.calc, px, s.amp)
    return DistractorDrawing(by_frame, r0, c0, truth)


def _vessel(
    lesion: LesionSpec, ctx: ViewContext, depth: DistractorDepth, amp: float, centre: tuple[float, float]
) -> tuple[list[_Spot], dict[str, Any], int]:
    """Wall elements inside the breast on the slices of an oblique vessel; truth ``centre``: the
    axis point of the drawn element nearest the vessel's centre, whose frame is the focus."""
    g, px, mid = depth.geometry, ctx.px_mm, depth.geometry.thickness_mm / 2.0
    # The tilt comes from the distractor's own stream: the same tilt on the CC and the MLO.
    slope = np.random.default_rng([lesion.seed, 0x7117]).uniform(-1.0, 1.0) * _MAX_TILT_DEG
    tilt = math.tan(math.radians(slope))
    spots: list[_Spot] = []
    axis: dict[float, list[_Spot]] = {}
    for x, y, t in vascular_walls(lesion, px, *centre, distractor_rng(lesion, ctx.view)):
        half = depth.local_half(_dist_mm(ctx, float(x), float(y)))
        if half <= 0.0:
            continue  # outside the breast on this view
        room = max(half - _VESSEL_INSET_MM, 0.0)
        z = float(np.clip(depth.z0 + tilt * float(t) * px, mid - room, mid + room))
        spot = _Spot(float(x), float(y), VESSEL_WALL, VESSEL_WALL_LEVEL * amp, g.frame_at(z))
        spots.append(spot)
        axis.setdefault(float(t), []).append(spot)
    if not axis:
        return [], {}, 0
    walls = axis[min(axis, key=abs)]
    x0 = sum(w.x for w in walls) / len(walls)
    y0 = sum(w.y for w in walls) / len(walls)
    return spots, {"centre": [x0 + 0.5, y0 + 0.5]}, walls[0].frame


def _skin(
    lesion: LesionSpec, ctx: ViewContext, depth: DistractorDepth, amp: float
) -> tuple[list[_Spot], dict[str, Any], int]:
    """Calcifications with lucent centres (a ring minus a hole) on one skin surface; the focus is
    the calcification nearest their mean position (truth ``centre``) and its frame."""
    g, mid = depth.geometry, depth.geometry.thickness_mm / 2.0
    upper = bool(np.random.default_rng([lesion.seed, 0x5C1]).uniform() < 0.5)
    spots: list[_Spot] = []
    for x, y, diameter in skin_spots(ctx, distractor_rng(lesion, ctx.view)):
        dist = _dist_mm(ctx, float(x), float(y))
        if dist <= 0.0:
            continue  # on the outline at this pixel size: no slice shows it inside the breast
        under = max(depth.local_half(dist) - _SKIN_DEPTH_MM, 0.0)
        frame = g.frame_at(mid + under if upper else mid - under)
        ring = Calcification(0, 0, diameter, 1.0, 0.0, 0.0)
        hole = Calcification(0, 0, diameter * 0.5, 1.0, 0.0, 0.0)
        spots.append(_Spot(float(x), float(y), ring, SKIN_RING_LEVEL * amp, frame))
        spots.append(_Spot(float(x), float(y), hole, SKIN_HOLE_LEVEL * amp, frame))
    rings = spots[::2]
    if not rings:
        return [], {}, 0
    mx, my = sum(r.x for r in rings) / len(rings), sum(r.y for r in rings) / len(rings)
    nearest = min(rings, key=lambda r: math.hypot(r.x - mx, r.y - my))
    truth = {
        "centre": [nearest.x + 0.5, nearest.y + 0.5],
        "calcifications": [[r.x + 0.5, r.y + 0.5] for r in rings],
        "calcification_frames": [r.frame for r in rings],
    }
    return spots, truth, nearest.frame


def _dist_mm(ctx: ViewContext, x: float, y: float) -> float:
    """Distance from the skin line (mm; 0 outside the breast) at pixel (x, y): that of the nearest
    working-grid cell, which decides whether a slice shows the pixel inside its outline."""
    h, w = ctx.dist_mm.shape
    r = min(max(round(y * ctx.px_mm / ctx.ws_mm), 0), h - 1)
    c = min(max(round(x * ctx.px_mm / ctx.ws_mm), 0), w - 1)
    return float(ctx.dist_mm[r, c])
