"""One ultrasound image of the phantom: plan (regions, tissue, lesion placement) and rendering.

Geometry: each image region is a linear-array field of view (38-50 mm wide, 30-60 mm deep) with
square pixels, the skin at the region's top row. Region pixel coordinates have their origin at
the top-left corner of the region's top-left pixel (as SCOORD); frame coordinates add the region's
Min X0 / Min Y0. A cine sweeps the probe in elevation: frame k cuts each lesion at
``(k - (N - 1) / 2) * step - offset`` mm from its centre, where the section is the outline scaled
by ``sqrt(1 - (2 e / elevation)^2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from breastgate.phantoms.us_frame import Canvas, Location, Style, location_text
from breastgate.phantoms.us_lesions import UsLesion, outline_mm
from breastgate.phantoms.us_render import (
    Acoustics,
    LesionPlacement,
    RenderedLesion,
    Tissue,
    depth_gain,
    envelope,
    log_compress,
    plan_acoustics,
    plan_tissue,
    render_lesions,
    speckle_field,
    tissue_echo,
)

__all__ = ["ImagePlan", "RenderedImage", "plan_image", "region_envelope", "render_image"]

_GAP = 8  # pixels between the two regions of a dual-region image
_CINE_CORRELATION = 0.6  # speckle correlation between neighbouring cine frames


@dataclass(frozen=True)
class ImagePlan:
    """Every choice of one image before any pixel is drawn."""

    index: int
    seed: int
    location: Location
    location_source: str  # text | structured | none
    style: Style
    regions: list[list[int]]  # inclusive frame boxes of the tissue regions
    planes: list[str]
    pixel_mm: float
    uncalibrated: bool
    tissues: list[Tissue]
    acoustics: Acoustics
    lesions: list[UsLesion]
    centres_mm: dict[tuple[str, int], tuple[float, float]]  # (lesion id, region) -> (x, depth) mm
    caliper: bool
    doppler: bool
    frames: int = 1
    frame_step_mm: float = 0.0
    elevation_offsets_mm: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    #: The view region 0 shows (0: the lesions' width plane, 1: the orthogonal plane); region r
    #: shows view ``first_view + r``.
    first_view: int = 0
    #: Structured location (Image Comments) also names the plane.
    plane_written: bool = False

    @property
    def rgb(self) -> bool:
        return self.style.rgb or self.caliper or self.doppler

    def view_of(self, region: int) -> int:
        """The view (0 width plane, 1 orthogonal plane) shown in ``region``."""
        return self.first_view + region

    def cut(self, lesion: UsLesion, frame: int) -> float:
        """Elevational distance (mm) from the lesion's centre of frame ``frame`` (0-based)."""
        if self.frames == 1:
            return 0.0
        return (frame - (self.frames - 1) / 2) * self.frame_step_mm - self.elevation_offsets_mm[lesion.id]

    def section_scale(self, lesion: UsLesion, frame: int, view: int) -> float:
        half = (lesion.elevation_mm if view == 0 else lesion.width_mm) / 2
        e = self.cut(lesion, frame)
        return math.sqrt(max(0.0, 1 - (e / half) ** 2))


@dataclass
class RenderedImage:
    """The 8-bit frames of an image, its lesion masks per frame and the drawn text and overlays."""

    plan: ImagePlan
    frames: list[npt.NDArray[np.uint8]]
    masks: list[npt.NDArray[np.uint8]]
    lesions: list[list[RenderedLesion]]  # per frame
    annotations: list[dict[str, Any]]
    overlays: list[dict[str, Any]]
    ribs: list[dict[str, Any]]
    text: str | None


def _layout(style: Style, fov_mm: tuple[float, float], dual: bool) -> tuple[list[list[int]], float]:
    cols, rows = style.frame
    left, top, right, bottom = style.margins
    max_w, max_h = cols - left - right, rows - top - bottom
    if dual:
        max_w = (max_w - _GAP) // 2
    pixel = math.ceil(max(fov_mm[0] / max_w, fov_mm[1] / max_h) * 1e4) / 1e4
    rw, rh = math.floor(fov_mm[0] / pixel), math.floor(fov_mm[1] / pixel)
    boxes = [[left, top, left + rw - 1, top + rh - 1]]
    if dual:
        boxes.append([left + rw + _GAP, top, left + 2 * rw + _GAP - 1, top + rh - 1])
    return boxes, pixel


def _horizontal(lesion: UsLesion, view: int) -> float:
    return lesion.width_mm if view == 0 else lesion.elevation_mm


def _fit(lesions: list[UsLesion], views: list[int], fov_w: float) -> tuple[list[UsLesion], float]:
    """The lesions that fit side by side (3 mm either side of each); the width they use."""
    kept: list[UsLesion] = []
    used = 0.0
    for lesion in lesions:  # one that does not fit beside the others is left out
        need = max(_horizontal(lesion, v) for v in views) + 6
        if used + need <= fov_w:
            kept.append(lesion)
            used += need
    return kept, used


def _place(
    rng: np.random.Generator, tissue: Tissue, kept: list[UsLesion], views: list[int], free_mm: float
) -> tuple[dict[tuple[str, int], tuple[float, float]], float]:
    """Lesion centres (x, depth mm) per (lesion id, region), near the fat/gland interface; the
    deepest lesion bottom."""
    skin_fat = tissue.skin_mm + tissue.fat_mm
    centres: dict[tuple[str, int], tuple[float, float]] = {}
    bottom = 0.0
    x = float(rng.uniform(0, max(0.0, free_mm - 0.5)))  # each slot keeps 2 mm from the edges
    for lesion in kept:
        span = max(_horizontal(lesion, v) for v in views) + 6
        top_min = tissue.skin_mm + 1.5 + lesion.depth_mm / 2
        z = max(top_min, skin_fat + float(rng.uniform(-0.2, 0.5)) * lesion.depth_mm + lesion.depth_mm / 2)
        if lesion.echo_pattern == "isoechoic":  # iso to fat: inside the glandular layer, or unseen
            z = max(z, skin_fat + 2.5 + lesion.depth_mm / 2)
        for region in range(len(views)):
            centres[(lesion.id, region)] = (x + span / 2 + float(rng.uniform(-1, 1)), z)
        bottom = max(bottom, z + lesion.depth_mm / 2)
        x += span
    return centres, bottom


def _parameters(rng: np.random.Generator, probe: tuple[str, int]) -> tuple[dict[str, Any], Acoustics]:
    """What the scanner shows in its parameter column, and the acoustics behind it."""
    params: dict[str, Any] = {
        "probe": probe[0],
        "mhz": probe[1],
        "gain": int(rng.integers(40, 70)),
        "dynamic_range": 0,
        "frame_rate": int(rng.integers(18, 40)),
        "mi": round(float(rng.uniform(0.7, 1.3)), 1),
        "tis": round(float(rng.uniform(0.1, 0.6)), 1),
    }
    acoustics = plan_acoustics(rng)
    params["dynamic_range"] = round(acoustics.dynamic_range_db)
    return params, acoustics


def plan_image(
    rng: np.random.Generator,
    index: int,
    style: Style,
    location: Location,
    source: str,
    lesions: list[UsLesion],
    *,
    dual: bool,
    uncalibrated: bool,
    caliper: bool,
    doppler: bool,
    frames: int = 1,
    probe: tuple[str, int] = ("L12-5", 12),
    like: ImagePlan | None = None,
    plane_written: bool = False,
) -> ImagePlan:
    """Place the lesions in the tissue and fit the field of view into the style's frame.

    ``like``: this image shows the same lesions as ``like`` (a single-region image) in the
    orthogonal plane, at the same spot: its tissue layers and the lesions' depths are ``like``'s.
    """
    half = (style.frame[0] - style.margins[0] - style.margins[2] - _GAP) / 2
    # dual: two halves of a frame, at most 0.145 mm per pixel across
    fov_w = float(rng.uniform(34, max(34.5, min(42.0, 0.145 * half))) if dual else rng.uniform(38, 50))
    first_view = 0 if like is None else 1 - like.first_view
    views = [0, 1] if dual else [first_view]
    kept, used = _fit(lesions, views, fov_w)
    tissue = plan_tissue(rng, fov_w)
    if like is not None:  # the same breast at the same spot: its layers, new speckle and ribs
        tissue = replace(like.tissues[0], seed=tissue.seed, ribs=tissue.ribs)
    centres, bottom = _place(rng, tissue, kept, views, fov_w - used)
    if like is not None:
        depths = {les.id: like.centres_mm[(les.id, 0)][1] for les in kept if (les.id, 0) in like.centres_mm}
        centres = {k: (x, depths.get(k[0], z)) for k, (x, z) in centres.items()}
        bottom = max((centres[(les.id, 0)][1] + les.depth_mm / 2 for les in kept), default=0.0)
    skin_fat = tissue.skin_mm + tissue.fat_mm
    tissue = replace(tissue, gland_mm=max(tissue.gland_mm, bottom - skin_fat + float(rng.uniform(1.5, 4))))
    floor = skin_fat + tissue.gland_mm + tissue.retro_mm
    fov_d = min(60.0, max(float(rng.uniform(30, 45)), bottom + 10, floor + 2))
    regions, pixel = _layout(style, (fov_w, fov_d), dual)
    offsets = {les.id: round(float(rng.uniform(-0.12, 0.12)) * les.elevation_mm, 2) for les in kept}
    step = 0.0
    if frames > 1:
        longest = max((les.elevation_mm for les in kept), default=10.0)
        step = max(0.3, math.ceil(longest / (0.7 * frames) * 20) / 20)
    params, acoustics = _parameters(rng, probe)
    return ImagePlan(
        index=index,
        seed=int(rng.integers(2**31)),
        location=location,
        location_source=source,
        style=style,
        regions=regions,
        planes=["radial", "antiradial"] if dual else [location.plane],
        pixel_mm=pixel,
        uncalibrated=uncalibrated,
        tissues=[tissue] + ([replace(tissue, seed=tissue.seed + 1)] if dual else []),
        acoustics=acoustics,
        lesions=kept,
        centres_mm=centres,
        caliper=caliper and bool(kept),
        doppler=doppler,
        frames=frames,
        frame_step_mm=step,
        elevation_offsets_mm=offsets if frames > 1 else {},
        parameters=params,
        first_view=first_view,
        plane_written=plane_written,
    )


def _placements(plan: ImagePlan, region: int, frame: int) -> list[LesionPlacement]:
    out = []
    for value, lesion in enumerate(plan.lesions, start=1):
        if (lesion.id, region) not in plan.centres_mm:
            continue
        view = plan.view_of(region)
        scale = plan.section_scale(lesion, frame, view)
        if scale <= 0:
            continue
        x, z = plan.centres_mm[(lesion.id, region)]
        centre = (x / plan.pixel_mm, z / plan.pixel_mm)
        out.append(LesionPlacement(lesion, view, scale, centre, value, region))
    return out


def region_envelope(
    plan: ImagePlan, region: int = 0, frame: int = 0
) -> tuple[npt.NDArray[np.float32], list[RenderedLesion]]:
    """The detected envelope of one region of one frame, before log compression."""
    envs, rendered, _ = _region_frames(plan, region, [frame])
    return envs[0], rendered[0]


def _region_frames(
    plan: ImagePlan, region: int, frames: list[int]
) -> tuple[list[npt.NDArray[np.float32]], list[list[RenderedLesion]], list[dict[str, Any]]]:
    box = plan.regions[region]
    shape = (box[3] - box[1] + 1, box[2] - box[0] + 1)
    base, ribs = tissue_echo(plan.tissues[region], shape, plan.pixel_mm)
    rng = np.random.default_rng(np.random.SeedSequence([plan.seed, region]))
    sigma = plan.acoustics.sigma_px(plan.pixel_mm)
    gain = depth_gain(shape[0], plan.pixel_mm, plan.acoustics.gain_db_per_mm)
    speckle = speckle_field(rng, shape, sigma)
    noise = speckle_field(rng, shape, sigma)
    rho = np.float32(_CINE_CORRELATION)
    envs, rendered = [], []
    for k in range(max(frames) + 1):
        if k > 0:  # the probe moves in elevation: speckle partly decorrelates
            speckle = rho * speckle + np.float32(math.sqrt(1 - rho**2)) * speckle_field(rng, shape, sigma)
            noise = speckle_field(rng, shape, sigma)
        if k not in frames:
            continue
        echo = base.copy()
        lesions = render_lesions(echo, _placements(plan, region, k), plan.pixel_mm, plan.seed)
        envs.append(envelope(echo, gain, speckle, noise, plan.acoustics.noise_amplitude))
        rendered.append(lesions)
    return envs, rendered, ribs


def _caliper_points(plan: ImagePlan, lesion: UsLesion, region: int, axis: int) -> list[tuple[float, float]]:
    """Frame points of the outline's extremes along ``axis`` (0 horizontal, 1 vertical)."""
    poly = (
        outline_mm(lesion, plan.view_of(region)) / plan.pixel_mm
        + np.array(plan.centres_mm[(lesion.id, region)]) / plan.pixel_mm
    )
    lo, hi = poly[int(np.argmin(poly[:, axis]))], poly[int(np.argmax(poly[:, axis]))]
    box = plan.regions[region]
    return [(float(p[0]) + box[0], float(p[1]) + box[1]) for p in (lo, hi)]


def _small(canvas: Canvas, xy: tuple[int, int], lines: list[str], kind: str, **kw: Any) -> list[int]:
    return canvas.text(xy, lines, kind, font="DejaVuSans.ttf", size=kw.pop("size", 13), **kw)


def _location(canvas: Canvas, plan: ImagePlan, below: int, column: int) -> tuple[str | None, int]:
    """The location text where the style puts it and the body marker; the text and the row the
    parameter column starts at."""
    style, loc = plan.style, plan.location
    left, top = style.margins[:2]
    if plan.location_source != "text":
        return None, top
    lines = style.spell(loc, len(plan.regions) == 1)
    y_params = top
    if style.place == "top":
        canvas.text((left, below + 5), lines, "location")
    elif style.place == "bottom":
        canvas.text((left, plan.regions[0][3] + 12), lines, "location")
    else:
        y_params = canvas.text((column, top), lines, "location")[3] + 10
    canvas.body_marker((column + 22, style.frame[1] - 75), loc)
    return location_text(style, loc, len(plan.regions) == 1), y_params


def _depth_scale(canvas: Canvas, plan: ImagePlan) -> None:
    """Ticks every centimetre beside the last region, with their numbers."""
    last = plan.regions[-1]
    depth_cm = (last[3] - last[1] + 1) * plan.pixel_mm / 10
    ink = canvas.colour((200, 200, 200))
    for cm in range(1, int(depth_cm) + 1):
        y = last[1] + round(cm * 10 / plan.pixel_mm) - 1
        tick = [last[2] + 2, y, last[2] + 6, y]
        canvas.draw.line(tuple(tick), fill=ink)
        canvas.annotations.append({"kind": "depth_tick", "text": "", "box": tick, "inside_region": False})
        _small(canvas, (last[2] + 9, y - 6), [str(cm)], "depth_scale", size=11, colour=(200, 200, 200))


def _draw_text(canvas: Canvas, plan: ImagePlan) -> str | None:
    """Every burned-in text of the frame; the location text (None when not burned in)."""
    p, last = plan.parameters, plan.regions[-1]
    column = last[2] + 28
    header = _small(canvas, (plan.style.margins[0], 6), [f"BREAST  {p['probe']}  {p['mhz']} MHz"], "header")
    text, y_params = _location(canvas, plan, header[3], column)
    depth_cm = (last[3] - last[1] + 1) * plan.pixel_mm / 10
    params = [f"Gn {p['gain']}", f"DR {p['dynamic_range']}", f"D {depth_cm:.1f}cm"]
    params += [f"FR {p['frame_rate']}", f"MI {p['mi']}", f"TIS {p['tis']}"]
    box = _small(canvas, (column, y_params), params, "parameters")
    _depth_scale(canvas, plan)
    if len(plan.regions) == 2:  # scanners label the two views inside their regions
        for reg, plane in zip(plan.regions, plan.planes, strict=True):
            label = ["RAD" if plane == "radial" else "ARAD"]
            _small(canvas, (reg[0] + 6, reg[1] + 4), label, "plane_label", inside=True)
    if plan.caliper:
        lesion = plan.lesions[0]
        lines = [f"D1 {_horizontal(lesion, plan.first_view) / 10:.2f}cm", f"D2 {lesion.depth_mm / 10:.2f}cm"]
        _small(canvas, (column, box[3] + 10), lines, "measurement", colour=(255, 235, 0))
    return text


def render_image(plan: ImagePlan) -> RenderedImage:
    """Render every frame: regions, text, body marker and overlays; masks per frame."""
    frames = list(range(plan.frames))
    per_region = [_region_frames(plan, r, frames) for r in range(len(plan.regions))]
    ribs = [
        {
            **rib,
            "region": r,
            "box": [
                rib["box"][0] + box[0],
                rib["box"][1] + box[1],
                rib["box"][2] + box[0],
                rib["box"][3] + box[1],
            ],
        }
        for r, box in enumerate(plan.regions)
        for rib in per_region[r][2]
    ]
    cols, rows = plan.style.frame
    out_frames, masks, lesions = [], [], []
    canvas = Canvas(plan.style, plan.regions, plan.rgb)
    text = None
    for k in frames:
        canvas = Canvas(plan.style, plan.regions, plan.rgb)
        mask = np.zeros((rows, cols), dtype=np.uint8)
        frame_lesions: list[RenderedLesion] = []
        for r, box in enumerate(plan.regions):
            envs, rendered, _ = per_region[r]
            grey = log_compress(envs[k], plan.acoustics.dynamic_range_db, plan.acoustics.reference)
            canvas.paste(box, grey)
            for item in rendered[k]:
                view = mask[box[1] : box[3] + 1, box[0] : box[2] + 1]
                view[item.mask] = item.placement.mask_value
                frame_lesions.append(item)
        text = _draw_text(canvas, plan)
        if plan.caliper:
            lesion = plan.lesions[0]
            canvas.caliper(plan.regions[0], _caliper_points(plan, lesion, 0, 0), lesion.id, "+")
            canvas.caliper(plan.regions[0], _caliper_points(plan, lesion, 0, 1), lesion.id, "x")
        if plan.doppler:
            drng = np.random.default_rng(np.random.SeedSequence([plan.seed, 0xD0]))
            canvas.doppler(_doppler_box(plan, drng), drng)
            canvas.colour_bar(plan.regions[-1][2] + 92, rows - 170)
        out_frames.append(canvas.pixels())
        masks.append(mask)
        lesions.append(frame_lesions)
    return RenderedImage(plan, out_frames, masks, lesions, canvas.annotations, canvas.overlays, ribs, text)


def _doppler_box(plan: ImagePlan, rng: np.random.Generator) -> list[int]:
    box = plan.regions[0]
    w, h = box[2] - box[0] + 1, box[3] - box[1] + 1
    bw, bh = int(w * rng.uniform(0.3, 0.5)), int(h * rng.uniform(0.3, 0.45))
    if plan.lesions:
        x, z = plan.centres_mm[(plan.lesions[0].id, 0)]
        cx, cy = x / plan.pixel_mm, z / plan.pixel_mm
    else:
        cx, cy = w / 2, h / 2
    c0 = int(np.clip(cx - bw / 2, 2, w - bw - 3)) + box[0]
    r0 = int(np.clip(cy - bh / 2, 2, h - bh - 3)) + box[1]
    return [c0, r0, c0 + bw - 1, r0 + bh - 1]
