"""One lesion seen several times: frames of a cine sweep, and orthogonal views.

A sonographer measures a breast lesion in two orthogonal planes (radial and antiradial, or
transverse and sagittal): the width and depth in one, the width in the other, three diameters in
all. breastgate gets the third diameter in two ways:

- a cine sweep (US Multi-frame) crosses the lesion: detections on successive frames that overlap
  are one lesion (:func:`track`); its elevational extent is the number of frames it spans times the
  frame step, when the scanner gives the step (Spacing Between Slices);
- two views of one lesion: the two regions of one dual-view frame (the largest lesion of each at
  a like depth and size, :func:`pair_views`), or two separate images whose locations name the same
  spot of the same breast in orthogonal planes (:func:`same_spot`; their lesions matched by depth
  and size, :func:`match_views`); the lesion's width in the second view is the third diameter.
  Images of unknown side, clock, distance or plane are never paired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from breastgate.algorithms._us_lesions import UsLesion
from breastgate.imaging.us_annotation import UsLocation

#: Two detections on neighbouring sampled frames are one lesion when their centres lie closer than
#: this share of the larger one's width.
TRACK_SHARE = 0.5
#: Views are one lesion when their depths (centre below the region top, mm) differ by at most
#: VIEW_DEPTH_MM and their depth diameters by at most a factor VIEW_SIZE_RATIO.
VIEW_DEPTH_MM = 8.0
VIEW_SIZE_RATIO = 1.6
#: Two separate images show one spot when their clocks differ by at most SPOT_CLOCK_HOURS and
#: their distances from the nipple by at most SPOT_DISTANCE_MM (issue 19: 1 h, 1 cm).
SPOT_CLOCK_HOURS = 1.0
SPOT_DISTANCE_MM = 10.0
#: Pairs of orthogonal scan planes (reference algorithms.md §7); the first of each is the plane
#: whose width is reported first.
ORTHOGONAL_PLANES = (("radial", "antiradial"), ("transverse", "sagittal"))


@dataclass(eq=False)  # identity: detections hold arrays
class Seen:
    """One detection: where (image, frame 1-based, region) and what."""

    sop_instance_uid: str
    frame: int | None
    region: int
    origin: tuple[int, int]  # the region's top-left corner (col, row) in the frame
    lesion: UsLesion
    mm: tuple[float, float] | None  # (x, y) mm per pixel of the region, None = not calibrated


@dataclass(eq=False)
class Track:
    """Detections of one lesion over the frames of a sweep (or a single detection)."""

    seen: list[Seen]

    @property
    def key(self) -> Seen:
        """The detection shown and measured: the frame where the lesion is largest."""
        return max(self.seen, key=lambda s: (float(s.lesion.mask.sum()), s.lesion.score))

    @property
    def score(self) -> float:
        return float(max(s.lesion.score for s in self.seen))

    def frame_span(self) -> tuple[int, int] | None:
        frames = [s.frame for s in self.seen if s.frame is not None]
        return (min(frames), max(frames)) if frames else None


def _near(a: Seen, b: Seen) -> bool:
    (ca, ra), (cb, rb) = a.lesion.centre, b.lesion.centre
    reach = TRACK_SHARE * max(a.lesion.width_px, b.lesion.width_px, 4.0)
    return a.region == b.region and (ca - cb) ** 2 + (ra - rb) ** 2 <= reach * reach


def track(seen: Sequence[Seen], step: int) -> list[Track]:
    """Group the detections of a sweep (sampled every ``step`` frames) into lesions: a detection
    joins the track whose last detection is on the previous sampled frame and overlaps it."""
    tracks: list[Track] = []
    for item in sorted(seen, key=lambda s: (s.frame or 0, -s.lesion.score)):
        best: Track | None = None
        for candidate in tracks:
            last = candidate.seen[-1]
            gap = None if last.frame is None or item.frame is None else item.frame - last.frame
            if gap is None or not 0 < gap <= step or not _near(last, item):
                continue
            if best is None or candidate.score > best.score:
                best = candidate
        if best is None:
            tracks.append(Track([item]))
        else:
            best.seen.append(item)
    return tracks


def elevation_mm(item: Track, step: int, frame_step_mm: float | None) -> float | None:
    """The elevational diameter of a tracked lesion: frames spanned (plus one sampling step, as
    the edges lie between sampled frames) times the frame step; None without a step or when the
    lesion touches the first or last frame of the sweep (it may go on beyond)."""
    span = item.frame_span()
    if frame_step_mm is None or span is None or len(item.seen) < 2:
        return None
    return round((span[1] - span[0] + step) * frame_step_mm, 1)


def depth_mm(item: Seen) -> float | None:
    """Depth of the lesion centre below the region's top (the skin, for a linear probe), mm."""
    if item.mm is None:
        return None
    return float(item.lesion.centre[1] * item.mm[1])


def _depth_gap(a: Track, b: Track) -> float | None:
    """How far apart two views' lesions lie in depth (mm) when they agree in depth and depth
    diameter (one lesion), else None."""
    da, db = depth_mm(a.key), depth_mm(b.key)
    if da is None or db is None or abs(da - db) > VIEW_DEPTH_MM:
        return None
    ha = a.key.lesion.depth_px * (a.key.mm or (1.0, 1.0))[1]
    hb = b.key.lesion.depth_px * (b.key.mm or (1.0, 1.0))[1]
    if min(ha, hb) <= 0 or max(ha, hb) / min(ha, hb) > VIEW_SIZE_RATIO:
        return None
    return abs(da - db)


def pair_views(first: Sequence[Track], second: Sequence[Track]) -> tuple[Track, Track] | None:
    """The largest lesion of each of two orthogonal views when they agree in depth and size."""
    if not first or not second:
        return None
    a, b = max(first, key=lambda t: t.score), max(second, key=lambda t: t.score)
    return (a, b) if _depth_gap(a, b) is not None else None


def plane_order(first: str | None, second: str | None) -> int | None:
    """0 when ``first`` and ``second`` are orthogonal planes in the reporting order (radial then
    antiradial, transverse then sagittal), 1 when reversed, None when not orthogonal or unknown."""
    for pair in ORTHOGONAL_PLANES:
        if (first, second) == pair:
            return 0
        if (second, first) == pair:
            return 1
    return None


def _clock_gap(a: UsLocation, b: UsLocation) -> float:
    ha = a.clock_hours if a.clock_hours is not None else float(a.clock or 0)
    hb = b.clock_hours if b.clock_hours is not None else float(b.clock or 0)
    gap = abs(ha - hb) % 12
    return min(gap, 12 - gap)


def same_spot(a: UsLocation | None, b: UsLocation | None, sides: tuple[str | None, str | None]) -> bool:
    """True when two separate images were taken at one spot of one breast in orthogonal planes:
    the same known side (``sides``: each image's laterality), clocks within SPOT_CLOCK_HOURS,
    distances from the nipple within SPOT_DISTANCE_MM, planes orthogonal. An unknown side, clock,
    distance or plane is never the same spot."""
    if a is None or b is None or sides[0] is None or sides[0] != sides[1]:
        return False
    if any(loc.laterality not in (None, sides[0]) for loc in (a, b)):
        return False
    if a.clock is None or b.clock is None or _clock_gap(a, b) > SPOT_CLOCK_HOURS:
        return False
    da, db = a.distance_from_nipple_mm, b.distance_from_nipple_mm
    if da is None or db is None or abs(da - db) > SPOT_DISTANCE_MM:
        return False
    return plane_order(a.plane, b.plane) is not None


def match_views(first: Sequence[Track], second: Sequence[Track]) -> list[tuple[Track, Track]]:
    """The lesions of two orthogonal views of one spot that are one lesion: pairs that agree in
    depth and size, the closest in depth first, each lesion in one pair at most."""
    gaps = [
        (gap, i, j)
        for i, a in enumerate(first)
        for j, b in enumerate(second)
        if (gap := _depth_gap(a, b)) is not None
    ]
    pairs: list[tuple[Track, Track]] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for _, i, j in sorted(gaps):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((first[i], second[j]))
    return pairs
