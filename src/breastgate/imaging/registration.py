"""Registration of a prior mammogram to the current one of the same laterality and view.

Both images are taken into *canonical millimetres*: the working image of
:func:`breastgate.imaging.geometry.analyse_breast` (chest wall on the left, about 0.6 mm pixels),
x along the rows from the chest-wall edge, y down the columns, both in mm. The map found is an
affine ``prior_mm = A · current_mm + b``:

1. initial similarity from two landmarks found on each image: the middle of the breast's
   chest-wall edge and the nipple (geometry.py / landmarks.py);
2. intensity refinement: the 6 affine parameters maximise the normalised cross-correlation of the
   two images, smoothed at ``SMOOTH_MM`` on a ``GRID_MM`` grid over the current breast plus a
   ``MARGIN_MM`` band of air (the skin line then pulls as much as the tissue), coarse to fine
   (Powell, scipy.optimize). Normalised correlation is blind to the gain and offset of a different
   exposure; the standardisation inside the breast takes most of a gamma change.
3. a second start when the first is implausible (a nipple found on a skin fold puts the landmark
   similarity tens of mm off, and the refinement from there can stop in a wrong optimum): a
   similarity from the breast mask alone (:func:`outline_similarity`: chest-wall middle and
   centroid), refined the same way; of the two, the one whose outlines agree better is kept.

Why parametric and not dense optical flow (``skimage.registration.optical_flow_tvl1``): a second
compression of a breast is, to first order, a change of scale and position; TV-L1 follows the
lesion itself when it grew (a growing mass pulls the flow towards it and hides the growth) and is
sensitive to the exposure change. Measured on phantom pairs (``bench/prior_comparison.py``): see
the model card docs/algorithms/breastgate.comparison.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from scipy import optimize

from breastgate.imaging.geometry import BreastGeometry
from breastgate.imaging.pixels import MammoImage

__all__ = [
    "Affine2D",
    "Registration",
    "ViewFrame",
    "landmark_similarity",
    "outline_similarity",
    "register",
    "view_frame",
]

FloatArray = npt.NDArray[np.float64]

#: Registration grid (mm), smoothing (mm) and the band of air around the breast it looks at (mm).
GRID_MM = 1.2
SMOOTH_MM = 2.0
MARGIN_MM = 6.0
#: Samples mapping closer than this (mm) to the prior's chest-wall, top or bottom border are left out.
EDGE_MM = 2.0
#: Plausibility of the refinement. It must correlate at least as well as the landmark similarity,
#: and it must not move the breast far from where the landmarks put it (a second compression moves
#: tissue by a few mm; the landmark similarity errs by 3 mm on average) unless the outlines then
#: agree better: a refinement that moves a corner of the breast's bounding box or a landmark more
#: than ``MAX_MOVE_MM`` and does not improve the outline agreement (:func:`outline_agreement`) by
#: ``OUTLINE_GAIN`` has locked onto the wrong structure; the landmark similarity is kept instead.
#: (A wrong landmark, e.g. a nipple found on a skin fold, is the case where a large move is right,
#: and then the outlines agree better after it.)
MAX_MOVE_MM = 15.0
OUTLINE_GAIN = 0.01
#: Parameter scales of the refinement: shifts in mm, rotation in degrees, scales and shear in
#: these units (1 % per unit).
_LINEAR_UNIT = 0.01


@dataclass(frozen=True)
class Affine2D:
    """``p' = matrix · p + offset`` on (x, y) points in mm."""

    matrix: tuple[tuple[float, float], tuple[float, float]]
    offset: tuple[float, float]

    @classmethod
    def from_arrays(cls, matrix: FloatArray, offset: FloatArray) -> Affine2D:
        m = np.asarray(matrix, dtype=np.float64)
        return cls(
            ((float(m[0, 0]), float(m[0, 1])), (float(m[1, 0]), float(m[1, 1]))),
            (float(offset[0]), float(offset[1])),
        )

    def arrays(self) -> tuple[FloatArray, FloatArray]:
        return np.array(self.matrix, dtype=np.float64), np.array(self.offset, dtype=np.float64)

    def apply(self, x: float, y: float) -> tuple[float, float]:
        m, t = self.arrays()
        out = m @ np.array([x, y]) + t
        return float(out[0]), float(out[1])

    @property
    def scale(self) -> float:
        """Linear scale (square root of the area ratio)."""
        m, _ = self.arrays()
        return math.sqrt(abs(float(np.linalg.det(m))))


@dataclass(frozen=True)
class ViewFrame:
    """One image in canonical mm: its working image, breast, landmarks and the pixel mapping."""

    image: npt.NDArray[np.float32]
    breast: npt.NDArray[np.bool_]
    px_mm: float  # working pixel
    spacing_mm: tuple[float, float]  # original (row, column) spacing
    flipped: bool
    width_px: float  # width of the working grid in original pixels
    nipple_mm: tuple[float, float] | None
    anchor_mm: tuple[float, float] | None

    def to_mm(self, point: tuple[float, float]) -> tuple[float, float]:
        """Original image coordinates (column, row) → canonical mm."""
        col, row = point
        if self.flipped:
            col = self.width_px - col
        return col * self.spacing_mm[1], row * self.spacing_mm[0]

    def from_mm(self, x: float, y: float) -> tuple[float, float]:
        """Canonical mm → original image coordinates (column, row)."""
        col = x / self.spacing_mm[1]
        if self.flipped:
            col = self.width_px - col
        return col, y / self.spacing_mm[0]


def view_frame(image: MammoImage, geometry: BreastGeometry) -> ViewFrame:
    """The canonical frame of an analysed image, with its two landmarks (nipple, chest-wall middle)."""
    g = geometry
    spacing = (float(image.spacing_mm[0]), float(image.spacing_mm[1]))
    px = min(spacing) * g.factor
    width = float(g.image.shape[1] * g.factor)
    frame = ViewFrame(g.image, g.breast, px, spacing, g.flipped, width, None, None)
    wall = np.flatnonzero(g.breast[:, 0])
    anchor = (0.0, (float(np.median(wall)) + 0.5) * px) if wall.size else None
    nipple = frame.to_mm(g.nipple) if g.nipple is not None else None
    return ViewFrame(g.image, g.breast, px, spacing, g.flipped, width, nipple, anchor)


def _two_point_similarity(
    current: tuple[tuple[float, float], tuple[float, float]],
    prior: tuple[tuple[float, float], tuple[float, float]],
) -> Affine2D:
    """Similarity taking the current (anchor, second point) onto the prior's; scale within 0.8-1.25."""
    a_c, n_c = np.array(current[0]), np.array(current[1])
    a_p, n_p = np.array(prior[0]), np.array(prior[1])
    v_c, v_p = n_c - a_c, n_p - a_p
    scale = float(np.hypot(*v_p) / max(float(np.hypot(*v_c)), 1e-6))
    angle = math.atan2(v_p[1], v_p[0]) - math.atan2(v_c[1], v_c[0])
    scale = float(np.clip(scale, 0.8, 1.25))
    m = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return Affine2D.from_arrays(m, a_p - m @ a_c)


_IDENTITY = Affine2D(((1.0, 0.0), (0.0, 1.0)), (0.0, 0.0))


def landmark_similarity(current: ViewFrame, prior: ViewFrame) -> Affine2D:
    """Similarity taking the current chest-wall middle and nipple onto the prior's (identity
    where a landmark is missing)."""
    if (
        current.nipple_mm is None
        or current.anchor_mm is None
        or prior.nipple_mm is None
        or prior.anchor_mm is None
    ):
        return _IDENTITY
    return _two_point_similarity((current.anchor_mm, current.nipple_mm), (prior.anchor_mm, prior.nipple_mm))


def _centroid_mm(frame: ViewFrame) -> tuple[float, float] | None:
    rows, cols = np.nonzero(frame.breast)
    if rows.size == 0:
        return None
    return (float(cols.mean()) + 0.5) * frame.px_mm, (float(rows.mean()) + 0.5) * frame.px_mm


def outline_similarity(current: ViewFrame, prior: ViewFrame) -> Affine2D:
    """Similarity from the breast mask alone, without the nipple: the middle of the chest-wall edge
    and the centroid of the breast (its first moments) of the current image onto the prior's. The
    centroid is a property of the whole outline, so one wrong point of it (a skin fold taken for the
    nipple) cannot move it far; its lever arm is shorter than the nipple's, so its angle is coarser,
    which the refinement takes up. Identity where the chest-wall edge or the breast is missing."""
    c_c, c_p = _centroid_mm(current), _centroid_mm(prior)
    if current.anchor_mm is None or prior.anchor_mm is None or c_c is None or c_p is None:
        return _IDENTITY
    return _two_point_similarity((current.anchor_mm, c_c), (prior.anchor_mm, c_p))


@dataclass(frozen=True)
class Registration:
    """Current → prior map of one view pair, with the correlation before and after refinement."""

    transform: Affine2D
    initial: Affine2D
    ncc_initial: float
    ncc: float
    current: ViewFrame
    prior: ViewFrame
    #: True when the refinement was implausible (:data:`MAX_MOVE_MM`, correlation) and
    #: ``transform`` is the landmark similarity.
    fallback: bool = False

    def map_point(self, point: tuple[float, float]) -> tuple[float, float]:
        """Current image coordinates (column, row) → prior image coordinates."""
        return self.prior.from_mm(*self.transform.apply(*self.current.to_mm(point)))

    def map_size(self, prior_size_mm: float) -> float:
        """A size measured on the prior, in the current image's scale (compression corrected)."""
        return prior_size_mm / max(self.transform.scale, 1e-6)


def _standardised(frame: ViewFrame, sigma_mm: float) -> FloatArray:
    smooth = ndi.gaussian_filter(frame.image.astype(np.float64), sigma_mm / frame.px_mm)
    inside = smooth[frame.breast]
    mu, sd = float(inside.mean()), float(inside.std()) or 1.0
    out: FloatArray = (smooth - mu) / sd
    return out


def _ncc(a: FloatArray, b: FloatArray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum())) or 1.0
    return float((a * b).sum()) / den


def _refine(
    current: ViewFrame, prior: ViewFrame, init: Affine2D, sigma_mm: float, grid_mm: float
) -> Affine2D:
    cur = _standardised(current, sigma_mm)
    pri = _standardised(prior, sigma_mm)
    step = max(1, round(grid_mm / current.px_mm))
    near = ndi.binary_dilation(current.breast, iterations=max(1, round(MARGIN_MM / current.px_mm)))
    rows, cols = np.nonzero(near[::step, ::step])
    rows, cols = rows * step, cols * step
    values = cur[rows, cols]
    pts = np.column_stack(((cols + 0.5) * current.px_mm, (rows + 0.5) * current.px_mm))
    centre = pts.mean(axis=0)
    m0, t0 = init.arrays()
    base_c = m0 @ centre + t0

    def transform(p: FloatArray) -> tuple[FloatArray, FloatArray]:
        # p: shift (mm), rotation (degrees), scale x and y and shear (in _LINEAR_UNIT).
        a = math.radians(p[2])
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        shape = np.array([[1.0 + _LINEAR_UNIT * p[3], _LINEAR_UNIT * p[5]], [0.0, 1.0 + _LINEAR_UNIT * p[4]]])
        m = m0 @ rot @ shape
        return m, base_c + p[:2] - m @ centre

    height, width = (prior.image.shape[0] * prior.px_mm, prior.image.shape[1] * prior.px_mm)

    def cost(p: FloatArray) -> float:
        m, t = transform(p)
        q = pts @ m.T + t
        # Only where the prior has a picture: the chest-wall edge and the top of an MLO are borders
        # of the detector, not of the breast; tissue beyond them was not imaged.
        valid = (
            (q[:, 0] >= EDGE_MM) & (q[:, 0] <= width) & (q[:, 1] >= EDGE_MM) & (q[:, 1] <= height - EDGE_MM)
        )
        if valid.sum() < 0.5 * len(q):
            return 1.0
        sampled = ndi.map_coordinates(
            pri, [q[valid, 1] / prior.px_mm - 0.5, q[valid, 0] / prior.px_mm - 0.5], order=1, mode="nearest"
        )
        return -_ncc(values[valid], sampled)

    res = optimize.minimize(
        cost, np.zeros(6), method="Powell", options={"xtol": 0.05, "ftol": 1e-5, "maxfev": 1500}
    )
    m, t = transform(np.asarray(res.x, dtype=np.float64))
    return Affine2D.from_arrays(m, t)


def correlation(
    current: ViewFrame, prior: ViewFrame, transform: Affine2D, sigma_mm: float = SMOOTH_MM
) -> float:
    """Normalised cross-correlation of the current image and the prior mapped by ``transform``."""
    cur = _standardised(current, sigma_mm)
    pri = _standardised(prior, sigma_mm)
    step = max(1, round(GRID_MM / current.px_mm))
    rows, cols = np.nonzero(current.breast[::step, ::step])
    rows, cols = rows * step, cols * step
    pts = np.column_stack(((cols + 0.5) * current.px_mm, (rows + 0.5) * current.px_mm))
    m, t = transform.arrays()
    q = pts @ m.T + t
    valid = (
        (q[:, 0] >= EDGE_MM)
        & (q[:, 1] >= EDGE_MM)
        & (q[:, 1] <= prior.image.shape[0] * prior.px_mm - EDGE_MM)
    )
    sampled = ndi.map_coordinates(
        pri, [q[valid, 1] / prior.px_mm - 0.5, q[valid, 0] / prior.px_mm - 0.5], order=1, mode="nearest"
    )
    return _ncc(cur[rows[valid], cols[valid]], sampled)


def _largest_move_mm(current: ViewFrame, a: Affine2D, b: Affine2D) -> float:
    """Largest distance (mm) between where ``a`` and ``b`` put the corners of the current breast's
    bounding box and its landmarks."""
    rows, cols = np.nonzero(current.breast)
    if rows.size == 0:
        return 0.0
    x0, x1 = float(cols.min()) * current.px_mm, float(cols.max() + 1) * current.px_mm
    y0, y1 = float(rows.min()) * current.px_mm, float(rows.max() + 1) * current.px_mm
    points = [(x0, y0), (x0, y1), (x1, y0), (x1, y1)]
    points += [p for p in (current.nipple_mm, current.anchor_mm) if p is not None]
    return max(math.dist(a.apply(*p), b.apply(*p)) for p in points)


def outline_agreement(current: ViewFrame, prior: ViewFrame, transform: Affine2D) -> float:
    """Share of the samples around the current breast's outline (the breast and ``MARGIN_MM`` of
    air, within ``MARGIN_MM`` of the skin line) where breast and air agree on the mapped prior;
    samples mapped beyond the prior's detector edges are left out."""
    step = max(1, round(GRID_MM / current.px_mm))
    band = max(1, round(MARGIN_MM / current.px_mm))
    near = ndi.binary_dilation(current.breast, iterations=band) & ~ndi.binary_erosion(
        current.breast, iterations=band
    )
    rows, cols = np.nonzero(near[::step, ::step])
    rows, cols = rows * step, cols * step
    if rows.size == 0:
        return 0.0
    pts = np.column_stack(((cols + 0.5) * current.px_mm, (rows + 0.5) * current.px_mm))
    m, t = transform.arrays()
    q = pts @ m.T + t
    r = np.floor(q[:, 1] / prior.px_mm).astype(np.int64)
    c = np.floor(q[:, 0] / prior.px_mm).astype(np.int64)
    edge = max(1, round(EDGE_MM / prior.px_mm))
    height, width = prior.breast.shape
    valid = (c >= edge) & (c < width) & (r >= edge) & (r < height - edge)
    if not valid.any():
        return 0.0
    agree = current.breast[rows[valid], cols[valid]] == prior.breast[r[valid], c[valid]]
    return float(agree.mean())


def _refined(current: ViewFrame, prior: ViewFrame, init: Affine2D) -> Affine2D:
    coarse = _refine(current, prior, init, 2.0 * SMOOTH_MM, 2.0 * GRID_MM)
    return _refine(current, prior, coarse, SMOOTH_MM, GRID_MM)


def register(current: ViewFrame, prior: ViewFrame) -> Registration:
    """Landmark similarity, then affine NCC refinement coarse (4 mm smoothing, 2.4 mm grid) to fine;
    the landmark similarity stands when the refinement correlates worse than it or moves the breast
    implausibly far (:data:`MAX_MOVE_MM`) without improving the outline agreement.

    A second start that does not use the nipple (:func:`outline_similarity`) is refined too when
    the landmark similarity is implausible: when it puts the breast more than :data:`MAX_MOVE_MM`
    from where the outline start puts it (a second compression moves the nipple a few mm against
    the outline, not tens: one of the nipples was found in the wrong place), or when the refinement
    from it fell back or still moved the breast that far. Of the two refined maps the one whose
    outlines agree better (by :data:`OUTLINE_GAIN`; else the better correlation) is kept, and its
    own start is the ``initial`` the plausibility check compares with."""
    init = landmark_similarity(current, prior)
    fine = _refined(current, prior, init)
    outline = outline_similarity(current, prior)
    if (
        _largest_move_mm(current, init, outline) > MAX_MOVE_MM
        or _largest_move_mm(current, init, fine) > MAX_MOVE_MM
        or correlation(current, prior, fine) < correlation(current, prior, init)
    ):
        other = _refined(current, prior, outline)
        gain = outline_agreement(current, prior, other) - outline_agreement(current, prior, fine)
        if gain > OUTLINE_GAIN or (
            gain > -OUTLINE_GAIN and correlation(current, prior, other) > correlation(current, prior, fine)
        ):
            init, fine = outline, other
    ncc_initial = round(correlation(current, prior, init), 4)
    ncc = round(correlation(current, prior, fine), 4)
    fallback = ncc < ncc_initial or (
        _largest_move_mm(current, init, fine) > MAX_MOVE_MM
        and outline_agreement(current, prior, fine) < outline_agreement(current, prior, init) + OUTLINE_GAIN
    )
    return Registration(
        transform=init if fallback else fine,
        initial=init,
        ncc_initial=ncc_initial,
        ncc=ncc_initial if fallback else ncc,
        current=current,
        prior=prior,
        fallback=fallback,
    )
