"""Lesion tracking between a DCE-MRI study and its prior (different Frames of Reference).

The prior is placed on the current study by a translation in patient space: first the difference
of the breast masks' centroids, then a phase-correlation refinement of the pre-contrast signal
inside the breast masks, both resampled to 2 mm grids centred on those centroids. A prior lesion
centre p maps to p + T. Lesions pair greedily by the smallest mapped centre distance, within
``max(MATCH_MM, 0.75 × the larger size)``. Size change (largest diameter, current − prior) is
``increased`` / ``decreased`` beyond ``max(CHANGE_MM, CHANGE_SHARE × prior size)``, else
``stable``; a current lesion without a partner is ``new``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from skimage.registration import phase_cross_correlation

from breastgate.domain.model import ChangeKind, Finding, FindingComparison
from breastgate.imaging.dce import DceSeries, Grid

if TYPE_CHECKING:
    from breastgate.algorithms.kinetics import Analysis

MATCH_MM = 15.0
CHANGE_MM = 2.0
CHANGE_SHARE = 0.2
STEP_MM = 2.0
HALF_EXTENT_MM = (160.0, 110.0, 110.0)  # x, y, z

Vector = tuple[float, float, float]


def _inverse(grid: Grid) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(matrix, origin) mapping patient mm to voxel index (slice, row, column)."""
    steps = np.array([grid.axis_mm(a) for a in range(3)], np.float64)  # rows: axis, cols: xyz
    inverse = np.asarray(np.linalg.inv(steps), np.float64)
    return inverse, np.asarray(grid.origin, np.float64)


def _centroid(mask: npt.NDArray[np.bool_], grid: Grid) -> Vector:
    index = np.argwhere(mask[::2, ::2, ::2]).mean(axis=0) * 2
    return grid.to_patient(index)


def _half_extent(grid: Grid) -> Vector:
    """Half the extent of a volume along patient x, y, z (mm), at most HALF_EXTENT_MM."""
    corners = [
        grid.to_patient((k, r, c))
        for k in (0, grid.shape[0])
        for r in (0, grid.shape[1])
        for c in (0, grid.shape[2])
    ]
    spans = np.ptp(np.asarray(corners), axis=0) / 2.0
    return tuple(float(min(s, h)) for s, h in zip(spans, HALF_EXTENT_MM, strict=True))  # type: ignore[return-value]


def _resampled(
    series: DceSeries, mask: npt.NDArray[np.bool_], centre: Vector, half: Vector
) -> npt.NDArray[np.float32]:
    """Pre-contrast signal inside the breast mask on a 2 mm LPS grid centred at ``centre``."""
    pre = series.phase(0)
    pre[~mask] = 0.0
    axes = [np.arange(-h, h + STEP_MM / 2, STEP_MM) + c for h, c in zip(half, centre, strict=True)]
    xx, yy, zz = np.meshgrid(*axes, indexing="ij")
    points = np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1)
    matrix, origin = _inverse(series.grid)
    index = (points - origin) @ matrix
    out: npt.NDArray[np.float32] = ndi.map_coordinates(pre, index.T, order=1, cval=0.0).astype(np.float32)
    return out.reshape(xx.shape)


def translation(current: Analysis, prior: Analysis) -> Vector:
    """T (mm) such that a prior point p lies at p + T in the current study's patient space."""
    c_cur = _centroid(current.maps.breast, current.series.grid)
    c_pri = _centroid(prior.maps.breast, prior.series.grid)
    half_cur, half_pri = _half_extent(current.series.grid), _half_extent(prior.series.grid)
    half = (max(half_cur[0], half_pri[0]), max(half_cur[1], half_pri[1]), max(half_cur[2], half_pri[2]))
    a = _resampled(current.series, current.maps.breast, c_cur, half)
    b = _resampled(prior.series, prior.maps.breast, c_pri, half)
    shift, _, _ = phase_cross_correlation(a, b, upsample_factor=2, normalization=None)  # type: ignore[no-untyped-call]
    # ``shift`` moves b onto a, in (x, y, z) steps: a point of b at u lies at u + shift in a.
    residual = [float(s) * STEP_MM for s in shift]
    if math.sqrt(sum(r * r for r in residual)) > 40.0:  # implausible: centroids only
        residual = [0.0, 0.0, 0.0]
    return (
        c_cur[0] - c_pri[0] + residual[0],
        c_cur[1] - c_pri[1] + residual[1],
        c_cur[2] - c_pri[2] + residual[2],
    )


def _centre(finding: Finding) -> Vector:
    assert finding.location is not None and finding.location.patient_mm is not None
    return finding.location.patient_mm


def compare_with_prior(
    current: Analysis, prior: Analysis, prior_findings: list[Finding], findings: list[Finding]
) -> tuple[list[Finding], str]:
    """Findings with their comparison set, and a note (translation, prior lesions not seen now)."""
    shift = translation(current, prior)
    pairs: list[tuple[float, int, int]] = []
    for i, now in enumerate(findings):
        for j, before in enumerate(prior_findings):
            p, q = _centre(now), _centre(before)
            distance = math.dist(p, (q[0] + shift[0], q[1] + shift[1], q[2] + shift[2]))
            limit = max(MATCH_MM, 0.75 * max(now.size_mm or 0.0, before.size_mm or 0.0))
            if distance <= limit and now.laterality == before.laterality:
                pairs.append((distance, i, j))
    matched: dict[int, int] = {}
    for _, i, j in sorted(pairs):
        if i not in matched and j not in matched.values():
            matched[i] = j
    uid = prior.study.study_instance_uid
    date = prior.study.study_date
    out: list[Finding] = []
    for i, now in enumerate(findings):
        if i not in matched:
            comparison = FindingComparison(uid, ChangeKind.NEW, prior_study_date=date)
            out.append(replace(now, comparison=comparison))
            continue
        before = prior_findings[matched[i]]
        change = round((now.size_mm or 0.0) - (before.size_mm or 0.0), 1)
        limit = max(CHANGE_MM, CHANGE_SHARE * (before.size_mm or 0.0))
        kind = (
            ChangeKind.INCREASED
            if change > limit
            else ChangeKind.DECREASED
            if change < -limit
            else ChangeKind.STABLE
        )
        comparison = FindingComparison(uid, kind, change, before.size_mm, date, prior_marks=before.marks)
        attributes = dict(now.attributes)
        if before.kinetics is not None and now.kinetics is not None:
            attributes["prior_curve_type"] = before.kinetics.curve_type
            attributes["prior_peak_enhancement_pct"] = before.kinetics.peak_enhancement_pct or 0.0
            attributes["kinetic_change"] = (
                "unchanged"
                if before.kinetics.curve_type == now.kinetics.curve_type
                else f"{before.kinetics.curve_type}->{now.kinetics.curve_type}"
            )
        out.append(replace(now, comparison=comparison, attributes=attributes))
    gone = len(prior_findings) - len(matched)
    note = f"prior registered by translation ({shift[0]:.1f}, {shift[1]:.1f}, {shift[2]:.1f}) mm"
    if gone:
        note += f"; {gone} prior lesion(s) not seen now"
    return out, note
