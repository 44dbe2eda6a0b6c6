"""Voxels of the DCE-MRI phantom: tissue maps → SPGR signal per phase → motion, bias, Rician noise.

The volume is rendered slab by slab (``SLAB`` slices plus a margin for motion in z), every phase of a
slab at once, so a 512×512×160×6 study needs a few hundred MB at most. Noise of a slab and phase
comes from its own generator (seed, slab, phase), so a study's voxels do not depend on the output
form or on which slabs were rendered first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from breastgate.phantoms.dce_physics import Sequence, ToftsTable, spgr
from breastgate.phantoms.mri_anatomy import TISSUES, DceAnatomy
from breastgate.phantoms.mri_lesions import DceLesion

__all__ = ["SLAB", "DceGeometry", "Imaging", "lesion_labels", "render_slabs"]

SLAB = 8
_MARGIN = 2
Floats = npt.NDArray[np.floating[Any]]
U16 = npt.NDArray[np.uint16]


@dataclass(frozen=True)
class DceGeometry:
    """Axial voxel grid in patient coordinates (LPS): voxel (k, r, c) is at origin + c·dx·x̂ + r·dy·ŷ
    + k·dz·ẑ (ImageOrientationPatient [1,0,0,0,1,0]; slices ascend in z, inferior to superior)."""

    rows: int
    cols: int
    slices: int
    pixel_mm: float
    slice_mm: float
    origin_mm: tuple[float, float, float]  # centre of voxel (0, 0, 0), patient frame

    def axes(self, k0: int, k1: int) -> tuple[Floats, Floats, Floats]:
        """Patient x (1,1,C), y (1,R,1), z (K,1,1) of slices k0..k1-1 (may lie outside the volume)."""
        x0, y0, z0 = self.origin_mm
        x = x0 + self.pixel_mm * np.arange(self.cols, dtype=np.float64)
        y = y0 + self.pixel_mm * np.arange(self.rows, dtype=np.float64)
        z = z0 + self.slice_mm * np.arange(k0, k1, dtype=np.float64)
        return x[None, None, :], y[None, :, None], z[:, None, None]

    def slice_position(self, k: int) -> list[float]:
        x0, y0, z0 = self.origin_mm
        return [x0, y0, z0 + k * self.slice_mm]

    def to_voxel(self, point_mm: Floats) -> Floats:
        x0, y0, z0 = self.origin_mm
        p = np.asarray(point_mm, dtype=np.float64)
        out: Floats = np.array(
            [(p[2] - z0) / self.slice_mm, (p[1] - y0) / self.pixel_mm, (p[0] - x0) / self.pixel_mm]
        )
        return out


@dataclass(frozen=True)
class Imaging:
    """Everything about the acquisition of one study that shapes its voxels."""

    seed: int
    sequence: Sequence
    table: ToftsTable
    offset_mm: tuple[float, float, float]  # patient = body + offset
    motion_vox: tuple[tuple[float, float, float], ...]  # per phase (slice, row, col) shift
    snr: float
    gain: float
    bias: tuple[float, float, float]  # amplitude, anterior gradient, lateral curvature
    blood_vp: float
    blur_vox: float = 0.0  # in-plane Gaussian PSF sigma (voxels): k-space filter of the scanner


def _component_signal(
    seq: Sequence, table: ToftsTable, phase: int, m0: Floats, t10: Floats, kt: Floats, kep: Floats, vp: Floats
) -> Floats:
    conc = table.concentration(phase, kt, kep, vp)
    return spgr(m0, t10, conc, seq)


def _vessel_fraction(anatomy: DceAnatomy, geo: DceGeometry, imaging: Imaging, k0: int, k1: int) -> Floats:
    """Partial-volume fraction of vessel in each voxel of slices k0..k1-1 (max over centreline points)."""
    out = np.zeros((k1 - k0, geo.rows, geo.cols), dtype=np.float32)
    off = np.array(imaging.offset_mm)
    vox = np.array([geo.slice_mm, geo.pixel_mm, geo.pixel_mm])
    for vessel in anatomy.vessels:
        pts = vessel.points_mm + off
        idx = np.array([geo.to_voxel(p) for p in pts])  # (N, 3): k, r, c
        reach = np.ceil((vessel.radius_mm + vox.max()) / vox).astype(int)
        keep = (idx[:, 0] >= k0 - reach[0]) & (idx[:, 0] < k1 + reach[0])
        if not keep.any():
            continue
        idx = idx[keep]
        grids = np.meshgrid(*(np.arange(-n, n + 1) for n in reach), indexing="ij")
        offs = np.stack([g.ravel() for g in grids], axis=1)
        cells = np.round(idx)[:, None, :] + offs[None, :, :]  # (N, M, 3)
        dist = np.linalg.norm((cells - idx[:, None, :]) * vox, axis=2)
        frac = np.clip((vessel.radius_mm + 0.5 * vox.min() - dist) / vox.min(), 0.0, 1.0)
        cells = cells.reshape(-1, 3).astype(int)
        frac = frac.ravel()
        ok = (
            (frac > 0)
            & (cells[:, 0] >= k0)
            & (cells[:, 0] < k1)
            & (cells[:, 1] >= 0)
            & (cells[:, 1] < geo.rows)
            & (cells[:, 2] >= 0)
            & (cells[:, 2] < geo.cols)
        )
        flat = np.ravel_multi_index((cells[ok, 0] - k0, cells[ok, 1], cells[ok, 2]), out.shape)
        np.maximum.at(out.ravel(), flat, frac[ok].astype(np.float32))
    return out


def _lesion_patch(
    lesion: DceLesion, geo: DceGeometry, imaging: Imaging, k0: int, k1: int
) -> tuple[tuple[slice, slice, slice], Floats, Floats] | None:
    """Bounding box (within slices k0..k1-1), soft fraction and normalised distance of a lesion."""
    c = np.array(lesion.centre_mm) + np.array(imaging.offset_mm)
    reach = lesion.reach_mm + 2 * max(geo.pixel_mm, geo.slice_mm)
    lo = geo.to_voxel(c - reach)
    hi = geo.to_voxel(c + reach)
    kk = (max(math.floor(lo[0]), k0), min(math.ceil(hi[0]) + 1, k1))
    rr = (max(math.floor(lo[1]), 0), min(math.ceil(hi[1]) + 1, geo.rows))
    cc = (max(math.floor(lo[2]), 0), min(math.ceil(hi[2]) + 1, geo.cols))
    if kk[0] >= kk[1] or rr[0] >= rr[1] or cc[0] >= cc[1]:
        return None
    x, y, z = geo.axes(kk[0], kk[1])
    x, y = x[..., cc[0] : cc[1]], y[:, rr[0] : rr[1], :]
    off = imaging.offset_mm
    d = lesion.distance(x - off[0], y - off[1], z - off[2])
    scale = min(min(r) for _, r in lesion.lobes)
    frac = np.clip(0.5 + (1.0 - d) * scale / min(geo.pixel_mm, geo.slice_mm), 0.0, 1.0)
    box = (slice(kk[0] - k0, kk[1] - k0), slice(*rr), slice(*cc))
    return box, frac, d


def _shift_linear(a: npt.NDArray[np.float32], shift: tuple[float, ...]) -> npt.NDArray[np.float32]:
    """``scipy.ndimage.shift(a, shift, order=1, mode="nearest")``, one axis at a time (faster)."""
    for axis, s in enumerate(shift):
        if abs(s) < 1e-6:
            continue
        n = math.floor(s)
        f = np.float32(s - n)
        index = np.arange(a.shape[axis])
        lo = np.take(a, np.clip(index - n, 0, a.shape[axis] - 1), axis=axis)
        hi = np.take(a, np.clip(index - n - 1, 0, a.shape[axis] - 1), axis=axis)
        a = (1 - f) * lo + f * hi
    return a


def _bias(geo: DceGeometry, imaging: Imaging) -> Floats:
    """Smooth receive-coil sensitivity over the axial plane (same for every slice and phase)."""
    amp, grad, curv = imaging.bias
    v = np.linspace(-1, 1, geo.rows)[:, None]
    u = np.linspace(-1, 1, geo.cols)[None, :]
    out: Floats = 1.0 + amp * (-grad * v - curv * u**2)
    return np.clip(out, 0.5, 1.5)


def render_slabs(
    anatomy: DceAnatomy, lesions: list[DceLesion], geo: DceGeometry, imaging: Imaging
) -> Iterator[tuple[int, U16]]:
    """Yield (first slice, uint16 array (phases, slices, rows, cols)) slab by slab."""
    seq, table = imaging.sequence, imaging.table
    n_phases = len(table.times)
    bias = _bias(geo, imaging)
    blood = TISSUES["blood"]
    scale = imaging.gain * 3000.0 / math.sin(math.radians(seq.flip_deg))
    sigma = 0.85 * float(spgr(1.0, 1.3, 0.0, seq)) * scale / imaging.snr
    off = imaging.offset_mm
    for slab_index, k0 in enumerate(range(0, geo.slices, SLAB)):
        k1 = min(k0 + SLAB, geo.slices)
        m0, m1 = k0 - _MARGIN, k1 + _MARGIN
        x, y, z = geo.axes(m0, m1)
        maps = anatomy.maps(x - off[0], y - off[1], z - off[2])
        vessel = _vessel_fraction(anatomy, geo, imaging, m0, m1)
        patches = [(p, les) for les in lesions if (p := _lesion_patch(les, geo, imaging, m0, m1)) is not None]
        enhancing = (maps.ktrans > 0) | (maps.vp > 0)
        e_params = [a[enhancing] for a in (maps.m0, maps.t10, maps.ktrans, maps.kep, maps.vp)]
        pre = spgr(maps.m0, maps.t10, 0.0, seq).astype(np.float32)
        del maps
        v = vessel > 0
        out = np.empty((n_phases, k1 - k0, geo.rows, geo.cols), dtype=np.uint16)
        for phase in range(n_phases):
            signal = pre.copy()
            if table.times[phase] > 0 and e_params[0].size:
                signal[enhancing] = _component_signal(seq, table, phase, *e_params)
            if v.any():
                zero = np.zeros(1)
                s_blood = float(
                    _component_signal(
                        seq,
                        table,
                        phase,
                        blood[0] + zero,
                        blood[1] + zero,
                        zero,
                        zero,
                        imaging.blood_vp + zero,
                    )[0]
                )
                signal[v] = (1 - vessel[v]) * signal[v] + vessel[v] * s_blood
            for (box, frac, d), les in patches:
                kt, kep, vp = les.kinetics_at(d)
                s_les = _component_signal(
                    seq, table, phase, np.array(les.m0), np.array(les.t10_s), kt, kep, vp
                )
                signal[box] = (1 - frac) * signal[box] + frac * s_les
            if imaging.blur_vox > 0:
                for axis in (1, 2):
                    signal = ndimage.gaussian_filter1d(signal, imaging.blur_vox, axis=axis, truncate=2.5)
            signal = _shift_linear(signal, imaging.motion_vox[phase])
            signal = signal[_MARGIN : _MARGIN + (k1 - k0)] * (bias * scale).astype(np.float32)[None]
            rng = np.random.default_rng([imaging.seed, 0x4D52, slab_index, phase])
            real = signal + rng.standard_normal(signal.shape, dtype=np.float32) * np.float32(sigma)
            imag = rng.standard_normal(signal.shape, dtype=np.float32) * np.float32(sigma)
            magnitude = np.sqrt(real * real + imag * imag)
            out[phase] = np.clip(np.rint(magnitude), 0, 4095).astype(np.uint16)
        yield k0, out


def lesion_labels(lesions: list[DceLesion], geo: DceGeometry, imaging: Imaging) -> npt.NDArray[np.uint8]:
    """Label volume (slices, rows, cols) of the pre-contrast phase: lesion i+1 where at least half
    of a voxel is lesion i (later lesions win where they touch), 0 elsewhere."""
    out = np.zeros((geo.slices, geo.rows, geo.cols), dtype=np.uint8)
    for i, lesion in enumerate(lesions):
        patch = _lesion_patch(lesion, geo, imaging, 0, geo.slices)
        if patch is not None:
            box, frac, _ = patch
            out[box][frac >= 0.5] = i + 1
    return out
