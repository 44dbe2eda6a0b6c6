"""Where a finding lies in one breast frame, with its uncertainty (reference algorithms.md §7).

The frame is the coronal plane of one breast, centred on the nipple and seen facing the patient:
a finding is a point at ``distance_from_nipple_mm`` along the clock hand of its ``clock`` position
(12 o'clock up, 3 o'clock to the viewer's right: lateral in the left breast, medial in the right).
Every modality reports these two numbers (DESIGN §4 ``findings[].location``), so they are the one
place every modality meets; ``depth`` (anterior/middle/posterior third) is kept as evidence only,
because the thirds of a compressed, a supine and a prone breast are not the same thirds.

Each position carries two standard deviations, taken from :data:`UNCERTAINTY` by modality:
along the clock (hours) and along the distance (mm, relative plus a floor). A clock written as a
whole hour adds the rounding error of a uniform ±0.5 h (sd 1/√12 h); ``attributes.clock_hours``
(when an algorithm writes the unrounded clock) is used instead of the whole hour.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

#: Breast Tomosynthesis Image Storage (PS3.4 B.5): a mark on it makes the finding a DBT finding.
BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"

#: Modalities with an uncertainty entry; a finding of any other is left unplaced.
MODALITIES = ("MG", "DBT", "US", "MR")

#: sd (hours) of a clock written as a whole hour: uniform rounding error over ±0.5 h.
ROUNDING_SD_H = 1.0 / math.sqrt(12.0)

_KIND_MODALITY = {"us_lesion": "US", "enhancing_lesion": "MR"}
_MAMMOGRAPHIC_KINDS = frozenset({"mass", "calcification_cluster", "architectural_distortion", "asymmetry"})
_ALIASES = {"MRI": "MR", "MAMMOGRAPHY": "MG", "TOMO": "DBT", "TOMOSYNTHESIS": "DBT", "ULTRASOUND": "US"}


@dataclass(frozen=True)
class Uncertainty:
    """How well one modality places a finding in the breast frame (standard deviations).

    ``clock_h``: the clock's measurement error (hours), before any rounding to whole hours.
    ``distance_rel`` and ``distance_floor_mm``: the distance's error is
    ``sqrt(floor² + (rel · d)²)``; the floor also widens the position across the clock hand, so
    a finding near the nipple (where the clock means little) is still a blob, not a point.
    ``size_rel``: relative (log-scale) error of ``size_mm`` against the other modalities.
    """

    clock_h: float
    distance_rel: float
    distance_floor_mm: float
    size_rel: float
    why: str


#: Per-modality uncertainty. Numbers are judgement, stated with their reasons; the simulation in
#: ``bench/correlation_links.py`` draws its measurement noise from this same table.
UNCERTAINTY: Mapping[str, Uncertainty] = MappingProxyType(
    {
        "MG": Uncertainty(
            clock_h=1.25,
            distance_rel=0.15,
            distance_floor_mm=5.0,
            size_rel=0.25,
            why=(
                "2-D mammography: the clock is triangulated from CC + MLO assuming a 45° MLO "
                "(breastgate.algorithms._findings); the real MLO angle (40-60°), the roll of the "
                "breast under compression and lesions that rise or fall between views (Park & "
                "Franken) make it uncertain by ±1-1.5 h; the distance is a projected distance in "
                "a compressed breast, averaged over two views: ±15 %, floor 5 mm for the nipple "
                "found on the image (measured on phantom women, true lesions, seeds 0-99: rms "
                "5.4 mm, 12 %; previously ±25 %, floor 8 mm); sizes on projections include overlapping "
                "tissue (±25 %)"
            ),
        ),
        "DBT": Uncertainty(
            clock_h=1.0,
            distance_rel=0.2,
            distance_floor_mm=6.0,
            size_rel=0.2,
            why=(
                "tomosynthesis: the same CC + MLO triangulation as 2-D mammography (the view "
                "geometry dominates, so ±1 h), or, seen on one view only, its frame's height in "
                "the compressed breast scaled back to the free one (breastgate.algorithms."
                "_nipple_frame.volume_offsets); the lesion itself sharper in its slice (no "
                "overlap): distance ±20 % (compressed breast), floor 6 mm; size ±20 %"
            ),
        ),
        "US": Uncertainty(
            clock_h=0.5,
            distance_rel=0.15,
            distance_floor_mm=3.0,
            size_rel=0.2,
            why=(
                "ultrasound: the sonographer's annotation (side, clock, cm from the nipple; ACR/AIUM): "
                "probe placement against the clock face ±0.5 h, plus whole-hour rounding; distance "
                "in whole cm (rounding sd 2.9 mm: floor 3 mm; phantom women, seeds 0-99: rms 2.9 "
                "mm) from a probe placed by hand; the breast lies supine and flattens on the chest "
                "wall (±15 % against a compressed or prone breast; previously ±20 %, floor 4 mm); size "
                "±20 %"
            ),
        ),
        "MR": Uncertainty(
            clock_h=0.3,
            distance_rel=0.1,
            distance_floor_mm=3.0,
            size_rel=0.2,
            why=(
                "MRI: the lesion's 3-D centre relative to the segmented nipple "
                "(breastgate.kinetics.locate), the most precise (±0.3 h before whole-hour "
                "rounding, floor 3 mm); the prone breast hangs and lengthens (±10 % against the "
                "other modalities; phantom women, true lesions, seeds 0-99: rms 3.1 mm, 8 %; "
                "previously ±15 %); size from 3-D diameters ±20 %"
            ),
        ),
    }
)

#: Extra relative size error by kind: a calcification cluster's extent or an asymmetry is not
#: the size of a mass, so size agreement says little for them.
KIND_SIZE_REL: Mapping[str, float] = MappingProxyType(
    {"calcification_cluster": 0.6, "asymmetry": 0.6, "architectural_distortion": 0.4}
)


@dataclass(frozen=True)
class BreastPosition:
    """A finding placed in the coronal frame of its breast, with its uncertainty.

    ``clock`` is in hours in [0, 12) (12 o'clock is 0), read facing the patient.
    """

    laterality: str
    clock: float
    distance_from_nipple_mm: float
    depth: str | None
    sigma_clock_h: float
    sigma_distance_mm: float
    size_mm: float | None
    modality: str
    sigma_floor_mm: float = 0.0
    sigma_size_rel: float = 0.2
    score: float | None = None

    @property
    def angle(self) -> float:
        """The clock hand's angle (radians, clockwise from 12 o'clock, facing the patient)."""
        return self.clock / 12.0 * 2.0 * math.pi

    @property
    def xy(self) -> tuple[float, float]:
        """Coronal point (mm): x to the viewer's right (3 o'clock), y up (12 o'clock)."""
        d = self.distance_from_nipple_mm
        return d * math.sin(self.angle), d * math.cos(self.angle)

    def covariance(self) -> tuple[float, float, float]:
        """The position's 2×2 covariance (mm²) as (xx, xy, yy): radial sd along the clock hand,
        across it the clock sd times the distance, both with the floor."""
        d = self.distance_from_nipple_mm
        radial = self.sigma_distance_mm**2
        across = (d * self.sigma_clock_h * math.pi / 6.0) ** 2 + self.sigma_floor_mm**2
        s, c = math.sin(self.angle), math.cos(self.angle)  # unit radial vector (x, y) = (s, c)
        return (
            radial * s * s + across * c * c,
            (radial - across) * s * c,
            radial * c * c + across * s * s,
        )

    def compare(self, other: BreastPosition) -> PositionAgreement:
        """How far apart two positions are, in mm and in combined standard deviations, and how
        their sizes agree (None when either size is unknown)."""
        (x1, y1), (x2, y2) = self.xy, other.xy
        dx, dy = x2 - x1, y2 - y1
        a, b, c = (p + q for p, q in zip(self.covariance(), other.covariance(), strict=True))
        det = a * c - b * b
        normalised = math.sqrt(max((c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det, 0.0))
        ratio = size_z = None
        if self.size_mm and other.size_mm and self.size_mm > 0 and other.size_mm > 0:
            ratio = max(self.size_mm, other.size_mm) / min(self.size_mm, other.size_mm)
            size_z = math.log(ratio) / math.sqrt(self.size_log_var() + other.size_log_var())
        return PositionAgreement(math.hypot(dx, dy), normalised, ratio, size_z)

    def size_log_var(self) -> float:
        """Variance of ``log(size_mm)``: relative error plus SIZE_ABS_MM of absolute error, so the
        tolerance grows for small lesions."""
        size = self.size_mm or 0.0
        return self.sigma_size_rel**2 + (SIZE_ABS_MM / max(size, 1.0)) ** 2


#: Absolute size error (mm) of any measurement: callipers, a boundary a pixel or two off.
SIZE_ABS_MM = 2.0


@dataclass(frozen=True)
class PositionAgreement:
    """Two positions compared: ``frame_distance_mm`` between their coronal points,
    ``normalised_distance`` in combined standard deviations (Mahalanobis, 2-D), the larger-to-
    smaller ``size_ratio`` and its ``size_z`` in combined log-size standard deviations."""

    frame_distance_mm: float
    normalised_distance: float
    size_ratio: float | None
    size_z: float | None


def modality_of(finding: Mapping[str, Any], study_modalities: Collection[str] = ()) -> str:
    """The modality a results-JSON finding was seen on: US for ``us_lesion``, MR for
    ``enhancing_lesion``, DBT when a mark lies on a Breast Tomosynthesis image, MG for the
    mammographic kinds (unless the study holds no mammograms), else the study's one imaging
    modality; "" when none of these tells."""
    kind = str(finding.get("kind", ""))
    if kind in _KIND_MODALITY:
        return _KIND_MODALITY[kind]
    marks = finding.get("marks") or ()
    if any(isinstance(m, Mapping) and m.get("sop_class_uid") == BREAST_TOMOSYNTHESIS for m in marks):
        return "DBT"
    known = {normal_modality(m) for m in study_modalities} & set(MODALITIES)
    if kind in _MAMMOGRAPHIC_KINDS and (not known or "MG" in known):
        return "MG"
    return known.pop() if len(known) == 1 else ""


def normal_modality(modality: str) -> str:
    """``MR`` for ``MRI``, upper case; DICOM Modality values pass unchanged."""
    upper = modality.strip().upper()
    return _ALIASES.get(upper, upper)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _clock(finding: Mapping[str, Any], location: Mapping[str, Any]) -> tuple[float | None, bool]:
    """(clock hours in [0, 12), whether it was rounded to a whole hour) or (None, False)."""
    attributes = finding.get("attributes") or {}
    exact = _number(attributes.get("clock_hours")) if isinstance(attributes, Mapping) else None
    if exact is not None and 0.0 <= exact <= 12.0:
        return exact % 12.0, False
    whole = _number(location.get("clock"))
    if whole is None or not 1.0 <= whole <= 12.0:
        return None, False
    return whole % 12.0, whole == int(whole)


def why_unplaced(finding: Mapping[str, Any], modality: str) -> str | None:
    """Why :func:`place` cannot place ``finding`` (None when it can)."""
    if normal_modality(modality) not in UNCERTAINTY:
        return f"no position uncertainty for modality {modality or 'unknown'!r}"
    if finding.get("laterality") not in ("L", "R"):
        return "no laterality"
    location = finding.get("location")
    if not isinstance(location, Mapping):
        return "no location"
    if _clock(finding, location)[0] is None:
        return "no clock position (a mammographic finding seen on one view only cannot be triangulated)"
    distance = _number(location.get("distance_from_nipple_mm"))
    if distance is None or distance < 0:
        return "no distance from the nipple"
    return None


def place(finding: Mapping[str, Any], modality: str) -> BreastPosition | None:
    """The breast-frame position of a results-JSON finding seen on ``modality`` (MG, DBT, US, MR),
    or None when it has no side, clock or nipple distance (:func:`why_unplaced` says which)."""
    if why_unplaced(finding, modality) is not None:
        return None
    modality = normal_modality(modality)
    table = UNCERTAINTY[modality]
    location: Mapping[str, Any] = finding["location"]
    clock, rounded = _clock(finding, location)
    assert clock is not None  # checked by why_unplaced
    distance = float(location["distance_from_nipple_mm"])
    sigma_clock = math.hypot(table.clock_h, ROUNDING_SD_H) if rounded else table.clock_h
    size = _number(finding.get("size_mm"))
    kind_rel = KIND_SIZE_REL.get(str(finding.get("kind", "")), 0.0)
    depth = location.get("depth")
    return BreastPosition(
        laterality=str(finding["laterality"]),
        clock=clock,
        distance_from_nipple_mm=distance,
        depth=str(depth) if depth in ("anterior", "middle", "posterior") else None,
        sigma_clock_h=sigma_clock,
        sigma_distance_mm=math.hypot(table.distance_floor_mm, table.distance_rel * distance),
        size_mm=size if size is not None and size > 0 else None,
        modality=modality,
        sigma_floor_mm=table.distance_floor_mm,
        sigma_size_rel=math.hypot(table.size_rel, kind_rel),
        score=_score(finding),
    )


def _score(finding: Mapping[str, Any]) -> float | None:
    """The finding's ``score`` when it is a probability-like number in [0, 1], else None."""
    score = _number(finding.get("score"))
    return score if score is not None and 0.0 <= score <= 1.0 else None
