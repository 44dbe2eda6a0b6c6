"""B-mode physics of the ultrasound phantom: echogenicity map x Rayleigh speckle, gain, log compression.

Simple but honest:

* the tissue is an *echogenicity map* (scattering amplitude relative to fibroglandular tissue = 1):
  skin (bright lines), subcutaneous fat (0.165, lobules), Cooper's ligaments (bright curved lines),
  the fibroglandular layer (bright, with fat islands), retromammary fat, pectoralis (striated, bright
  fasciae), ribs below it (bone: bright cortex and a full acoustic shadow; cartilage: an oval
  hypoechoic body with a bright rim and a partial shadow) and the pleura;
* speckle is a circular complex Gaussian field blurred by a Gaussian point spread function, so its
  envelope is Rayleigh (mean/std = 1.913) with a grain of ``speckle_mm`` (FWHM of the intensity
  autocorrelation, 2.355 sigma);
* the envelope is ``|echo * gain(depth) * speckle + noise|`` (band-limited electronic noise), with a
  net gain in dB per mm (attenuation left over after the TGC), then log-compressed to 8 bits over
  ``dynamic_range_db``.

Lesions (:mod:`breastgate.phantoms.us_lesions`) replace the echogenicity inside their outline and
multiply everything below them by their posterior factor (enhancement or shadowing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw
from scipy import ndimage

from breastgate.phantoms.us_lesions import UsLesion, outline_mm, spicules_mm

__all__ = [
    "FAT_ECHO",
    "Acoustics",
    "LesionPlacement",
    "Rib",
    "Tissue",
    "envelope",
    "log_compress",
    "plan_acoustics",
    "plan_tissue",
    "render_lesions",
    "speckle_field",
    "tissue_echo",
]

Floats = npt.NDArray[np.floating[Any]]
FAT_ECHO = 0.165
_MEAN_RAYLEIGH = math.sqrt(math.pi) / 2  # mean envelope of a unit-power circular Gaussian field
_FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))


@dataclass(frozen=True)
class Rib:
    """A rib below the pectoralis: centre x (mm from the region's left edge), width, top depth."""

    x_mm: float
    width_mm: float
    height_mm: float
    top_mm: float
    kind: str  # bone | cartilage


@dataclass(frozen=True)
class Tissue:
    """Layer thicknesses (mm) and the seed of their undulations and textures."""

    seed: int
    skin_mm: float
    fat_mm: float
    gland_mm: float
    retro_mm: float
    pect_mm: float
    fat_islands: float  # share of fat islands in the fibroglandular layer
    ribs: tuple[Rib, ...] = ()

    def interfaces(self, x_mm: Floats) -> dict[str, Floats]:
        """Depth (mm) of the bottom of each layer at ``x_mm``, with smooth undulations."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x1F]))
        depth = np.zeros_like(x_mm)
        out = {}
        for name, thick in (
            ("skin", self.skin_mm),
            ("fat", self.fat_mm),
            ("gland", self.gland_mm),
            ("retro", self.retro_mm),
            ("pect", self.pect_mm),
        ):
            wave = np.zeros_like(x_mm)
            if name != "skin":
                for _ in range(2):
                    amp = rng.uniform(0.3, 0.12 * thick + 0.5)
                    wave += amp * np.sin(
                        2 * math.pi * x_mm / rng.uniform(18, 60) + rng.uniform(0, 2 * math.pi)
                    )
            depth = np.maximum(depth + thick + wave, depth + 0.5 * thick)
            out[name] = depth.copy()
        return out


@dataclass(frozen=True)
class Acoustics:
    """Imaging parameters of one image: speckle grain, gain, compression, noise."""

    speckle_mm: tuple[float, float]  # (lateral, axial) FWHM
    gain_db_per_mm: float
    dynamic_range_db: float
    gland_grey: float  # grey level of fibroglandular tissue at the skin (before depth gain)
    floor_grey: float  # grey level of the electronic noise floor

    def sigma_px(self, pixel_mm: float) -> tuple[float, float]:
        """Gaussian PSF sigma (rows, cols) in pixels."""
        return (
            self.speckle_mm[1] / _FWHM_PER_SIGMA / pixel_mm,
            self.speckle_mm[0] / _FWHM_PER_SIGMA / pixel_mm,
        )

    @property
    def reference(self) -> float:
        """Envelope mapped to grey 255 (so mean gland envelope maps to ``gland_grey``)."""
        return _MEAN_RAYLEIGH * 10 ** (self.dynamic_range_db * (1 - self.gland_grey / 255) / 20)

    @property
    def noise_amplitude(self) -> float:
        return _MEAN_RAYLEIGH * 10 ** (
            -(self.gland_grey - self.floor_grey) / 255 * self.dynamic_range_db / 20
        )

    def truth(self) -> dict[str, Any]:
        return {
            "speckle_fwhm_mm": [round(v, 3) for v in self.speckle_mm],
            "gain_db_per_mm": round(self.gain_db_per_mm, 3),
            "dynamic_range_db": round(self.dynamic_range_db, 1),
            "envelope": "Rayleigh (blurred circular complex Gaussian)",
        }


@dataclass(frozen=True)
class LesionPlacement:
    """One lesion section in one image region: view, elevational cut and centre (region px, corner
    origin as SCOORD)."""

    lesion: UsLesion
    view: int  # 0: the plane of the lesion's width, 1: the orthogonal plane (its elevation)
    scale: float
    centre_px: tuple[float, float]
    mask_value: int
    region: int = 0


@dataclass
class RenderedLesion:
    """A rendered section: its mask (region shape) and the box of its posterior feature."""

    placement: LesionPlacement
    mask: npt.NDArray[np.bool_]
    posterior_box: list[int] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def plan_tissue(rng: np.random.Generator, width_mm: float) -> Tissue:
    """Layers of one image and 0-2 ribs (a third are costal cartilage)."""
    tissue = Tissue(
        seed=int(rng.integers(2**31)),
        skin_mm=float(rng.uniform(1.5, 2.5)),
        fat_mm=float(rng.uniform(3.0, 11.0)),
        gland_mm=float(rng.uniform(9.0, 22.0)),
        retro_mm=float(rng.uniform(1.5, 4.0)),
        pect_mm=float(rng.uniform(5.0, 10.0)),
        fat_islands=float(rng.uniform(0.15, 0.40)),
    )
    ribs = []
    x = float(rng.uniform(-10, 8))
    while x < width_mm + 6:
        w = float(rng.uniform(10, 15))
        kind = "cartilage" if rng.random() < 0.33 else "bone"
        ribs.append(Rib(x + w / 2, w, float(rng.uniform(5, 8)), float(rng.uniform(1.0, 3.0)), kind))
        x += w + float(rng.uniform(9, 16))
    return Tissue(**{**tissue.__dict__, "ribs": tuple(ribs)})


def plan_acoustics(rng: np.random.Generator) -> Acoustics:
    return Acoustics(
        speckle_mm=(float(rng.uniform(0.40, 0.50)), float(rng.uniform(0.30, 0.38))),
        gain_db_per_mm=float(rng.uniform(0.03, 0.20)),
        dynamic_range_db=float(rng.uniform(48, 62)),
        gland_grey=float(rng.uniform(180, 205)),
        floor_grey=float(rng.uniform(8, 24)),
    )


def speckle_field(
    rng: np.random.Generator, shape: tuple[int, int], sigma_px: tuple[float, float]
) -> npt.NDArray[np.complex64]:
    """Circular complex Gaussian field blurred by a Gaussian PSF, scaled to unit mean power."""
    re = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma_px, mode="wrap")
    im = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma_px, mode="wrap")
    scale = np.float32(1 / math.sqrt(float(np.mean(re * re + im * im))))
    z = np.empty(shape, dtype=np.complex64)
    z.real = re * scale
    z.imag = im * scale
    return z


def envelope(
    echo: Floats,
    gain: Floats,
    speckle: npt.NDArray[np.complex64],
    noise: npt.NDArray[np.complex64] | None = None,
    noise_amplitude: float = 0.0,
) -> Floats:
    """Detected envelope ``|echo * gain * speckle + noise_amplitude * noise|`` (before compression)."""
    field_ = (echo * gain) * speckle
    if noise is not None and noise_amplitude > 0:
        field_ = field_ + np.float32(noise_amplitude) * noise
    return np.asarray(np.abs(field_), dtype=np.float32)


def log_compress(env: Floats, dynamic_range_db: float, reference: float) -> npt.NDArray[np.uint8]:
    """8-bit grey = 255 (1 + 20 log10(env / reference) / dynamic range), clipped to 0-255."""
    db = 20 * np.log10(np.maximum(env, 1e-12) / reference)
    return np.clip(np.rint(255 * (1 + db / dynamic_range_db)), 0, 255).astype(np.uint8)


def depth_gain(rows: int, pixel_mm: float, gain_db_per_mm: float) -> Floats:
    """Net amplitude gain per row (a column vector)."""
    z = (np.arange(rows, dtype=np.float32) + 0.5) * pixel_mm
    return (10 ** (-gain_db_per_mm * z / 20)).astype(np.float32)[:, None]


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: tuple[float, float]) -> Floats:
    """Unit-variance Gaussian-correlated noise; broad kernels are filtered on a coarser grid
    (one sample per sigma / 1.5 pixels) and resized bilinearly, which is as smooth and much faster."""
    f = [max(1, int(s // 1.5)) for s in sigma]
    small = (shape[0] // f[0] + 3, shape[1] // f[1] + 3)
    n = ndimage.gaussian_filter(
        rng.standard_normal(small, dtype=np.float32), (sigma[0] / f[0], sigma[1] / f[1]), mode="reflect"
    )
    if f != [1, 1]:
        big = Image.fromarray(n, "F").resize((small[1] * f[1], small[0] * f[0]), Image.Resampling.BILINEAR)
        n = np.asarray(big, dtype=np.float32)[f[0] : f[0] + shape[0], f[1] : f[1] + shape[1]]
    return np.asarray(n / np.float32(max(float(n.std()), 1e-6)), dtype=np.float32)


def _lines(shape: tuple[int, int], polylines: list[list[tuple[float, float]]], width: int) -> Floats:
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for line in polylines:
        draw.line(line, fill=255, width=width, joint="curve")
    return np.asarray(canvas, dtype=np.float32) / np.float32(255)


def _ligaments(
    rng: np.random.Generator, top: Floats, skin: Floats, p: float
) -> list[list[tuple[float, float]]]:
    """Cooper's ligaments: curved lines from the glandular surface up to the skin (pixel coords)."""
    cols = len(top)
    out = []
    x = float(rng.uniform(0, 8)) / p
    while x < cols:
        dx = float(rng.uniform(-8, 8)) / p
        x0, x1 = x, x + dx
        y0 = float(top[int(np.clip(x0, 0, cols - 1))]) / p
        y1 = float(skin[int(np.clip(x1, 0, cols - 1))]) / p
        bend = float(rng.uniform(-0.35, 0.35)) * (y0 - y1)
        t = np.linspace(0, 1, 24)
        xs = (1 - t) ** 2 * x0 + 2 * t * (1 - t) * ((x0 + x1) / 2 + bend) + t**2 * x1
        ys = (1 - t) ** 2 * y0 + 2 * t * (1 - t) * ((y0 + y1) / 2) + t**2 * y1
        out.append([(float(a), float(b)) for a, b in zip(xs, ys, strict=True)])
        x += float(rng.uniform(5, 11)) / p
    return out


def tissue_echo(
    tissue: Tissue, shape: tuple[int, int], pixel_mm: float
) -> tuple[Floats, list[dict[str, Any]]]:
    """Echogenicity map of the region (rows, cols) and the ribs' boxes (region px, inclusive)."""
    rows, cols = shape
    rng = np.random.default_rng(np.random.SeedSequence([tissue.seed, 0xEC0]))
    x_mm = (np.arange(cols) + 0.5) * pixel_mm
    z = ((np.arange(rows, dtype=np.float32) + 0.5) * pixel_mm)[:, None]
    iface = {k: v.astype(np.float32) for k, v in tissue.interfaces(x_mm).items()}
    mm = 1.0 / pixel_mm
    fat = FAT_ECHO * (1 + 0.18 * _smooth_noise(rng, shape, (1.2 * mm, 2.0 * mm)))
    islands = _smooth_noise(rng, shape, (0.9 * mm, 2.2 * mm))
    threshold = float(np.quantile(islands, tissue.fat_islands))
    gland = FAT_ECHO + (1.0 - FAT_ECHO) / (1 + np.exp(-(islands - threshold) / 0.25))
    stripes = _smooth_noise(rng, shape, (0.25 * mm, 7.0 * mm))
    muscle = 0.26 + 0.22 * (stripes > 0.8)
    echo = np.where(z < iface["skin"], 1.05, fat)
    echo = np.where((z >= iface["fat"]) & (z < iface["gland"]), gland, echo)
    echo = np.where((z >= iface["retro"]) & (z < iface["pect"]), muscle, echo)
    echo = np.where(z >= iface["pect"], 0.24 + 0.1 * (stripes > 1.0), echo).astype(np.float32)
    for name, width, level in (("skin", 0.35, 1.5), ("retro", 0.5, 1.3), ("pect", 0.5, 1.3)):
        echo[np.abs(z - iface[name]) < width] = level
    echo[z[:, 0] < 0.35, :] = 1.6  # the skin entry line
    lig = ndimage.gaussian_filter(
        _lines(shape, _ligaments(rng, iface["fat"], iface["skin"], pixel_mm), 2), 0.6
    )
    fat_layer = (z >= iface["skin"]) & (z < iface["fat"] + 0.5)
    echo = np.where(fat_layer, echo + 1.4 * lig, echo).astype(np.float32)
    return echo, _ribs(echo, tissue, iface["pect"], pixel_mm)


def _ribs(echo: Floats, tissue: Tissue, pect: Floats, p: float) -> list[dict[str, Any]]:
    """Draw ribs, the pleura between them and their shadows into ``echo``; their boxes."""
    rows, cols = echo.shape
    r = np.arange(rows, dtype=np.float32)[:, None]
    c = np.arange(cols, dtype=np.float32)[None, :]
    base = float(np.median(pect))
    pleura_row = (base + max((rib.top_mm + rib.height_mm * 0.6 for rib in tissue.ribs), default=4.0)) / p
    echo[np.abs(r[:, 0] - pleura_row) < 0.4 / p, :] = np.maximum(
        echo[np.abs(r[:, 0] - pleura_row) < 0.4 / p, :], 1.5
    )
    echo[r[:, 0] > pleura_row + 0.4 / p, :] = 0.10
    boxes = []
    for rib in tissue.ribs:
        cx, top = rib.x_mm / p, (base + rib.top_mm) / p
        a, b = rib.width_mm / 2 / p, rib.height_mm / 2 / p
        cy = top + b
        if top >= rows or cx + a < 0 or cx - a >= cols:
            continue
        d = ((c - cx) / a) ** 2 + ((r - cy) / b) ** 2
        inside = d <= 1.0
        rim = (d > 0.78) & (d <= 1.0) & (r <= cy)
        column = np.clip(1 - ((c - cx) / a) ** 2, 0, 1) ** 0.3  # soft shadow edges
        below = r > cy if rib.kind == "bone" else r > cy + b
        residual = 0.04 if rib.kind == "bone" else 0.45
        shadow = np.where(below, 1 - (1 - residual) * column, 1.0)
        if rib.kind == "bone":
            echo[:] = np.where(inside & (r > top + 0.6 / p), 0.05, echo)
            echo[:] = np.where(rim, 2.6, echo) * shadow
        else:
            echo[:] = np.where(inside, 0.05, echo)
            echo[:] = np.where((d > 0.85) & inside, 1.3, echo) * shadow
        c0, c1 = max(0, math.floor(cx - a)), min(cols - 1, math.ceil(cx + a))
        r0, r1 = max(0, math.floor(top)), min(rows - 1, math.ceil(cy + b))
        boxes.append({"kind": "rib", "type": rib.kind, "box": [c0, r0, c1, r1]})
    return boxes


def _polygon_mask(shape: tuple[int, int], points: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Pixels whose centre lies in the polygon (points in corner-origin pixel coordinates)."""
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(canvas).polygon([(float(x) - 0.5, float(y) - 0.5) for x, y in points], fill=1)
    return np.asarray(canvas, dtype=bool)


def _lesion_echo(
    rng: np.random.Generator,
    lesion: UsLesion,
    mask: npt.NDArray[np.bool_],
    poly: npt.NDArray[np.float64],
    p: float,
) -> Floats:
    shape = mask.shape
    if lesion.echo_pattern == "heterogeneous":
        n = _smooth_noise(rng, shape, (0.7 / p, 0.7 / p))
        return np.asarray(0.02 + (0.30 - 0.02) / (1 + np.exp(-(n - 0.3) / 0.35)), dtype=np.float32)
    value = np.full(shape, lesion.echo, dtype=np.float32)
    if lesion.echo_pattern == "complex":  # anechoic with a solid mural nodule
        wall = poly[int(rng.integers(len(poly)))]
        centre = poly.mean(axis=0)
        size = float(np.ptp(poly, axis=0).min())
        radius = float(rng.uniform(0.25, 0.40)) * size
        nodule_c = wall + (centre - wall) / max(float(np.linalg.norm(centre - wall)), 1e-6) * radius * 0.7
        rr, cc = np.ogrid[: shape[0], : shape[1]]
        nodule = (cc + 0.5 - nodule_c[0]) ** 2 + (rr + 0.5 - nodule_c[1]) ** 2 <= radius**2
        value[nodule] = float(rng.uniform(0.08, 0.15))
    return value


def _posterior(echo: Floats, mask: npt.NDArray[np.bool_], lesion: UsLesion, p: float) -> list[int] | None:
    """Multiply the region below the lesion by its posterior factor; the box of the effect."""
    if lesion.posterior == "none":
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    rows = echo.shape[0]
    c0, c1 = int(cols[0]), int(cols[-1])
    bottom = np.array([np.flatnonzero(mask[:, c])[-1] for c in range(c0, c1 + 1)], dtype=np.float32)
    r = np.arange(rows, dtype=np.float32)[:, None]
    below_mm = (r - bottom[None, :]) * p
    weight = ndimage.gaussian_filter1d(np.ones(c1 - c0 + 1, dtype=np.float32), 1.0, mode="constant")
    g = lesion.posterior_gain
    shadow = g + (1 - g) * (1 - np.exp(-below_mm / 40.0))
    enhance = 1 + (2.0 - 1) * np.exp(-below_mm / 12.0)
    if lesion.posterior == "enhancement":
        factor = 1 + (g - 1) * np.exp(-below_mm / 12.0)
    elif lesion.posterior == "shadowing":
        factor = shadow
    else:  # combined: shadowing behind the middle third, enhancement beside it
        third = (c1 - c0 + 1) / 3
        middle = (np.arange(c1 - c0 + 1) >= third) & (np.arange(c1 - c0 + 1) < 2 * third)
        factor = np.where(middle[None, :], shadow, enhance)
    factor = np.where(below_mm > 0, 1 + (factor - 1) * weight[None, :], 1.0).astype(np.float32)
    echo[:, c0 : c1 + 1] *= factor
    top = int(bottom.max()) + 1  # below the whole lesion
    return [c0, min(top, rows - 1), c1, min(rows - 1, top + round(12.0 / p))]


def render_lesions(
    echo: Floats, placements: list[LesionPlacement], pixel_mm: float, seed: int
) -> list[RenderedLesion]:
    """Draw each lesion section into ``echo`` (in place) and return masks and posterior boxes."""
    shape = echo.shape
    out = []
    for k, pl in enumerate(placements):
        lesion = pl.lesion
        rng = np.random.default_rng(np.random.SeedSequence([seed, lesion.outline_seed, pl.view, k]))
        poly = outline_mm(lesion, pl.view, pl.scale) / pixel_mm + np.array(pl.centre_px)
        mask = _polygon_mask(shape, poly)
        if not mask.any():
            continue
        weight = mask.astype(np.float32)
        if lesion.margin_detail == "indistinct":
            weight = ndimage.gaussian_filter(weight, float(rng.uniform(0.6, 1.0)) / pixel_mm)
        value = _lesion_echo(rng, lesion, mask, poly, pixel_mm)
        ring = _ring(mask, 1.0 / pixel_mm, 3.0 / pixel_mm)
        surround = float(np.mean(echo[ring])) if ring.any() else 1.0
        if lesion.echo_pattern == "isoechoic" and lesion.margin_detail == "circumscribed":
            echo[_ring(mask, 0.0, max(1.0, 0.3 / pixel_mm))] *= 2.2  # a thin echogenic pseudocapsule
        if lesion.margin_detail == "spiculated":
            echo[_ring(mask, 0.0, float(rng.uniform(1.0, 2.0)) / pixel_mm)] *= 1.6  # echogenic halo
            lines = [
                [
                    tuple(float(v) for v in a / pixel_mm + pl.centre_px),
                    tuple(float(v) for v in b / pixel_mm + pl.centre_px),
                ]
                for a, b in spicules_mm(lesion, pl.view, outline_mm(lesion, pl.view, pl.scale))
            ]
            spic = _lines(shape, lines, max(1, round(0.3 / pixel_mm)))  # type: ignore[arg-type]
            echo[:] = echo * (1 - spic) + 0.06 * spic
        echo[:] = echo * (1 - weight) + value * weight
        inside = max(float(np.mean(echo[mask])), 1e-3 * surround)
        contrast = {"contrast_db": round(20 * math.log10(inside / surround), 1)}
        out.append(RenderedLesion(pl, mask, _posterior(echo, mask, lesion, pixel_mm), contrast))
    return out


def _ring(mask: npt.NDArray[np.bool_], inner_px: float, outer_px: float) -> npt.NDArray[np.bool_]:
    """Pixels more than ``inner_px`` and at most ``outer_px`` outside ``mask`` (computed in the
    mask's neighbourhood only)."""
    rows, cols = np.nonzero(mask)
    pad = math.ceil(outer_px) + 1
    r0, r1 = max(0, int(rows.min()) - pad), min(mask.shape[0], int(rows.max()) + pad + 1)
    c0, c1 = max(0, int(cols.min()) - pad), min(mask.shape[1], int(cols.max()) + pad + 1)
    distance = ndimage.distance_transform_edt(~mask[r0:r1, c0:c1])
    out = np.zeros_like(mask)
    out[r0:r1, c0:c1] = (distance > inner_px) & (distance <= outer_px)
    return out
