"""Tomosynthesis volume of one view: tissue spread over depth, limited-angle blur, 3-D lesions.

The volume starts from the same noise-free levels as the 2-D view (:func:`anatomy.view_levels`):

- **Depth.** The glandular texture is shared among layers at evenly spaced depths inside the local
  thickness of the compressed breast (which falls off towards the skin as in the 2-D renderer),
  around a smoothly varying depth and with layer-specific random structure; the mean over the
  layers is the 2-D texture, so the projection keeps the 2-D density while a slice shows only the
  tissue at its depth. Fat, pectoral muscle and nipple (``static`` levels) are on every slice.
- **Limited-angle blur.** A structure ``dz`` mm off a 1 mm slice (algorithms.md §6.1, §6.3) is
  back-projected as copies shifted by ``dz·tan θ`` for θ across the scan arc ±α: a blur along the
  sweep (parallel to the chest wall, the image's row axis) with σ = |dz|·tan α / √3, and a third
  of that across it. It also fades, with weight ``exp(-|dz|/λ)`` (λ shorter for wider arcs);
  structures larger than ~30 mm do not resolve in depth (the missing cone), so the large-scale
  density is on every slice.
- **Outline.** Slice heights away from the mid-plane cut the rounded edge of the compressed breast:
  the outline on a slice is the set where the local thickness reaches that height, shrinking
  towards the contact area near the paddle and the breast support.
- **Lesions.** A mass is an ellipsoid (in-plane shape from :func:`lesions.mass_profile`, depth
  extent = its size) drawn slab by slab; a calcification cluster spreads its calcifications over
  a few slices. Each slab goes through the same blur and fade, so a lesion is sharp on the slices
  it occupies and blurred and fainter away from them. Its depth follows its position in the
  breast: superior lesions lie higher on the CC, superomedial ones higher on the MLO.
- **Distractors.** Benign, vascular and skin calcifications are slabs like a cluster's
  calcifications, with their own truth; their depths: :mod:`breastgate.phantoms.tomo_distractors`.
- **Synthesized 2-D.** The mean of the noise-free slices plus half of the excess of their maximum
  (a mean/MIP blend like vendors' synthesized views), with 2-D noise added.

Everything is on the canonical orientation (chest wall on the left); right breasts are mirrored
when frames are produced.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import fft as sfft

from breastgate.phantoms.anatomy import ViewSpec, mirror_truth, power_law_noise, upsample, view_levels
from breastgate.phantoms.lesions import LesionSpec, ViewContext, calc_blob, centre_mm, mass_profile
from breastgate.phantoms.profiles import VendorProfile
from breastgate.phantoms.tomo_distractors import DistractorDepth, draw_distractor

__all__ = ["SLICE_MM", "TomoGeometry", "TomoVolume"]

FloatArray = npt.NDArray[np.float32]
U16Array = npt.NDArray[np.uint16]

#: Reconstructed slice thickness and spacing (algorithms.md §6.1: 1 mm).
SLICE_MM = 1.0
_LOW_PASS_MM = 30.0  # structures larger than this keep their level on every slice
_FADE_MM = 3.0  # e-folding distance of out-of-plane detail for a ±12.5° arc
_CROSS = 1.0 / 3.0  # blur across the sweep relative to along it
_NEGLIGIBLE = 0.01  # lesion slabs fainter than this on a slice are left out
_S2D_MIP = 0.5  # weight of the maximum over slices in the synthesized view
_GAIN = 0.85  # slice levels relative to the 2-D levels: keeps dense slices and masses below saturation
_STRUCTURE = 0.6  # log-normal spread of the layer-specific tissue structure
_MASS_EDGE = 0.1  # soft edge of a mass cross-section, in units of its projected thickness
_TWO_PI2 = 2.0 * math.pi**2


@dataclass(frozen=True)
class TomoGeometry:
    """Slices of a compressed breast: frame 1 lies on the breast support, frame ``frames`` under
    the paddle; ``half_angle_deg`` is half the scan arc."""

    frames: int
    half_angle_deg: float
    slice_mm: float = SLICE_MM

    @property
    def thickness_mm(self) -> float:
        return self.frames * self.slice_mm

    def height_mm(self, frame: int) -> float:
        """Height of the centre of 1-based ``frame`` above the breast support."""
        return (frame - 0.5) * self.slice_mm

    def frame_at(self, height_mm: float) -> int:
        """1-based frame containing ``height_mm`` (clipped to the volume)."""
        return int(min(max(math.floor(height_mm / self.slice_mm) + 1, 1), self.frames))

    @property
    def fade_mm(self) -> float:
        """λ of the out-of-plane fade: wider arcs resolve depth better."""
        return _FADE_MM * math.tan(math.radians(12.5)) / math.tan(math.radians(self.half_angle_deg))

    def fade(self, dz: float) -> float:
        return math.exp(-abs(dz) / self.fade_mm)

    def sweep_sigma_mm(self, dz: float) -> float:
        """Sd of the shifts dz·tan θ for θ uniform in ±half angle (blur along the sweep)."""
        return abs(dz) * math.tan(math.radians(self.half_angle_deg)) / math.sqrt(3.0)

    @property
    def reach_mm(self) -> float:
        """Distance beyond which a lesion slab is negligible on a slice."""
        return self.fade_mm * math.log(1.0 / _NEGLIGIBLE)


class _Stack:
    """2-D images at given depths; :meth:`at` is what a slice at height ``z`` shows of them.

    ``normalise``: the weights of the images on a slice sum to one (a tissue volume sampled at a
    few depths); otherwise each image keeps its own weight (lesion slabs, 1 mm apart).
    """

    def __init__(
        self,
        images: Sequence[FloatArray],
        depths: Sequence[float],
        spacing_mm: float,
        geometry: TomoGeometry,
        *,
        normalise: bool,
        high_pass: bool,
    ) -> None:
        self.shape = images[0].shape
        self._fshape = tuple(sfft.next_fast_len(n, real=True) for n in self.shape)
        fy = sfft.fftfreq(self._fshape[0], d=spacing_mm).astype(np.float32)
        fx = sfft.rfftfreq(self._fshape[1], d=spacing_mm).astype(np.float32)
        fy2, fx2 = (fy * fy)[:, None], (fx * fx)[None, :]
        # A Gaussian of sd σ has transfer exp(-2π²σ²f²); σ² multiplies these per slice.
        self._gy = np.float32(-_TWO_PI2) * fy2
        self._gx = np.float32(-_TWO_PI2 * _CROSS**2) * fx2
        self.low_pass = np.exp(np.float32(-0.5 * _LOW_PASS_MM**2) * (fy2 + fx2))
        self._high = (1.0 - self.low_pass) if high_pass else None
        self._spectra = [sfft.rfft2(img, s=self._fshape) for img in images]
        self._depths = list(depths)
        self._geometry = geometry
        self._normalise = normalise

    def scale(self, factor: float) -> None:
        for spectrum in self._spectra:
            spectrum *= np.float32(factor)

    def to_image(self, spectrum: Any) -> FloatArray:
        out = sfft.irfft2(spectrum, s=self._fshape)[: self.shape[0], : self.shape[1]]
        return np.ascontiguousarray(out, dtype=np.float32)

    def large_scale(self, image: FloatArray) -> FloatArray:
        """The part of ``image`` (same shape as the stack's) that does not resolve in depth."""
        return self.to_image(sfft.rfft2(image, s=self._fshape) * self.low_pass)

    def at(self, z: float) -> FloatArray | None:
        g = self._geometry
        weights = [g.fade(z - depth) for depth in self._depths]
        total = sum(weights) if self._normalise else 1.0
        acc: Any = None
        for depth, w, spectrum in zip(self._depths, weights, self._spectra, strict=True):
            w /= total
            if w < _NEGLIGIBLE:
                continue
            s2 = np.float32(g.sweep_sigma_mm(z - depth) ** 2)
            filt = np.exp(self._gy * s2) * np.exp(self._gx * s2) * np.float32(w)
            term = spectrum * filt
            acc = term if acc is None else acc + term
        if acc is None:
            return None
        if self._high is not None:
            acc *= self._high
        return self.to_image(acc)


@dataclass(frozen=True)
class _Placement:
    """Where a lesion sits: centre (full-resolution pixels, canonical orientation), depth."""

    cx: float
    cy: float
    z0: float  # height above the breast support, a slice centre
    focus: int  # 1-based frame of z0
    rz: float  # half extent in depth, mm
    pad: int  # patch margin for the blur, pixels


class _Lesion3D:
    """A lesion's slabs on a full-resolution patch whose top-left pixel is (r0, c0); accumulates
    what it adds to the slices for the synthesized view."""

    def __init__(self, stack: _Stack, r0: int, c0: int, truth: dict[str, Any]) -> None:
        self.stack, self.r0, self.c0, self.truth = stack, r0, c0, truth
        self._sum = np.zeros(stack.shape, np.float32)
        self._max = np.zeros(stack.shape, np.float32)

    def reset(self) -> None:
        self._sum[:] = 0.0
        self._max[:] = 0.0

    def _window(self, full: FloatArray) -> tuple[slice, slice, slice, slice] | None:
        rows, cols = full.shape
        h, w = self.stack.shape
        rs = slice(max(self.r0, 0), min(self.r0 + h, rows))
        cs = slice(max(self.c0, 0), min(self.c0 + w, cols))
        if rs.start >= rs.stop or cs.start >= cs.stop:
            return None
        prs = slice(rs.start - self.r0, rs.stop - self.r0)
        pcs = slice(cs.start - self.c0, cs.stop - self.c0)
        return rs, cs, prs, pcs

    def add(self, full: FloatArray, z: float, floor: float) -> None:
        """Add the lesion as the slice at ``z`` shows it, inside the breast (values above floor)."""
        patch = self.stack.at(z)
        window = self._window(full)
        if patch is None or window is None:
            return
        rs, cs, prs, pcs = window
        region = full[rs, cs]
        sub = np.where(region > floor, patch[prs, pcs], np.float32(0.0))
        region += sub
        self._sum[prs, pcs] += sub
        np.maximum(self._max[prs, pcs], sub, out=self._max[prs, pcs])

    def add_synthesized(self, full: FloatArray, frames: int, floor: float) -> None:
        """Add the lesion's mean/maximum blend over all slices to the synthesized view."""
        window = self._window(full)
        if window is None:
            return
        rs, cs, prs, pcs = window
        mean = self._sum[prs, pcs] / np.float32(frames)
        blend = mean + np.float32(_S2D_MIP) * (self._max[prs, pcs] - mean)
        region = full[rs, cs]
        region += np.where(region > floor, blend, np.float32(0.0))


def _local_half_mm(dist_mm: Any, falloff_mm: float, thickness_mm: float) -> Any:
    """Half the local thickness of the compressed breast (the 2-D renderer's fall-off)."""
    ramp = np.clip(np.asarray(dist_mm, dtype=np.float32) / np.float32(falloff_mm), 0.0, 1.0)
    return np.sqrt(1.0 - (1.0 - ramp) ** 2) * np.float32(thickness_mm / 2.0)


def _inset_mm(geometry: TomoGeometry, falloff_mm: float, z: float) -> float:
    """How far inside the projected outline the slice at height ``z`` starts."""
    half = geometry.thickness_mm / 2.0
    q = min(abs(z - half) / half, 1.0)
    return falloff_mm * (1.0 - math.sqrt(1.0 - q * q))


def _skin(dist_mm: FloatArray, inset_mm: float) -> FloatArray:
    """The 2-D renderer's skin line, moved ``inset_mm`` inwards."""
    d = (dist_mm - np.float32(inset_mm + 0.7)) / np.float32(0.5)
    out: FloatArray = (0.10 * np.exp(-(d * d))).astype(np.float32)
    return out


class TomoVolume:
    """The slices (and the synthesized 2-D view) of one view, produced frame by frame.

    Parameters
    ----------
    spec, profile
        The view and a profile whose pixel spacing is the reconstruction pixel.
    geometry
        Number of slices and scan arc.
    lesions
        Placed lesions and distractors (:func:`lesions.plan_lesions`); those of the other breast
        are ignored.
    context
        Lesion geometry of this view (:func:`anatomy.view_context` with the same profile).
    half_heights
        Half heights (mm) of the CC and MLO outlines of this breast (lesion depth normalisation).
    synthesized
        Accumulate the synthesized 2-D view while frames are produced.
    """

    def __init__(
        self,
        spec: ViewSpec,
        profile: VendorProfile,
        geometry: TomoGeometry,
        lesions: Sequence[LesionSpec],
        context: ViewContext,
        half_heights: Mapping[str, float],
        *,
        synthesized: bool = True,
    ) -> None:
        self.spec, self.profile, self.geometry = spec, profile, geometry
        self.levels = view_levels(spec, profile)
        self._synth = synthesized
        self._sum = np.zeros_like(self.levels.static)
        self._max = np.zeros_like(self.levels.static)
        self._done = 0
        ws = self.levels.working_spacing_mm
        self._pad = math.ceil(3.0 * geometry.sweep_sigma_mm(geometry.reach_mm) / ws) + 2
        self._tissue, self._base = self._layers(np.random.default_rng([spec.seed, 0xDB7]))
        mine = [les for les in lesions if les.laterality == spec.laterality and les.distractor is None]
        self._lesions = [self._lesion(les, context, half_heights) for les in mine]
        fakes = [les for les in lesions if les.laterality == spec.laterality and les.distractor is not None]
        drawn = (self._distractor(les, context, half_heights) for les in fakes)
        self._distractors = [d for d in drawn if d is not None]

    # ------------------------------------------------------------------ truth
    @property
    def percent_dense(self) -> float:
        """Dense area percentage of the view (the 2-D truth: same mask as the FFDM renderer)."""
        lv = self.levels
        tissue = int(np.count_nonzero(lv.breast & ~lv.pectoral))
        return 100.0 * int(np.count_nonzero(lv.dense)) / max(tissue, 1)

    @property
    def breast_area_cm2(self) -> float:
        lv = self.levels
        return int(np.count_nonzero(lv.breast & ~lv.pectoral)) * (lv.working_spacing_mm / 10.0) ** 2

    @property
    def lesion_truth(self) -> tuple[dict[str, object], ...]:
        """Per lesion: id, centre, bbox (final orientation), frames [first, last], focus_frame,
        height_mm above the breast support; clusters also calcifications and their frames."""
        return self._marks(self._lesions)

    @property
    def distractor_truth(self) -> tuple[dict[str, object], ...]:
        """Per distractor drawn on this view, as :attr:`lesion_truth` (skin calcifications with
        ``calcifications`` and ``calcification_frames``)."""
        return self._marks(self._distractors)

    def _marks(self, drawn: Sequence[_Lesion3D]) -> tuple[dict[str, object], ...]:
        out = [dict(les.truth) for les in drawn]
        if self.spec.laterality == "R":
            out = [mirror_truth(t, self.profile.columns) for t in out]
        return tuple(out)

    # ------------------------------------------------------------------ tissue
    def _layers(self, rng: np.random.Generator) -> tuple[_Stack, FloatArray]:
        """Glandular tissue as a volume sampled at a few depths, and its large-scale part.

        At each pixel the tissue is shared among the layers inside the local thickness, around a
        smoothly varying depth, with layer-specific random structure; the mean over the layers is
        the 2-D glandular level, so the projection keeps the 2-D view's density.
        """
        lv, g = self.levels, self.geometry
        t = g.thickness_mm
        count = int(np.clip(round(g.frames / 4), 6, 20))
        depths = [(k + 0.5) * t / count for k in range(count)]
        half = _local_half_mm(lv.dist_mm, self.spec.shape.falloff_mm, t)
        shape = lv.gland.shape
        centre = np.float32(t / 2.0) + 0.6 * half * np.tanh(1.2 * power_law_noise(shape, 2.5, rng))
        spread = np.maximum(0.4 * half, np.float32(t / count))
        shares = []
        for d in depths:
            inside = np.abs(np.float32(d - t / 2.0)) <= half + np.float32(t / (2 * count))
            weight = np.exp(-0.5 * ((np.float32(d) - centre) / spread) ** 2) * inside
            shares.append((weight * np.exp(_STRUCTURE * power_law_noise(shape, 2.8, rng))).astype(np.float32))
        total = np.sum(shares, axis=0)
        middle = count // 2
        shares[middle] = np.where(total > 0, shares[middle], np.float32(1.0))
        total = np.where(total > 0, total, np.float32(1.0))
        cap = np.float32(1.6 * self.spec.dense_contrast)
        p = self._pad
        layers = []
        for share in shares:
            layer = np.float32(count) * lv.gland * share / total
            layers.append(np.pad(cap * np.tanh(layer / cap), p).astype(np.float32))
        stack = _Stack(layers, depths, lv.working_spacing_mm, g, normalise=True, high_pass=True)
        base = stack.large_scale(np.pad(lv.gland, p))
        h, w = shape
        return stack, np.ascontiguousarray(base[p : p + h, p : p + w])

    def _level(self, z: float) -> tuple[FloatArray, npt.NDArray[np.bool_], float]:
        """Level (fraction of full scale, no skin) of the slice at ``z`` on the working grid, the
        slice's outline, and its inset."""
        lv = self.levels
        inset = _inset_mm(self.geometry, self.spec.shape.falloff_mm, z)
        detail = self._tissue.at(z)
        p, (h, w) = self._pad, lv.static.shape
        level = lv.static + self._base
        if detail is not None:
            level = level + detail[p : p + h, p : p + w]
        inside = lv.breast & (lv.dist_mm >= np.float32(inset))
        return np.where(inside, _GAIN * level, np.float32(0.0)).astype(np.float32), inside, inset

    # ------------------------------------------------------------------ lesions
    def _lesion(self, lesion: LesionSpec, ctx: ViewContext, half_heights: Mapping[str, float]) -> _Lesion3D:
        g, px = self.geometry, self.profile.pixel_spacing_mm
        x, y = centre_mm(lesion, ctx)
        half_local = self._half_at(x, y)
        mass = lesion.kind == "mass"
        rz = lesion.size_mm / 2.0 if mass else float(np.clip(lesion.size_mm / 4.0, 1.0, 4.0))
        focus = g.frame_at(self._height(lesion, half_heights, half_local, rz))
        pad = math.ceil(3.0 * g.sweep_sigma_mm(g.reach_mm) / px) + 2
        where = _Placement(x / px, y / px, g.height_mm(focus), focus, rz, pad)
        return self._mass(lesion, where) if mass else self._cluster(lesion, where)

    def _half_at(self, x_mm: float, y_mm: float) -> float:
        """Half the local thickness at (x, y) mm of the canonical view; 0 outside the breast."""
        ws = self.levels.working_spacing_mm
        h, w = self.levels.dist_mm.shape
        r, c = min(max(round(y_mm / ws), 0), h - 1), min(max(round(x_mm / ws), 0), w - 1)
        dist = float(self.levels.dist_mm[r, c])
        return float(_local_half_mm(dist, self.spec.shape.falloff_mm, self.geometry.thickness_mm))

    def _distractor(
        self, lesion: LesionSpec, ctx: ViewContext, half_heights: Mapping[str, float]
    ) -> _Lesion3D | None:
        """A distractor's slabs (depths: :mod:`breastgate.phantoms.tomo_distractors`)."""
        g, px = self.geometry, self.profile.pixel_spacing_mm
        x, y = centre_mm(lesion, ctx)
        z0 = self._height(lesion, half_heights, self._half_at(x, y), 1.0)
        falloff = self.spec.shape.falloff_mm
        depth = DistractorDepth(g, z0, lambda d: float(_local_half_mm(d, falloff, g.thickness_mm)))
        pad = math.ceil(3.0 * g.sweep_sigma_mm(g.reach_mm) / px) + 2
        drawn = draw_distractor(lesion, ctx, depth, _GAIN * self.profile.max_value, pad)
        if drawn is None:
            return None
        frames = sorted(drawn.by_frame)
        slabs = [drawn.by_frame[f] for f in frames]
        stack = _Stack(slabs, [g.height_mm(f) for f in frames], px, g, normalise=False, high_pass=False)
        return _Lesion3D(stack, drawn.r0, drawn.c0, drawn.truth)

    def _height(
        self, lesion: LesionSpec, half_heights: Mapping[str, float], half_local: float, rz: float
    ) -> float:
        """Depth from the position in the breast: superior is higher on the CC (detector below),
        superomedial is higher on the MLO (detector inferolateral)."""
        s_max = 0.5 * half_heights.get("MLO", half_heights.get("CC", 50.0))
        m_max = 0.55 * half_heights.get("CC", half_heights.get("MLO", 50.0))
        cc = self.spec.view == "CC"
        u = lesion.s_mm / s_max if cc else (lesion.m_mm + lesion.s_mm) / (m_max + s_max)
        room = max(half_local - rz - 1.0, 0.0)
        return self.geometry.thickness_mm / 2.0 + float(np.clip(u, -1.0, 1.0)) * room

    def _mass(self, lesion: LesionSpec, at: _Placement) -> _Lesion3D:
        """An ellipsoid: the cross-section at depth offset h is where the projected thickness
        profile exceeds |h|/rz; the focus slice shows the lesion's full contrast at its centre."""
        g, px = self.geometry, self.profile.pixel_spacing_mm
        prof, half, info = mass_profile(lesion, px)
        reach = max(math.ceil(at.rz / g.slice_mm) - 1, 0)
        slabs, depths = [], []
        for j in range(-reach, reach + 1):
            cut = abs(j * g.slice_mm) / at.rz
            slabs.append(np.pad(np.clip((prof - cut) / _MASS_EDGE, 0.0, 1.0), at.pad).astype(np.float32))
            depths.append(at.z0 + j * g.slice_mm)
        stack = _Stack(slabs, depths, px, g, normalise=False, high_pass=False)
        unit = stack.at(at.z0)
        centre_value = float(unit[half + at.pad, half + at.pad]) if unit is not None else 1.0
        stack.scale(_GAIN * lesion.contrast * self.profile.max_value / (centre_value or 1.0))
        e = info["extent_px"]
        ccol, crow = round(at.cx) + 0.5, round(at.cy) + 0.5
        truth = {
            "id": lesion.id,
            "centre": [ccol, crow],
            "bbox": [ccol + e[0] - 0.5, crow + e[1] - 0.5, ccol + e[2] - 0.5, crow + e[3] - 0.5],
            "frames": [max(at.focus - reach, 1), min(at.focus + reach, g.frames)],
            "focus_frame": at.focus,
            "height_mm": round(at.z0, 2),
        }
        corner = half + at.pad
        return _Lesion3D(stack, round(at.cy) - corner, round(at.cx) - corner, truth)

    def _cluster(self, lesion: LesionSpec, at: _Placement) -> _Lesion3D:
        """Calcifications spread over slices within ±rz of the focus; each is sharp on its slice."""
        g, px = self.geometry, self.profile.pixel_spacing_mm
        rng = np.random.default_rng([lesion.seed, 0xCA1C])
        extent = max((math.hypot(c.du, c.dv) + c.diameter_mm for c in lesion.calcs), default=1.0)
        corner = math.ceil(extent / px) + 4 + at.pad
        r0, c0 = round(at.cy) - corner, round(at.cx) - corner
        size = 2 * corner + 1
        slabs: dict[int, FloatArray] = {}
        points, frames = [], []
        for calc in lesion.calcs:
            j = round(float(rng.uniform(-at.rz, at.rz)) / g.slice_mm)
            j = int(np.clip(j, 1 - at.focus, g.frames - at.focus))
            x, y = at.cx + calc.du / px, at.cy + calc.dv / px
            slab = slabs.setdefault(j, np.zeros((size, size), np.float32))
            calc_blob(slab, x - c0, y - r0, calc, px, _GAIN * calc.level * self.profile.max_value)
            points.append([x + 0.5, y + 0.5])
            frames.append(at.focus + j)
        keys = sorted(slabs)
        depths = [at.z0 + j * g.slice_mm for j in keys]
        stack = _Stack([slabs[j] for j in keys], depths, px, g, normalise=False, high_pass=False)
        arr = np.array(points)
        edge = 0.5 / px
        truth = {
            "id": lesion.id,
            "centre": [at.cx + 0.5, at.cy + 0.5],
            "bbox": [
                float(arr[:, 0].min() - edge),
                float(arr[:, 1].min() - edge),
                float(arr[:, 0].max() + edge),
                float(arr[:, 1].max() + edge),
            ],
            "calcifications": points,
            "calcification_frames": frames,
            "frames": [min(frames), max(frames)],
            "focus_frame": at.focus,
            "height_mm": round(at.z0, 2),
        }
        return _Lesion3D(stack, r0, c0, truth)

    # ------------------------------------------------------------------ output
    def frames(self) -> Iterator[tuple[int, U16Array]]:
        """Yield (1-based frame number, stored pixels in the final orientation), one slice at a time."""
        rows, cols = self.profile.rows, self.profile.columns
        maxv = self.profile.max_value
        nmax = 255 >> self.profile.noise_shift
        floor = -float(nmax) - 1.0
        self._sum[:], self._max[:], self._done = 0.0, 0.0, 0
        for lesion in (*self._lesions, *self._distractors):
            lesion.reset()
        for frame in range(1, self.geometry.frames + 1):
            z = self.geometry.height_mm(frame)
            level, inside, inset = self._level(z)
            if self._synth:
                self._sum += level
                np.maximum(self._max, level, out=self._max)
            value = (level + _skin(self.levels.dist_mm, inset)) * maxv - nmax / 2.0
            full = upsample(np.where(inside, value, -float(nmax) - 2.0).astype(np.float32), rows, cols)
            for lesion in (*self._lesions, *self._distractors):
                lesion.add(full, z, floor)
            self._done = frame
            yield frame, self._finish(full, np.random.default_rng([self.spec.seed, 0xDB7, frame]))

    def _finish(self, full: FloatArray, rng: np.random.Generator) -> U16Array:
        """Quantum noise, clipping to the stored range, mirroring of right breasts."""
        rows, cols = full.shape
        noise = np.frombuffer(rng.bytes(rows * cols), dtype=np.uint8).reshape(rows, cols)
        full += np.right_shift(noise, np.uint8(self.profile.noise_shift))
        np.clip(full, 0.0, float(self.profile.max_value), out=full)
        pixels = full.astype(np.uint16)
        if self.spec.laterality == "R":
            pixels = np.ascontiguousarray(pixels[:, ::-1])
        return pixels

    def synthesized_2d(self) -> U16Array:
        """The synthesized 2-D view: mean of the noise-free slices plus half the excess of their
        maximum, skin line at the projected outline, 2-D noise. Needs :meth:`frames` exhausted."""
        n = self.geometry.frames
        if not self._synth or self._done != n:
            raise RuntimeError("synthesized_2d() needs frames() run to the end with synthesized=True")
        lv = self.levels
        maxv = self.profile.max_value
        nmax = 255 >> self.profile.noise_shift
        mean = self._sum / np.float32(n)
        level = mean + np.float32(_S2D_MIP) * (self._max - mean) + _skin(lv.dist_mm, 0.0)
        work = np.where(lv.breast, level * maxv - nmax / 2.0, -float(nmax) - 2.0).astype(np.float32)
        full = upsample(work, self.profile.rows, self.profile.columns)
        for lesion in (*self._lesions, *self._distractors):
            lesion.add_synthesized(full, n, -float(nmax) - 1.0)
        return self._finish(full, np.random.default_rng([self.spec.seed, 0x52D]))
