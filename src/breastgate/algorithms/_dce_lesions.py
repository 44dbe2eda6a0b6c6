"""Enhancing-lesion segmentation and per-lesion measurements on DCE-MRI maps.

1. Seeds: connected components (3-D, face connectivity) of sustained enhancement (enhancing in
   every post-contrast phase but one, :func:`~breastgate.algorithms._dce_maps.compute_maps`) ≥
   ``seed_low_pct`` inside the breast mask (so the heart, the chest wall and the skin never seed),
   split into watershed basins (:func:`basins`); within a basin candidates are peeled brightest
   first (:func:`_peel`): each one's extent is taken out before the next local maximum of the
   whole map is looked at, so a lesion sharing a basin with a brighter vessel gets its turn and
   the leftover flank of a structure (no maximum of its own) starts nothing. A seed on a vessel
   that runs into or through a lesion takes only the vessel (:func:`_thin_part`: the parts that
   survive an opening by a ball of ``vessel_radius_mm`` are left for their own turn), so a
   brighter vessel crossing a lesion does not carry it off.
2. Each seed is grown/cut at half its contrast: level h = bg + ½ (L − bg), with L the seed's
   maximum and bg the 75th percentile of a shell around it; the lesion is the connected region
   ≥ h that holds the seed (holes filled, so rim enhancement keeps its core).
   Half contrast puts the edge where a blurred boundary crosses the lesion's true edge, whatever
   its level, which is what makes sizes comparable across lesions.
3. Kept only when focal: the core (the brighter half of the region) is ``focal_ratio`` times the
   75th percentile of a ``ring_inner_mm``-``ring_outer_mm`` shell around it (``fast_focal_ratio``
   when the core rises fast). Diffuse background parenchymal enhancement continues into its
   shell and fails; a lesion stands out of fat or of enhancing parenchyma alike. Islands of
   parenchyma in fat pass that test, but enhance progressively: a candidate whose core has risen
   less than ``min_early_pct`` by the early phase is background enhancement too.
4. Vessels and sheets (skin, residual motion edges) are dropped: largest inscribed radius ≤
   ``vessel_radius_mm`` and elongation (ratio of the first two principal axes) or flatness (of
   the last two) ≥ ``vessel_elongation``; regions above ``max_volume_mm3`` too.

Diameters are those of the solid ellipsoid with the region's second moments (2 √(5 λᵢ)), largest
first; the worst curve type is the most suspicious one held by at least ``worst_min_share`` of the
region's voxels (a few noisy voxels do not make a washout lesion). Initial phase, peak
enhancement and the mean curve's delayed phase come from the mean signal of the lesion's brighter
half, phase by phase.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from breastgate.algorithms._dce_maps import BoolArray, KineticsParameters, Maps, delayed_phase, initial_phase
from breastgate.domain.model import DelayedPhase, InitialPhase
from breastgate.imaging.dce import DceSeries

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
    curve_pct: tuple[float, ...]
    shares: dict[DelayedPhase, float]
    focal_ratio: float
    fill: float  # volume / volume of the moment ellipsoid: 1 for a solid ellipsoid
    heterogeneity: float  # coefficient of variation of sustained enhancement inside
    #: Elongation of the region at the same level followed outside its basin (vessels run on).
    free_elongation: float = 1.0
    #: 75th percentile of sustained enhancement in the shell around it (percent).
    surround_pct: float = 0.0
    #: Mean sustained enhancement of its brighter half (percent).
    core_pct: float = 0.0
    #: 75th percentile of early enhancement in the shell (percent): background parenchyma that
    #: has already taken contrast up by the early phase surrounds a lesion hidden in it.
    surround_early_pct: float = 0.0
    #: Shape of the region: largest inscribed radius (mm), elongation (first / second principal
    #: axis) and flatness (second / third).
    inscribed_mm: float = 0.0
    elongation: float = 1.0
    flatness: float = 1.0
    #: How deep under the skin its shallowest voxel lies (mm; up to the box's margin): the nipple
    #: and the skin enhance, a lesion lies inside the breast.
    skin_mm: float = 0.0
    #: Hessian blobness at its core (module docstring): ~0 for a vessel, 0.5-1 for a lesion.
    blobness: float = 1.0


@dataclass
class Rejected:
    """Why candidates were set aside (counts by reason)."""

    small: int = 0
    diffuse: int = 0
    vessel: int = 0
    large: int = 0
    nipple: int = 0
    unlikely: int = 0  # scored below the report floor, or beyond the most reported


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


@dataclass(frozen=True)
class Shape:
    """Principal-axis shape of a region."""

    elongation: float  # first / second principal axis
    flatness: float  # second / third
    inscribed_mm: float  # largest inscribed radius
    length_mm: float  # 2 √(5 λ₁)
    slices: int


def shape_of(mask: BoolArray, spacing: tuple[float, float, float]) -> Shape:
    values, _ = principal_axes(mask, spacing)
    return Shape(
        elongation=math.sqrt(values[0] / max(values[1], 1e-6)),
        flatness=math.sqrt(values[1] / max(values[2], 1e-6)),
        inscribed_mm=float(ndi.distance_transform_edt(np.pad(mask, 1), sampling=spacing).max()),
        length_mm=2.0 * math.sqrt(5.0 * values[0]),
        slices=int(np.count_nonzero(mask.any(axis=(1, 2)))),
    )


def blobness(
    values: npt.NDArray[np.float32], core: BoolArray, spacing: tuple[float, float, float], radius_mm: float
) -> float:
    """Median over ``core`` of |λ₃| / |λ₂|, the Hessian eigenvalues of ``values`` smoothed at
    ``radius_mm`` ordered by magnitude (|λ₁| ≥ |λ₂| ≥ |λ₃|): a bright tube curves down across
    two axes and not along the third (≈ 0), a bright blob across all three (0.5-1). Measured at
    the candidate's own scale, so a vessel stays a tube however the peeling cut it."""
    sigma = [radius_mm / s for s in spacing]
    smooth = ndi.gaussian_filter(values.astype(np.float64), sigma, mode="nearest")
    first = np.gradient(smooth, *spacing)
    points = np.nonzero(core)
    hessian = np.empty((len(points[0]), 3, 3))
    for i in range(3):
        second = np.gradient(first[i], *spacing)
        for j in range(3):
            hessian[:, i, j] = second[j][points]
    hessian = 0.5 * (hessian + hessian.transpose(0, 2, 1))
    magnitude = np.sort(np.abs(np.linalg.eigvalsh(hessian)), axis=1)
    ratio = magnitude[:, 0] / np.maximum(magnitude[:, 1], 1e-9)
    return float(np.median(ratio)) if ratio.size else 1.0


def _depth(region: BoolArray, body: BoolArray, spacing: tuple[float, float, float]) -> float:
    """Distance (mm) from the region's shallowest voxel to the nearest voxel outside the body,
    within the box (a box without air around gives its distance to the box's edge)."""
    inside = ndi.distance_transform_edt(np.pad(body, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    return float(inside[region].min()) if region.any() else 0.0


def _is_thin(shape: Shape, spacing: tuple[float, float, float], params: KineticsParameters) -> bool:
    """A tube (vessel) or a sheet (skin, a residual motion edge): thin everywhere (largest
    inscribed radius ≤ ``vessel_radius_mm``, plus half a voxel) and drawn out along one axis
    (elongation) or flat across one (flatness) by ``vessel_elongation``."""
    thin = shape.inscribed_mm <= params.vessel_radius_mm + 0.5 * min(spacing)
    tube = shape.length_mm >= params.vessel_min_length_mm and shape.elongation >= params.vessel_elongation
    # A sheet is only told from a small lesion when it spans a few slices.
    sheet = (
        shape.length_mm >= 2 * params.vessel_min_length_mm
        and shape.flatness >= params.vessel_elongation
        and shape.slices >= 3
    )
    return thin and (tube or sheet)


def _occupancy(
    mask: BoolArray, box: tuple[slice, slice, slice], maps: Maps, background: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Voxel indices (n, 3) and partial-volume fractions of the region and a one-voxel rim.

    Fraction = (E − bg) / (L − bg) clipped to 0-1, with L the mean of the region's brighter half:
    a voxel's mean signal is the share of it the lesion fills, so the fractions sum to the volume
    and weight the moments without the staircase of a thresholded mask (thick slices above all).
    """
    peak = maps.sustained_pct[box]
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


def _masked_smooth(
    values: npt.NDArray[np.float32], mask: BoolArray, spacing: tuple[float, float, float], sigma_mm: float
) -> npt.NDArray[np.float64]:
    """Gaussian average of ``values`` over ``mask`` only (normalised convolution)."""
    if sigma_mm <= 0:
        return values.astype(np.float64)
    sigma = [sigma_mm / s for s in spacing]
    weight = ndi.gaussian_filter(mask.astype(np.float64), sigma, mode="constant")
    total = ndi.gaussian_filter(np.where(mask, values, 0.0).astype(np.float64), sigma, mode="constant")
    out: npt.NDArray[np.float64] = total / np.maximum(weight, 1e-9)
    return out


def mean_curve(series: DceSeries, box: tuple[slice, slice, slice], mask: BoolArray) -> list[float]:
    """Percent enhancement of the mean signal of ``mask`` (within ``box``), phase by phase."""
    slices = np.nonzero(mask)[0] + box[0].start
    means = []
    for p in range(series.phases):
        values = series.pixels[p][box][mask].astype(np.float64)
        means.append(float(np.mean(values * series.slopes[p, slices] + series.intercepts[p, slices])))
    base = max(means[0], 1e-6)
    return [100.0 * (m - means[0]) / base for m in means]


def _measure(
    mask: BoolArray,
    box: tuple[slice, slice, slice],
    maps: Maps,
    series: DceSeries,
    params: KineticsParameters,
    ratio: float,
    background: float,
) -> Lesion:
    spacing = series.grid.spacing
    index, fraction = _occupancy(mask, box, maps, background)
    centre, diameters = weighted_axes(index, fraction, spacing, params.smooth_px * spacing[2])
    centre = centre + np.array([s.start for s in box])
    sustained = maps.sustained_pct[box][mask]
    change = maps.change_pct[box][mask]
    shares = {
        DelayedPhase.WASHOUT: float(np.mean(change < -params.plateau_pct)),
        DelayedPhase.PLATEAU: float(np.mean(np.abs(change) <= params.plateau_pct)),
        DelayedPhase.PERSISTENT: float(np.mean(change > params.plateau_pct)),
    }
    # The worst type is judged on the change map averaged over ``curve_smooth_mm`` within the
    # lesion: a voxel's own delayed change is noisy (a few percent of a plateau lesion's voxels
    # read as washout by chance), a washout part of a heterogeneous lesion is a region.
    smoothed = _masked_smooth(maps.change_pct[box], mask, spacing, params.curve_smooth_mm)[mask]
    worst = DelayedPhase.PERSISTENT
    if float(np.mean(smoothed < -params.plateau_pct)) >= params.worst_min_share:
        worst = DelayedPhase.WASHOUT
    elif float(np.mean(np.abs(smoothed) <= params.plateau_pct)) >= params.worst_min_share:
        worst = DelayedPhase.PLATEAU
    curve = mean_curve(series, box, mask & (maps.sustained_pct[box] >= np.median(sustained)))
    early_pct = curve[maps.early]
    late_change = 100.0 * (curve[-1] - early_pct) / (100.0 + early_pct)
    volume = float(fraction.sum()) * spacing[0] * spacing[1] * spacing[2]
    thickest = [max(float(d), s) for d, s in zip(diameters, sorted(spacing, reverse=True), strict=True)]
    fill = volume / (math.pi / 6.0 * thickest[0] * thickest[1] * thickest[2])
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
        initial=initial_phase(early_pct, params),
        delayed=worst,
        mean_delayed=delayed_phase(late_change, params),
        early_pct=round(early_pct, 1),
        peak_pct=round(max(curve[1:]), 1),
        change_pct=round(late_change, 1),
        curve_pct=tuple(round(v, 1) for v in curve),
        shares={d: round(v, 3) for d, v in shares.items()},
        focal_ratio=round(ratio, 2),
        fill=round(fill, 3),
        heterogeneity=round(float(np.std(sustained) / max(float(np.mean(sustained)), 1e-3)), 3),
    )


def basins(peak: npt.NDArray[np.float32], domain: BoolArray, split_ratio: float) -> npt.NDArray[np.int32]:
    """Watershed basins of ``peak`` within ``domain``, one per maximum that stands at least
    ``split_ratio`` times above the saddle joining it to a higher one (h-maxima of the log), so a
    lesion touching a vessel or enhancing parenchyma gets its own basin while the small dips of a
    heterogeneous lesion do not split it."""
    logged = np.log1p(np.maximum(peak, 0.0)).astype(np.float64)
    logged[~domain] = 0.0
    maxima = h_maxima(logged, math.log(split_ratio))  # type: ignore[no-untyped-call]
    markers = maxima.astype(bool) & domain
    numbered, count = ndi.label(markers, structure=np.ones((3, 3, 3), bool))
    if count <= 1:
        return domain.astype(np.int32)
    flooded = watershed(-logged, numbered, mask=domain)  # type: ignore[no-untyped-call]
    out: npt.NDArray[np.int32] = flooded.astype(np.int32)
    return out


def _thin_part(
    region: BoolArray, top: tuple[int, ...], spacing: tuple[float, float, float], params: KineticsParameters
) -> tuple[BoolArray, BoolArray]:
    """A seed on a thin structure (a vessel: gone when the region is opened by a ball of
    ``vessel_radius_mm``) keeps only the thin part of its region: a lesion the vessel runs into
    or through (a part at least ``min_volume_mm3`` that survives the opening) is left for its
    own turn, instead of being taken out with the brighter vessel. Returns the region and the
    voxels spared for later turns (empty when nothing is)."""
    none = np.zeros(region.shape, bool)
    reach = [int(params.vessel_radius_mm // s) for s in spacing]
    if max(reach) == 0:
        return region, none
    axes = np.ogrid[tuple(slice(-n, n + 1) for n in reach)]
    ball = sum((a * s / params.vessel_radius_mm) ** 2 for a, s in zip(axes, spacing, strict=True)) <= 1.0
    opened = ndi.binary_opening(region, structure=ball)
    if opened[top] or not opened.any():
        return region, none
    labels, _ = ndi.label(opened, structure=_FACES)
    sizes = np.bincount(labels.ravel())[1:] * (spacing[0] * spacing[1] * spacing[2])
    thick = np.isin(labels, 1 + np.flatnonzero(sizes >= params.min_volume_mm3))
    if not thick.any():
        return region, none
    # The thick parts with a voxel's margin, so the vessel does not keep the lesion's rim.
    spared = ndi.binary_dilation(thick, structure=_FACES) & region
    return _holding(region & ~spared, top), spared


def _holding(mask: BoolArray, point: tuple[int, ...]) -> BoolArray:
    """The face-connected component of ``mask`` that holds ``point`` (empty when it is outside)."""
    if not mask[point]:
        return np.zeros(mask.shape, bool)
    labels, _ = ndi.label(mask, structure=_FACES)
    out: BoolArray = labels == labels[point]
    return out


def segment(maps: Maps, series: DceSeries, params: KineticsParameters) -> tuple[list[Lesion], Rejected]:
    """Enhancing-lesion candidates and the counts of candidates set aside, by reason."""
    spacing = series.grid.spacing
    voxel = spacing[0] * spacing[1] * spacing[2]
    domain = (maps.sustained_pct >= params.seed_low_pct) & maps.breast
    labels, _ = ndi.label(domain, structure=_FACES)
    margin = tuple(math.ceil(2 * params.ring_outer_mm / s) + 1 for s in spacing)
    claimed = np.zeros(domain.shape, bool)
    lesions: list[Lesion] = []
    rejected = Rejected()
    for number, found in enumerate(ndi.find_objects(labels), start=1):
        if found is None:
            continue
        component = labels[found] == number
        if component.sum() * voxel < params.min_volume_mm3:
            rejected.small += 1
            continue
        box = _expand(found, margin, domain.shape)  # type: ignore[arg-type]
        inner = tuple(slice(f.start - b.start, f.stop - b.start) for f, b in zip(found, box, strict=True))
        within = np.zeros(labels[box].shape, bool)
        within[inner] = component
        basin_labels = basins(maps.sustained_pct[box], within, params.split_ratio)
        for basin_label, basin_box in enumerate(ndi.find_objects(basin_labels), start=1):
            if basin_box is None:
                continue
            local = _expand(basin_box, margin, basin_labels.shape)  # type: ignore[arg-type]
            sub: tuple[slice, slice, slice] = tuple(  # type: ignore[assignment]
                slice(b.start + o.start, b.stop + o.start) for b, o in zip(local, box, strict=True)
            )
            lesions.extend(
                _peel(basin_labels[local] == basin_label, sub, maps, series, params, claimed, rejected)
            )
    return lesions, rejected


def _peel(
    basin: BoolArray,
    box: tuple[slice, slice, slice],
    maps: Maps,
    series: DceSeries,
    params: KineticsParameters,
    claimed: BoolArray,
    rejected: Rejected,
) -> list[Lesion]:
    """Candidates of one basin, brightest first: each one's extent (down to half its maximum) is
    taken out, with a voxel's margin, before the next maximum is looked at. A lesion that touches
    a brighter vessel shares its basin when the saddle between them is high (the vessel's flank
    is brighter than the lesion's rim); peeling the vessel off leaves the lesion its own turn."""
    remaining = basin.copy()
    peak = maps.sustained_pct[box]
    # Only a local maximum of the whole map starts a candidate: what peeling leaves of a lesion's
    # or a vessel's flank rises towards the part taken out, and is no structure of its own.
    summit = peak >= ndi.maximum_filter(peak, size=3, mode="nearest")
    out: list[Lesion] = []
    for _ in range(params.max_candidates_per_basin):
        if not (remaining & summit).any():
            break
        lesion, used = _candidate(remaining, remaining & summit, box, maps, series, params, claimed, rejected)
        if used is None:
            break
        if lesion is not None:
            out.append(lesion)
        remaining &= ~ndi.binary_dilation(used, structure=_FACES)
    return out


def _candidate(
    basin: BoolArray,
    seeds: BoolArray,
    box: tuple[slice, slice, slice],
    maps: Maps,
    series: DceSeries,
    params: KineticsParameters,
    claimed: BoolArray,
    rejected: Rejected,
) -> tuple[Lesion | None, BoolArray | None]:
    """The lesion around the brightest of ``seeds`` left in ``basin``: the region above half its
    contrast to the local background (FWHM-style, so the edge does not creep into enhancing
    parenchyma), and the voxels it used (``None`` when that seed is below any seed level)."""
    spacing = series.grid.spacing
    peak, breast = maps.sustained_pct[box], maps.breast[box]
    top = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.where(seeds, peak, -np.inf))), peak.shape))
    level = float(peak[top])
    if level < params.seed_low_pct:
        return None, None
    first = _holding(basin & (peak >= 0.5 * level), top)
    shell = _shell(first, spacing, params.ring_inner_mm, params.ring_outer_mm) & breast
    background = float(np.percentile(peak[shell], 75)) if shell.any() else 0.0
    if level < params.seed_pct and level - background < params.seed_contrast_pct:
        return None, first
    half = max(background + 0.5 * (level - background), 0.5 * level)
    region = ndi.binary_fill_holes(_holding(basin & (peak >= half), top)) & breast
    region, spared = _thin_part(region, top, spacing, params)
    if spared.any():
        # What of the extent down to half the maximum hangs on the spared part is spared too.
        rest, _ = ndi.label(first & ~ndi.binary_dilation(region, structure=_FACES), structure=_FACES)
        touching = np.unique(rest[spared & (rest > 0)])
        first &= ~(spared | np.isin(rest, touching))
    if claimed[box][region].any():
        return None, first | region
    claimed[box] |= region
    lesion = _judge(region, region | first, box, maps, series, params, rejected, background)
    if lesion is None:
        return None, first | region
    # How far the same level runs on outside the basin (26-connected, so a vessel crossing thick
    # slices obliquely stays one structure): a vessel runs on, a lesion ends.
    labels, _ = ndi.label((peak >= half) & breast, structure=np.ones((3, 3, 3), bool))
    free = labels == labels[top]
    values, _ = principal_axes(free, spacing)
    elongation = math.sqrt(values[0] / max(values[1], 1e-6))
    return dataclasses.replace(lesion, free_elongation=round(elongation, 2)), first | region


def _judge(
    region: BoolArray,
    extent: BoolArray,
    box: tuple[slice, slice, slice],
    maps: Maps,
    series: DceSeries,
    params: KineticsParameters,
    rejected: Rejected,
    background: float,
) -> Lesion | None:
    spacing = series.grid.spacing
    volume = float(region.sum()) * spacing[0] * spacing[1] * spacing[2]
    # The voxels above half contrast understate a small blurred lesion; the partial-volume volume
    # (below) is held to the minimum.
    if volume < 0.5 * params.min_volume_mm3:
        rejected.small += 1
        return None
    if volume > params.max_volume_mm3:
        rejected.large += 1
        return None
    peak, early = maps.sustained_pct[box], maps.early_pct[box]
    values = peak[region]
    core = region & (peak >= np.median(values))
    # Surroundings outside the blurred edge (``extent``: down to half the maximum), not its flank.
    shell = _shell(extent, spacing, params.ring_inner_mm, params.ring_outer_mm) & maps.body[box]
    surround = float(np.percentile(peak[shell], 75)) if shell.sum() >= 10 else 0.0
    surround_early = float(np.percentile(early[shell], 75)) if shell.sum() >= 10 else 0.0
    core_level = float(np.mean(peak[core]))
    ratio = core_level / max(surround, 0.25 * params.seed_pct)
    fast = float(np.mean(early[core])) > params.fast_pct
    if ratio < (params.fast_focal_ratio if fast else params.focal_ratio):
        rejected.diffuse += 1
        return None
    shape = shape_of(region, spacing)
    if _is_thin(shape, spacing, params):
        rejected.vessel += 1
        return None
    lesion = _measure(region, box, maps, series, params, ratio, max(surround, background))
    lesion = dataclasses.replace(
        lesion,
        surround_pct=round(surround, 1),
        core_pct=round(core_level, 1),
        surround_early_pct=round(surround_early, 1),
        inscribed_mm=round(shape.inscribed_mm, 2),
        elongation=round(shape.elongation, 2),
        flatness=round(shape.flatness, 2),
        skin_mm=round(_depth(region, maps.body[box], spacing), 1),
        blobness=round(blobness(peak, core, spacing, max(shape.inscribed_mm, 1.5)), 3),
    )
    if lesion.volume_mm3 < params.min_volume_mm3:
        rejected.small += 1
        return None
    if lesion.early_pct < params.min_early_pct:
        rejected.diffuse += 1
        return None
    return lesion


def label_volume(
    lesions: list[Lesion], shape: tuple[int, int, int]
) -> npt.NDArray[np.uint8] | npt.NDArray[np.uint16]:
    """0 background, n = the n-th lesion (1-based); uint8 up to 255 lesions, else uint16."""
    dtype = np.uint8 if len(lesions) < 256 else np.uint16
    out = np.zeros(shape, dtype)
    for n, lesion in enumerate(lesions, start=1):
        out[lesion.box][lesion.mask] = n
    return out
