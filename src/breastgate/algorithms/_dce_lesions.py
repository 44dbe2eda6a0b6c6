"""Enhancing-lesion segmentation and per-lesion measurements on DCE-MRI maps.

1. Seeds: connected components (3-D, face connectivity) of peak enhancement ≥ ``seed_pct`` inside
   the breast mask (so the heart, the chest wall and the skin never seed).
2. Each seed is grown/cut at half its contrast: level h = bg + ½ (L − bg), with L the 95th
   percentile of the seed's peak enhancement and bg the median of a shell around it; the lesion is
   the connected region ≥ h that holds the seed (holes filled, so rim enhancement keeps its core).
   Half contrast puts the edge where a blurred boundary crosses the lesion's true edge, whatever
   its level, which is what makes sizes comparable across lesions.
3. Kept only when focal: the core (the brighter half of the region) is ``focal_ratio`` times the
   75th percentile of a ``ring_inner_mm``-``ring_outer_mm`` shell around it (``fast_focal_ratio``
   when the core rises fast). Diffuse background parenchymal enhancement continues into its
   shell and fails; a lesion stands out of fat or of enhancing parenchyma alike.
4. Vessels are dropped: largest inscribed radius ≤ ``vessel_radius_mm`` and elongation (ratio of
   the first two principal axes) ≥ ``vessel_elongation``; regions above ``max_volume_mm3`` too.

Diameters are those of the solid ellipsoid with the region's second moments (2 √(5 λᵢ)), largest
first; the worst curve type is the most suspicious one held by at least ``worst_min_share`` of the
region's voxels (a few noisy voxels do not make a washout lesion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from breastgate.algorithms._dce_maps import BoolArray, KineticsParameters, Maps, delayed_phase, initial_phase
from breastgate.domain.model import DelayedPhase, InitialPhase
from breastgate.imaging.dce import Grid

_FACES = ndi.generate_binary_structure(3, 1)


@dataclass(frozen=True)
class Lesion:
    """One enhancing lesion on the voxel grid."""

    box: tuple[slice, slice, slice]
    mask: BoolArray  # within box
    centre_index: tuple[float, float, float]  # (slice, row, column), voxel centres
    diameters_mm: tuple[float, float, float]
    volume_mm3: float
    initial: InitialPhase
    delayed: DelayedPhase
    mean_delayed: DelayedPhase
    early_pct: float
    peak_pct: float
    change_pct: float
    shares: dict[DelayedPhase, float]
    focal_ratio: float


@dataclass
class Rejected:
    """Why candidates were set aside (counts by reason)."""

    small: int = 0
    diffuse: int = 0
    vessel: int = 0
    large: int = 0


def _expand(
    box: tuple[slice, ...], margin: tuple[int, int, int], shape: tuple[int, ...]
) -> tuple[slice, slice, slice]:
    return tuple(  # type: ignore[return-value]
        slice(max(s.start - m, 0), min(s.stop + m, n)) for s, m, n in zip(box, margin, shape, strict=True)
    )


def _shell(mask: BoolArray, spacing: tuple[float, float, float], inner: float, outer: float) -> BoolArray:
    distance = ndi.distance_transform_edt(~mask, sampling=spacing)
    shell: BoolArray = (distance > inner) & (distance <= outer)
    return shell


def principal_axes(
    mask: BoolArray, spacing: tuple[float, float, float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Eigenvalues (descending, mm²) and eigenvectors (columns, index space in mm) of a region."""
    points = np.argwhere(mask).astype(np.float64) * np.asarray(spacing)
    if len(points) < 2:
        return np.zeros(3), np.eye(3)
    values, vectors = np.linalg.eigh(np.cov(points.T))
    order = np.argsort(values)[::-1]
    return np.maximum(values[order], 0.0), vectors[:, order]


def _is_vessel(mask: BoolArray, spacing: tuple[float, float, float], params: KineticsParameters) -> bool:
    values, _ = principal_axes(mask, spacing)
    elongation = math.sqrt(values[0] / max(values[1], 1e-6))
    inscribed = float(ndi.distance_transform_edt(np.pad(mask, 1), sampling=spacing).max())
    return (
        inscribed <= params.vessel_radius_mm + 0.5 * min(spacing) and elongation >= params.vessel_elongation
    )


def _occupancy(
    mask: BoolArray, box: tuple[slice, slice, slice], maps: Maps, background: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Voxel indices (n, 3) and partial-volume fractions of the region and a one-voxel rim.

    Fraction = (E − bg) / (L − bg) clipped to 0-1, with L the mean of the region's brighter half:
    a voxel's mean signal is the share of it the lesion fills, so the fractions sum to the volume
    and weight the moments without the staircase of a thresholded mask (thick slices above all).
    """
    peak = maps.peak_pct[box]
    values = peak[mask]
    level = float(np.mean(values[values >= np.median(values)]))
    rim = ndi.binary_dilation(mask, structure=np.ones((3, 3, 3), bool)) & maps.breast[box]
    index = np.argwhere(rim)
    fraction = np.clip((peak[rim] - background) / max(level - background, 1e-3), 0.0, 1.0)
    fraction[mask[rim]] = np.maximum(fraction[mask[rim]], 0.5)
    return index.astype(np.float64), fraction.astype(np.float64)


def weighted_axes(
    index: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64],
    spacing: tuple[float, float, float],
    smooth_mm: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Centre (index space) and diameters (mm, 2 √(5 λ), largest first) of weighted voxels.

    A voxel's fraction is the lesion integrated over the voxel, so the moments are those of
    grouped data and overstate the variance by s²/12 per axis (Sheppard's correction); the
    in-plane smoothing of the maps widens the profile by its σ², taken off too.
    """
    total = float(weight.sum())
    centre = (index * weight[:, None]).sum(axis=0) / total
    points = (index - centre) * np.asarray(spacing)
    cov = (points * weight[:, None]).T @ points / total
    cov -= np.diag([s * s / 12.0 for s in spacing])
    cov -= np.diag([0.0, smooth_mm * smooth_mm, smooth_mm * smooth_mm])
    values = np.sort(np.maximum(np.linalg.eigvalsh(cov), 0.0))[::-1]
    return centre, 2.0 * np.sqrt(5.0 * values)


def _measure(
    mask: BoolArray,
    box: tuple[slice, slice, slice],
    maps: Maps,
    grid: Grid,
    params: KineticsParameters,
    ratio: float,
    background: float,
) -> Lesion:
    spacing = grid.spacing
    index, fraction = _occupancy(mask, box, maps, background)
    centre, diameters = weighted_axes(index, fraction, spacing, params.smooth_px * spacing[2])
    centre = centre + np.array([s.start for s in box])
    early = maps.early_pct[box][mask]
    peak = maps.peak_pct[box][mask]
    change = maps.change_pct[box][mask]
    core = peak >= np.median(peak)
    classes = [delayed_phase(float(c), params) for c in change]
    shares = {d: sum(1 for c in classes if c == d) / len(classes) for d in DelayedPhase}
    worst = DelayedPhase.PERSISTENT
    for candidate in (DelayedPhase.WASHOUT, DelayedPhase.PLATEAU):
        if shares[candidate] >= params.worst_min_share:
            worst = candidate
            break
    core_change = float(np.mean(change[core]))
    core_early = float(np.mean(early[core]))
    return Lesion(
        box=box,
        mask=mask,
        centre_index=(float(centre[0]), float(centre[1]), float(centre[2])),
        diameters_mm=(
            round(float(diameters[0]), 1),
            round(float(diameters[1]), 1),
            round(float(diameters[2]), 1),
        ),
        volume_mm3=round(float(fraction.sum()) * spacing[0] * spacing[1] * spacing[2], 1),
        initial=initial_phase(core_early, params),
        delayed=worst,
        mean_delayed=delayed_phase(core_change, params),
        early_pct=round(core_early, 1),
        peak_pct=round(float(np.mean(peak[core])), 1),
        change_pct=round(core_change, 1),
        shares={d: round(v, 3) for d, v in shares.items()},
        focal_ratio=round(ratio, 2),
    )


def segment(maps: Maps, grid: Grid, params: KineticsParameters) -> tuple[list[Lesion], Rejected]:
    """Enhancing lesions (largest first) and the counts of candidates set aside, by reason."""
    spacing = grid.spacing
    voxel = spacing[0] * spacing[1] * spacing[2]
    seeds = (maps.peak_pct >= params.seed_pct) & maps.breast
    labels, _ = ndi.label(seeds, structure=_FACES)
    margin = tuple(math.ceil(2 * params.ring_outer_mm / s) + 1 for s in spacing)
    claimed = np.zeros(seeds.shape, bool)
    lesions: list[Lesion] = []
    rejected = Rejected()
    for number, found in enumerate(ndi.find_objects(labels), start=1):
        if found is None:
            continue
        seed = labels[found] == number
        if seed.sum() * voxel < params.min_volume_mm3:
            rejected.small += 1
            continue
        box = _expand(found, margin, seeds.shape)  # type: ignore[arg-type]
        inner = tuple(slice(f.start - b.start, f.stop - b.start) for f, b in zip(found, box, strict=True))
        seed_box = np.zeros(labels[box].shape, bool)
        seed_box[inner] = seed
        peak, breast = maps.peak_pct[box], maps.breast[box]
        level = float(np.percentile(peak[seed_box], 95))
        shell = _shell(seed_box, spacing, params.ring_inner_mm, params.ring_outer_mm) & breast
        background = float(np.median(peak[shell])) if shell.any() else 0.0
        half = max(background + 0.5 * (level - background), 0.5 * params.seed_pct)
        grown, _ = ndi.label((peak >= half) & breast, structure=_FACES)
        for region_label in np.unique(grown[seed_box & (grown > 0)]):
            region = ndi.binary_fill_holes(grown == region_label) & breast
            if claimed[box][region].any():
                continue
            claimed[box] |= region
            lesion = _judge(region, box, maps, grid, params, rejected, background)
            if lesion is not None:
                lesions.append(lesion)
    lesions.sort(key=lambda lesion: lesion.volume_mm3, reverse=True)
    return lesions, rejected


def _judge(
    region: BoolArray,
    box: tuple[slice, slice, slice],
    maps: Maps,
    grid: Grid,
    params: KineticsParameters,
    rejected: Rejected,
    background: float,
) -> Lesion | None:
    spacing = grid.spacing
    volume = float(region.sum()) * spacing[0] * spacing[1] * spacing[2]
    if volume < params.min_volume_mm3:
        rejected.small += 1
        return None
    if volume > params.max_volume_mm3:
        rejected.large += 1
        return None
    peak, early = maps.peak_pct[box], maps.early_pct[box]
    values = peak[region]
    core = region & (peak >= np.median(values))
    shell = _shell(region, spacing, params.ring_inner_mm, params.ring_outer_mm) & maps.body[box]
    surround = float(np.percentile(peak[shell], 75)) if shell.sum() >= 10 else 0.0
    core_level = float(np.mean(peak[core]))
    ratio = core_level / max(surround, 0.25 * params.seed_pct)
    fast = float(np.mean(early[core])) > params.fast_pct
    if ratio < (params.fast_focal_ratio if fast else params.focal_ratio):
        rejected.diffuse += 1
        return None
    if _is_vessel(region, spacing, params):
        rejected.vessel += 1
        return None
    return _measure(region, box, maps, grid, params, ratio, max(surround, background))


def label_volume(
    lesions: list[Lesion], shape: tuple[int, int, int]
) -> npt.NDArray[np.uint8] | npt.NDArray[np.uint16]:
    """0 background, n = the n-th lesion (1-based); uint8 up to 255 lesions, else uint16."""
    dtype = np.uint8 if len(lesions) < 256 else np.uint16
    out = np.zeros(shape, dtype)
    for n, lesion in enumerate(lesions, start=1):
        out[lesion.box][lesion.mask] = n
    return out
