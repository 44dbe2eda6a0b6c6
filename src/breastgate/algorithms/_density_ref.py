"""Dense-tissue segmentation calibrated on reference tissues (method ``ref``).

Rule, and why:

1. **Thickness fall-off.** A compressed breast thins towards the skin line, so every tissue reads
   darker there. Fat is the least attenuating tissue, so the *lowest* signal at a given distance d
   from the skin (chest-wall edge excluded) is fat: the baseline b(d) is the 5th percentile of each
   2 mm ring, made non-decreasing inwards (running maximum). It saturates where the breast reaches
   full thickness, at depth d*: after the profile's steepest slope (searched in the outer 10 mm,
   because film and detector toes make the profile S-shaped there, as mini-MIAS shows), d* is
   where the slope falls below 10 % of that peak (clipped to 10-45 mm), or where the slope starts
   growing again (a thickness curve is concave beyond its steepest point; a growing slope means the
   ring's low tail is now glandular tissue, not fat, so the fat profile ends there, at >= 4 mm).
   The image scale is log-like (For Presentation), so thickness loss shifts fat and gland alike and
   the correction is additive: ``b(d*) - b(min(d, d*))`` is added, making fat flat at every depth.
   **Film toe.** On digitised film the fall-off runs through the film's toe: the profile's slope is
   not steepest at the skin line but *grows* inwards and peaks 10-20 mm in, and the baseline keeps
   rising, with bumps, for 20-35 mm (measured on the 162 mini-MIAS calibration images). Read with
   the FFDM rule above, a bump looked like glandular tissue and stopped the profile early (at 9 mm
   in 34 of them), F came from a still-dark rim, and a fatty interior read dense. So when the
   slope at the skin ring is below 75 % of the outer 10 mm's peak (a toe: the slope grows from the
   skin) or some slope within 25 mm is more than twice that peak (the toe's real peak lies deeper),
   the peak is the steepest slope within 25 mm and only its fading ends the fat profile (no
   "growing slope" stop, which on film fires on the toe's bumps): 156 of the 162 films (skin-ring
   slope 0.18-0.94 of the peak, median 0.57). A detector image is steepest at the skin line (160
   phantom views: skin-ring slope >= 0.97 of the peak, nothing steeper within 25 mm), so none is a
   toe and it keeps the FFDM rule. Effect on mini-MIAS: AUC of PD% for MIAS dense (D) against
   fatty (F) 0.78 -> 0.92; phantom categories unchanged.
2. **References.** Fat level F = 10th percentile of the corrected subcutaneous band 2-6 mm inside
   the skin (a thin band: subcutaneous fat is present at every density, glandular tissue rarely
   reaches it). Fat spread s from the band's lower tail (2nd-20th percentiles over their normal
   quantile distance), which stays pure fat even where dense tissue enters the band. Glandular level
   G = median of the pectoral muscle when one is seen (MLO: muscle and fibroglandular tissue
   attenuate alike), else the 90th percentile of the interior deeper than the band (CC).
3. **Cut.** A pixel (smoothed with σ = 1 mm) is dense when above ``F + 0.4 (G - F)``, never below
   F + 3 s (noise alone is never dense). 0.4 rather than 0.5: dense tissue has soft, partial-volume
   edges that belong to its area, while G is the level of its cores.
   **Homogeneous breasts:** when G is within 8 s of F *and* the interior median is nearer F than
   G, there is no bright mode distinct from fat texture: the breast is fatty and only pixels above
   F + 8 s count. An interior that is uniformly bright (median nearer G) is dense, whatever s.
   With a muscle reference, a subcutaneous band within 8 s of the muscle whose interior is as
   bright (or the muscle within 3 s of the band) means no fat is visible at all: the breast reads
   like muscle and every pixel above F - 3 s is dense. Without a muscle (CC) such a breast cannot be
   told from a fatty one on its own image (see the limitation below).

4. **Shared reference per breast.** A CC view has no muscle, so its glandular level is only the
   bright tail of its own interior: in a fatty breast that tail is ligaments and small islands, and
   a cut at 40 % of it counts fat texture; in a uniformly dense breast there is no fat to contrast
   with at all. The MLO view of the same breast, taken on the same detector minutes apart, has the
   muscle. Its gland contrast in units of fat spread, (G - F) / s, and its "no fat visible" verdict
   are passed to the other views of that breast (``reference``): G = F + contrast x s there, and a
   breast whose MLO reads uniformly dense is dense on its CC too. Whether a view shows any bright
   mode distinct from fat (step 3, "homogeneous") is still asked of its own pixels. Without an
   MLO (a CC-only study) each view stands alone, with the limitation that a CC view of a uniformly
   dense breast with no visible subcutaneous fat reads fatty.

PD% = dense area / tissue area (in :mod:`breastgate.algorithms.density`). Only levels measured on
the image itself are used; no vendor or generator constant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

#: Ring width (mm) of the distance-to-skin profile.
RING_MM = 2.0
#: Deepest ring (mm) looked at for the fall-off.
PROFILE_MM = 60.0
#: Percentile of a ring taken as its fat baseline.
BASELINE_PERCENTILE = 5.0
#: Bounds (mm) of the saturation depth (full compressed thickness reached).
SATURATION_MM = (10.0, 45.0)
#: The fall-off has ended where its slope drops below this fraction of its initial slope.
KNEE_FRACTION = 0.1
#: A slope increase larger than this fraction of the initial slope is a rise of glandular tissue.
RISE_TOLERANCE = 0.05
#: The fall-off is steepest within this depth (mm); film and detector toes make it S-shaped there.
SKIN_EDGE_MM = 10.0
#: Film toe (see step 1): the steepest slope is then searched this deep (mm).
TOE_MM = 25.0
#: A skin-ring slope below this fraction of the outer SKIN_EDGE_MM's peak slope is a toe.
TOE_FRACTION = 0.75
#: So is a slope within TOE_MM more than this many times that peak.
TOE_RATIO = 2.0
#: Subcutaneous band (mm inside the skin line) used as the fat reference.
BAND_MM = (2.0, 6.0)
#: Gaussian smoothing (mm) of the image before thresholding.
SMOOTH_MM = 1.0
#: Minimum pectoral area (pixels) used as the glandular reference.
MIN_MUSCLE_PX = 200
#: Percentile of the corrected interior used as the bright (glandular) mode where no muscle is seen.
BRIGHT_PERCENTILE = 90.0
#: Percentile of the corrected subcutaneous band taken as the fat level.
FAT_PERCENTILE = 10.0
#: Position of the cut between the fat and glandular levels.
CUT_FRACTION = 0.4
#: A glandular level closer to F than this many fat spreads is not a distinct bright mode.
DISTINCT_K = 8.0
#: An interior whose median is above this fraction of the way from F to G is uniformly bright.
UNIFORM_FRACTION = 0.5
#: The dense cut is never below F + NOISE_K * fat spread.
NOISE_K = 3.0


@dataclass(frozen=True)
class BreastReference:
    """What a view with a visible pectoral muscle says about its breast, for the breast's other views."""

    #: Glandular (muscle) level above fat, in units of the fat spread: (G - F) / s.
    contrast: float
    #: No fat visible on that view: the breast reads like muscle throughout.
    uniform_dense: bool


@dataclass(frozen=True)
class DenseSegmentation:
    """Dense mask and the numbers behind it."""

    dense: BoolArray
    fat_level: float
    gland_level: float
    cut: float
    saturation_mm: float
    fat_spread: float
    gland_source: str

    @property
    def breast_reference(self) -> BreastReference | None:
        """The reference this view offers its breast's other views (only a view with a muscle has one)."""
        if not self.gland_source.startswith("muscle") or self.fat_spread <= 0:
            return None
        contrast = (self.gland_level - self.fat_level) / self.fat_spread
        return BreastReference(contrast=contrast, uniform_dense=self.gland_source == "muscle-uniform")


def skin_distance_mm(breast: BoolArray, px_mm: float) -> FloatArray:
    """Distance (mm) of every breast pixel to the skin line; the chest-wall edge (left) is not skin."""
    padded = np.pad(breast, ((0, 0), (8, 0)), mode="edge")
    distance = ndi.distance_transform_edt(padded)[:, 8:] * px_mm
    result: FloatArray = distance.astype(np.float32)
    return result


def fat_baseline(
    image: FloatArray, tissue: BoolArray, distance: FloatArray
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """Fat baseline b(d) per ring and the saturation depth (mm).

    Returns ring centres (mm), the monotone baseline at each centre and the saturation depth.
    """
    depths: list[float] = []
    levels: list[float] = []
    for lo in np.arange(0.0, PROFILE_MM, RING_MM):
        ring = image[tissue & (distance >= lo) & (distance < lo + RING_MM)]
        if ring.size < 30:
            break
        depths.append(float(lo + RING_MM / 2))
        levels.append(float(np.percentile(ring, BASELINE_PERCENTILE)))
    centres = np.asarray(depths)
    if centres.size < 4:
        return centres, np.asarray(levels), float(SATURATION_MM[0])
    raw = ndi.gaussian_filter1d(np.asarray(levels), 1.0, mode="nearest")
    slope = np.gradient(raw, centres)
    early = np.flatnonzero(centres <= SKIN_EDGE_MM)
    peak = int(early[np.argmax(slope[early])])
    deep = np.flatnonzero(centres <= TOE_MM)
    steepest = int(deep[np.argmax(slope[deep])])
    toe = bool(slope[0] < TOE_FRACTION * slope[peak] or slope[steepest] > TOE_RATIO * slope[peak])
    if toe:
        # Film: the characteristic curve's toe makes the fall-off steepest well inside the skin line.
        peak = steepest
    initial = float(slope[peak])
    knee, low = float(SATURATION_MM[1]), SATURATION_MM[0]
    for k in range(peak + 1, centres.size):
        if not toe and slope[k] > slope[k - 1] + RISE_TOLERANCE * initial:
            # Slope growing again: not thickness any more but glandular tissue in the ring's low tail.
            knee, low = float(centres[k - 1]), 2.0 * RING_MM
            break
        if slope[k] < KNEE_FRACTION * initial and centres[k] >= SATURATION_MM[0]:
            knee = float(centres[k])
            break
    knee = float(np.clip(knee, low, min(SATURATION_MM[1], float(centres[-1]))))
    baseline = np.maximum.accumulate(raw)
    return centres, baseline, knee


def correct_falloff(image: FloatArray, tissue: BoolArray, distance: FloatArray) -> tuple[FloatArray, float]:
    """Subtract the fat baseline's deficit b(d*) - b(min(d, d*)) so fat reads flat at every depth."""
    centres, baseline, knee = fat_baseline(image, tissue, distance)
    if centres.size < 4:
        return image, knee
    plateau = float(np.interp(knee, centres, baseline))
    offset = np.interp(np.minimum(distance, knee), centres, baseline) - plateau
    corrected: FloatArray = (image - offset.astype(np.float32)).astype(np.float32)
    return corrected, knee


def _indistinct(bright: float, fat: float, centre: float, spread: float) -> bool:
    """No bright mode distinct from fat texture, and an interior that is not uniformly bright."""
    return bright - fat < DISTINCT_K * spread and centre - fat < UNIFORM_FRACTION * (bright - fat)


def segment_dense(
    image: FloatArray,
    breast: BoolArray,
    tissue: BoolArray,
    px_mm: float,
    reference: BreastReference | None = None,
) -> DenseSegmentation:
    """Dense pixels of ``tissue``: closer to the glandular reference than to the fat reference.

    ``reference`` comes from another view of the same breast that shows the pectoral muscle; it is
    used only when this view shows no muscle of its own.
    """
    distance = skin_distance_mm(breast, px_mm)
    smooth = ndi.gaussian_filter(image.astype(np.float32), SMOOTH_MM / px_mm)
    corrected, knee = correct_falloff(smooth, tissue, distance)
    band = tissue & (distance >= BAND_MM[0]) & (distance <= BAND_MM[1])
    if np.count_nonzero(band) < 50:
        band = tissue
    band_values = corrected[band].astype(np.float64)
    fat = float(np.percentile(band_values, FAT_PERCENTILE))
    # Fat spread from the band's lower tail (pure fat even when dense tissue reaches the band):
    # for a normal law the 2nd and 20th percentiles lie 2.054 and 0.842 standard deviations below the mean.
    low, high = np.percentile(band_values, [2.0, 20.0])
    spread = float(high - low) / (2.054 - 0.842)
    muscle = breast & ~tissue
    interior = tissue & (distance >= BAND_MM[1])
    if np.count_nonzero(interior) < 100:
        interior = tissue
    bright = float(np.percentile(corrected[interior], BRIGHT_PERCENTILE))
    gland, source = bright, "interior"
    if np.count_nonzero(muscle) >= MIN_MUSCLE_PX:
        gland, source = float(np.median(corrected[muscle])), "muscle"
    elif reference is not None:
        gland, source = fat + reference.contrast * spread, "shared"
    centre = float(np.median(corrected[interior]))
    uniform = centre - fat >= UNIFORM_FRACTION * (gland - fat)
    muscle_like = uniform or gland - fat < NOISE_K * spread
    if source == "shared" and reference is not None and reference.uniform_dense:
        # The same breast reads like muscle throughout on its MLO view: dense here too.
        cut = fat - NOISE_K * spread
        source += "-uniform"
    elif source == "muscle" and gland - fat < DISTINCT_K * spread and muscle_like:
        # Even the subcutaneous band reads like muscle: no fat to be seen, the breast is dense.
        cut = fat - NOISE_K * spread
        source += "-uniform"
    elif _indistinct(bright if source == "shared" else gland, fat, centre, spread):
        # No bright mode distinct from fat texture: a fatty breast; only clearly glandular pixels count.
        # (With a shared reference the question is asked of this view's own bright tail: a shared
        # gland level says where the cut lies, not whether this view shows any gland at all.)
        cut = fat + DISTINCT_K * spread
        source += "-indistinct"
    else:
        cut = max(fat + CUT_FRACTION * (gland - fat), fat + NOISE_K * spread)
    dense = tissue & (corrected >= cut)
    LOGGER.debug(
        "ref density: F %.1f G %.1f (%s) s %.1f cut %.1f d* %.0f mm", fat, gland, source, spread, cut, knee
    )
    return DenseSegmentation(
        dense=dense,
        fat_level=fat,
        gland_level=gland,
        cut=float(cut),
        saturation_mm=knee,
        fat_spread=spread,
        gland_source=source,
    )
