"""Tomosynthesis (DBT) volumes for the 2-D lesion detectors: slabs, slice-wise detection, 3-D merge.

A Breast Tomosynthesis Image (PS3.3 A.55) holds 1-mm slices. A mass of 5-30 mm occupies several
consecutive slices, in focus there and blurred and faded away from them (reference algorithms.md
§6.1, §6.3), so the 2-D detector runs on thin *slabs* and its detections are merged in depth:

1. frames are streamed one at a time (:func:`breastgate.imaging.frames.iter_frames`) and each is
   block-mean downsampled on arrival to at most ``VOLUME_MM`` per pixel, so the memory in use is a
   few downsampled frames, never the volume;
2. a slab is the mean of ``SLAB_FRAMES`` consecutive slices, one every ``SLAB_STRIDE`` slices (the
   last slab ends on the last frame): averaging 5 slices lowers the noise and the layer-specific
   texture of a single slice while a lesion of ≥ 5 mm keeps its contrast;
3. each slab becomes a :class:`~breastgate.imaging.pixels.MammoImage` (spacing = the downsampled
   spacing; laterality and view from the header) and goes through
   :func:`~breastgate.imaging.geometry.analyse_breast` and the detector like a 2-D image; slabs
   with less than 10 cm² of breast (near the paddles) are skipped;
4. detections are mapped back to the instance's pixel grid (× the downsampling factor) and merged:
   two detections are the same lesion when their slabs are at most ``MERGE_SLABS`` apart and their
   centres lie within the larger of their radii (size/2, at least ``MERGE_MIN_MM``); each merged
   lesion keeps its best-scoring detection, whose frame is the centre slice of its slab, and spans
   the frames of all the slabs it was detected on (first frame of the first slab .. last frame of
   the last: the mark's ``frames``, drawn slice by slice in the GSPS); the ``MAX_PER_VOLUME`` best
   lesions are kept;
5. the volume's nipple (for CC/MLO correlation and location) is the one found on the slab with the
   largest breast area (the mid-plane: slabs near the paddles show a shrunken outline);
6. a mark's point on its frame is placed in DICOM patient coordinates (LPS) by that frame's plane
   (:class:`~breastgate.imaging.frames.FramePlane`: Plane Position, Plane Orientation, Pixel
   Measures; PS3.3 C.7.6.2.1.1), in the volume's own Frame of Reference.

Synthesized 2-D views (For Presentation MG whose Source Image Sequence names the volume) are
selected as ordinary 2-D inputs.

Slabs of 5 slices every 3 were chosen on 24 development DBT phantoms (seeds 7000-7023, 0.3 mm,
12 with one mass of 5-30 mm; per-view sensitivity at false marks per volume, thresholds 0.1 /
0.2 / 0.3, ``breastgate.masses`` 1.1): 5×3 0.58 at 3.6 / 0.54 at 2.5 / 0.46 at 1.2; 5×2 the same
within one lesion view (0.62 at 3.7 / 0.54 at 2.6 / 0.46 at 1.3) for 1.5 times the slabs; 7×3
0.50 at 3.5 / 0.42 at 2.5 / 0.29 at 1.1; 9×4 0.50 at 3.5 / 0.42 at 2.2 / 0.25 at 0.8. Thicker
slabs dilute the smaller masses more than they calm the texture. Without ``MAX_PER_VOLUME``,
5×3 gives 0.67 at 9.8 false marks per volume (threshold 0.1).

Measured (bench/dbt_froc.py, 40 phantoms, seeds 8000+, 0.2 mm, 20 with a mass): lesion
sensitivity 0.65 (per view 0.55) at 3.7 false marks per volume at the operating point 0.1, 0.65
at 2.2 (0.3), 0.35 at 0.85 (0.5); case AUC 0.47; 5.4 s per volume (median, 2 cores). The 2-D
model scores slab texture as high as masses: its operating point, set on projections, does not
suit volumes. One 60-slice volume at 0.1 mm (3062 × 2394 pixels): 10.4 s, peak RSS 248 MB.
Tried on development DBT phantoms (seeds 7000+, 0.3 mm): the model refitted on 56 898 slab
candidates raised the candidate AUC only from 0.72 to 0.74 (case AUC 0.54); detecting on the mean
projection of the volume instead of slabs found fewer masses (0.35 at 2.5 false marks per volume).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from breastgate.algorithms._findings import Candidate, Detector, ImageContext, check_input
from breastgate.algorithms._grouping import single_linkage
from breastgate.algorithms._nipple_frame import axis_offsets, decompression, volume_offsets
from breastgate.algorithms.base import Selection
from breastgate.domain.model import AlgorithmStatus, ImageOutcome, InstanceRef, StudyRef
from breastgate.imaging.errors import ImagingError
from breastgate.imaging.frames import FrameInfo, FramePlane, frame_info, iter_frames
from breastgate.imaging.geometry import BreastGeometry, analyse_breast
from breastgate.imaging.pixels import BREAST_TOMOSYNTHESIS, MIN_SIDE, MammoImage, read_header

__all__ = [
    "SlabHit",
    "VolumeContext",
    "block_mean",
    "detect_volume",
    "merge_slab_hits",
    "select_mammograms_and_volumes",
    "slab_ranges",
    "volume_eligibility",
]

LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

#: Largest pixel of the downsampled frames (mm); the detectors' working grid is about 0.6 mm.
VOLUME_MM = 0.3
#: Slices averaged into one slab, and slices between the starts of consecutive slabs.
SLAB_FRAMES = 5
SLAB_STRIDE = 3
#: Detections on slabs at most this many slabs apart, closer than their radius, are one lesion.
MERGE_SLABS = 2
MERGE_MIN_MM = 4.0
#: Merged candidates kept per volume, best first (the 2-D detector keeps 4 per image).
MAX_PER_VOLUME = 4
#: Smallest breast area (mm²) on a slab worth running the detector on.
MIN_TISSUE_MM2 = 1000.0


# ---- selection ---------------------------------------------------------------------------------


def volume_eligibility(info: FrameInfo, modality: str) -> str | None:
    """Why a Breast Tomosynthesis instance cannot be analysed slice-wise, or None when it can."""
    if modality and modality.upper() != "MG":
        return f"not a mammography volume (modality {modality})"
    if min(info.rows, info.columns) < MIN_SIDE:
        return f"frames too small ({info.rows}x{info.columns} pixels, need at least {MIN_SIDE} a side)"
    if info.spacing_mm is None:
        return "missing Pixel Measures (Pixel Spacing); sizes cannot be measured"
    if info.laterality is None:
        return "unknown laterality (Frame Laterality / Image Laterality absent or not L/R)"
    return None


def select_mammograms_and_volumes(study: StudyRef) -> Selection:
    """For Presentation 2-D mammograms (synthesized 2-D views included) and Breast Tomosynthesis
    volumes as inputs; every other instance skipped with its reason."""
    inputs: list[InstanceRef] = []
    skipped: list[ImageOutcome] = []
    for ref in study.instances:
        chosen, outcome = _select_volume(ref) if _maybe_volume(ref) else (None, None)
        if chosen is not None:
            inputs.append(chosen)
            continue
        if outcome is None:
            reason, status, laterality, view = check_input(ref)
            if reason is None:
                inputs.append(ref)
                continue
            outcome = ImageOutcome(ref.sop_instance_uid, status, reason, laterality=laterality, view=view)
        skipped.append(outcome)
    return Selection(study=study, inputs=tuple(inputs), skipped=tuple(skipped))


def _maybe_volume(ref: InstanceRef) -> bool:
    if ref.sop_class_uid:
        return ref.sop_class_uid == BREAST_TOMOSYNTHESIS
    try:  # the index did not record the SOP class: ask the file
        return str(read_header(ref.path).get("SOPClassUID", "")) == BREAST_TOMOSYNTHESIS
    except Exception:
        return False  # check_input reports the unreadable file


def _select_volume(ref: InstanceRef) -> tuple[InstanceRef | None, ImageOutcome | None]:
    """(the input, None) for a usable volume, else (None, why it is skipped)."""
    try:
        info = frame_info(ref.path)
    except ImagingError as exc:
        return None, ImageOutcome(
            ref.sop_instance_uid, AlgorithmStatus.FAILED, str(exc), ref.laterality, ref.view
        )
    laterality = info.laterality or ref.laterality
    view = info.view or ref.view
    reason = volume_eligibility(info, ref.modality)
    if reason is not None:
        return None, ImageOutcome(ref.sop_instance_uid, AlgorithmStatus.SKIPPED, reason, laterality, view)
    return replace(
        ref,
        sop_class_uid=BREAST_TOMOSYNTHESIS,
        laterality=laterality,
        view=view,
        number_of_frames=info.number_of_frames,
    ), None


# ---- the volume as correlation sees it ---------------------------------------------------------


@dataclass(frozen=True)
class VolumeContext:
    """An analysed volume on its own pixel grid: what marks and CC/MLO correlation need.

    ``nipple`` is (column, row) on the instance's grid, ``nipple_slope`` the slope of the nipple
    axis (:attr:`breastgate.imaging.geometry.BreastGeometry.nipple_slope`); ``flipped`` says the
    chest wall is on the right of the frames; ``planes`` are the frames' planes in patient
    coordinates (None where the header does not place a frame).
    """

    ref: InstanceRef
    laterality: str
    view: str
    spacing_mm: tuple[float, float]
    columns: int
    nipple: tuple[float, float] | None
    flipped: bool
    frames: int
    slabs: int
    planes: tuple[FramePlane | None, ...] = ()
    nipple_slope: float | None = None
    half_width_mm: float | None = None

    def patient_mm(self, point: tuple[float, float], frame: int | None) -> tuple[float, float, float] | None:
        """DICOM patient coordinates (LPS, mm) of ``point`` (column, row) on 1-based ``frame``, in
        this volume's Frame of Reference; None when that frame has no plane."""
        if frame is None or not 1 <= frame <= len(self.planes):
            return None
        plane = self.planes[frame - 1]
        return None if plane is None else plane.patient_mm(point)

    def nipple_distance_mm(self, point: tuple[float, float]) -> float | None:
        if self.nipple is None:
            return None
        sr, sc = self.spacing_mm
        return math.hypot((point[0] - self.nipple[0]) * sc, (point[1] - self.nipple[1]) * sr)

    def chest_wall_depth_mm(self) -> float | None:
        if self.nipple is None:
            return None
        edge = self.columns if self.flipped else 0.0
        return abs(self.nipple[0] - edge) * self.spacing_mm[1]

    def axis_offsets(self, point: tuple[float, float]) -> tuple[float, float] | None:
        if self.nipple is None:
            return None
        return axis_offsets(point, self.nipple, self.nipple_slope, self.spacing_mm, self.flipped)

    def breast_offsets(self, point: tuple[float, float], frame: int | None) -> tuple[float, float] | None:
        """(medial, superior) mm of ``point`` on 1-based ``frame`` from the nipple axis, from this
        one view (:func:`~breastgate.algorithms._nipple_frame.volume_offsets`); None without a
        nipple, a laterality, or planes for every frame."""
        offsets = self.axis_offsets(point)
        planes = [p for p in self.planes if p is not None]
        if offsets is None or frame is None or self.laterality not in ("L", "R"):
            return None
        if len(planes) != self.frames or not 1 <= frame <= self.frames or self.frames < 2:
            return None
        row, col = np.asarray(planes[0].row_cosines), np.asarray(planes[0].column_cosines)
        normal = np.cross(row, col)
        if np.linalg.norm(normal) < 0.5:
            return None
        normal /= np.linalg.norm(normal)
        heights = np.array([float(np.dot(p.position_mm, normal)) for p in planes])
        thickness = float(np.ptp(heights)) * self.frames / (self.frames - 1)
        height = float(heights[frame - 1] - heights.mean())
        sr, sc = self.spacing_mm
        k_axis = 0.0 if self.nipple_slope is None else self.nipple_slope * sr / sc
        towards_nipple = row * (-1.0 if self.flipped else 1.0)
        across = (col - k_axis * towards_nipple) / math.hypot(1.0, k_axis)
        k = decompression(self.half_width_mm, thickness)
        return volume_offsets(self.laterality, offsets[1], _vector(across), height, _vector(normal), k)


def _vector(v: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2])


# ---- slabs -------------------------------------------------------------------------------------


def slab_ranges(frames: int, size: int | None = None, stride: int | None = None) -> list[tuple[int, int]]:
    """1-based (first, last) frames of each slab (default ``SLAB_FRAMES`` every ``SLAB_STRIDE``);
    the last slab ends on the last frame."""
    size = size or SLAB_FRAMES
    stride = stride or SLAB_STRIDE
    if frames <= size:
        return [(1, frames)]
    firsts = list(range(1, frames - size + 2, stride))
    if firsts[-1] + size - 1 < frames:
        firsts.append(frames - size + 1)
    return [(f, f + size - 1) for f in firsts]


def block_mean(frame: FloatArray, factor: int) -> FloatArray:
    """Mean over ``factor`` × ``factor`` blocks (the ragged last rows/columns are dropped)."""
    if factor == 1:
        return frame
    rows, cols = (frame.shape[0] // factor) * factor, (frame.shape[1] // factor) * factor
    blocks = frame[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor)
    out: FloatArray = blocks.mean(axis=(1, 3), dtype=np.float32)
    return out


def _downsampling(info: FrameInfo) -> tuple[int, tuple[float, float]]:
    assert info.spacing_mm is not None
    factor = max(1, int(VOLUME_MM / min(info.spacing_mm) + 1e-6))
    return factor, (info.spacing_mm[0] * factor, info.spacing_mm[1] * factor)


@dataclass(frozen=True)
class SlabHit:
    """One detection on one slab, before the 3-D merge."""

    slab: int
    centre: int  # 1-based centre frame of the slab
    candidate: Candidate  # on the instance's grid
    frames: tuple[int, int] | None = None  # 1-based (first, last) frames of the slab; None: centre

    @property
    def extent(self) -> tuple[int, int]:
        return self.frames if self.frames is not None else (self.centre, self.centre)


def _scaled(cand: Candidate, factor: int) -> Candidate:
    """A slab-grid candidate on the instance grid (pixel edges scale, origin at the top-left corner)."""
    if factor == 1:
        return cand

    def point(p: tuple[float, float]) -> tuple[float, float]:
        return p[0] * factor, p[1] * factor

    return replace(
        cand,
        point=point(cand.point),
        bbox=(cand.bbox[0] * factor, cand.bbox[1] * factor, cand.bbox[2] * factor, cand.bbox[3] * factor),
        outline=tuple(point(p) for p in cand.outline),
        members=tuple(point(p) for p in cand.members),
    )


def _slab_context(
    ref: InstanceRef, slab: FloatArray, spacing: tuple[float, float], info: FrameInfo
) -> ImageContext | None:
    laterality = info.laterality or ref.laterality or ""
    view = (info.view or ref.view or "").upper()
    image = MammoImage(
        pixels=slab,
        spacing_mm=spacing,
        laterality=laterality,
        view=view or None,
        photometric=info.photometric,
        patient_orientation=(),
        manufacturer="",
        sop_instance_uid=info.sop_instance_uid,
        transfer_syntax=info.transfer_syntax,
    )
    geometry = analyse_breast(image)
    if geometry.area_mm2(geometry.tissue) < MIN_TISSUE_MM2:
        return None
    return ImageContext(ref, image, geometry, laterality, view)


def _slabs(path: str, frames: int, factor: int) -> Iterator[tuple[int, tuple[int, int], FloatArray]]:
    """(index, (first, last), mean of the downsampled frames) of each slab, as its last frame
    arrives; only the running sums of the open slabs (at most two) are kept."""
    ranges = slab_ranges(frames)
    sums: dict[int, FloatArray] = {}
    for number, frame in iter_frames(path):
        small = block_mean(frame, factor)
        del frame
        for index, (first, last) in enumerate(ranges):
            if not first <= number <= last:
                continue
            if index in sums:
                sums[index] += small
            else:
                sums[index] = small.copy()
            if number == last:
                slab = sums.pop(index)
                slab /= np.float32(last - first + 1)
                yield index, (first, last), slab


def detect_volume(ref: InstanceRef, detect: Detector) -> tuple[VolumeContext, list[Candidate]]:
    """Run a 2-D detector slab by slab over a Breast Tomosynthesis volume and merge in 3-D.

    Returns the volume's context (instance grid) and its merged candidates, each with ``frame``.

    Raises
    ------
    ImagingError
        The volume cannot be read or decoded, or no slab shows a breast.
    """
    info = frame_info(ref.path)
    reason = volume_eligibility(info, ref.modality)
    if reason is not None:
        raise ImagingError(reason)
    assert info.spacing_mm is not None  # checked by volume_eligibility
    factor, spacing = _downsampling(info)
    hits: list[SlabHit] = []
    best_geometry: tuple[float, BreastGeometry] | None = None
    analysed = 0
    for index, (first, last), slab in _slabs(ref.path, info.number_of_frames, factor):
        context = _slab_context(ref, slab, spacing, info)
        del slab
        if context is None:
            continue
        analysed += 1
        area = context.geometry.area_mm2(context.geometry.breast)
        if context.geometry.nipple is not None and (best_geometry is None or area > best_geometry[0]):
            best_geometry = (area, context.geometry)
        centre = (first + last) // 2
        hits += [SlabHit(index, centre, _scaled(c, factor), (first, last)) for c in detect(context)]
    if analysed == 0:
        raise ImagingError("no slab of the volume shows a breast region of 10 cm² or more")
    nipple, flipped, slope, half_width = None, False, None, None
    if best_geometry is not None:
        g = best_geometry[1]
        assert g.nipple is not None
        nipple, flipped, slope = (g.nipple[0] * factor, g.nipple[1] * factor), g.flipped, g.nipple_slope
        half_width = g.half_width_mm
    volume = VolumeContext(
        ref=ref,
        laterality=info.laterality or ref.laterality or "",
        view=(info.view or ref.view or "").upper(),
        spacing_mm=info.spacing_mm,
        columns=info.columns,
        nipple=nipple,
        flipped=flipped,
        frames=info.number_of_frames,
        slabs=analysed,
        planes=info.planes,
        nipple_slope=slope,
        half_width_mm=half_width,
    )
    return volume, merge_slab_hits(hits, volume.spacing_mm)


def merge_slab_hits(hits: list[SlabHit], spacing_mm: tuple[float, float]) -> list[Candidate]:
    """One candidate per lesion: detections linked across nearby slabs at the same place
    (single linkage), each lesion represented by its best detection (with that slab's centre frame)
    and spanning the frames of all its slabs (``Candidate.frames``).

    ``spacing_mm`` is the (row, column) spacing of the grid the candidates are on.
    """

    def linked() -> Iterator[tuple[int, int]]:
        for i, a in enumerate(hits):
            for j in range(i + 1, len(hits)):
                b = hits[j]
                if abs(a.slab - b.slab) > MERGE_SLABS:
                    continue
                reach_mm = max(a.candidate.size_mm / 2.0, b.candidate.size_mm / 2.0, MERGE_MIN_MM)
                (ca, ra), (cb, rb) = a.candidate.point, b.candidate.point
                if math.hypot((ca - cb) * spacing_mm[1], (ra - rb) * spacing_mm[0]) <= reach_mm:
                    yield i, j

    merged = []
    for group in single_linkage(len(hits), linked()):
        members = [hits[i] for i in group]
        best = max(members, key=lambda h: (h.candidate.score, -h.slab))
        frames = [h.centre for h in members]
        features = {
            **best.candidate.features,
            "slabs": float(len({h.slab for h in members})),
            "first_frame": float(min(frames)),
            "last_frame": float(max(frames)),
        }
        extent = (min(h.extent[0] for h in members), max(h.extent[1] for h in members))
        merged.append(replace(best.candidate, frame=best.centre, frames=extent, features=features))
    merged.sort(key=lambda c: (-c.score, c.frame or 0, c.point))
    return merged[:MAX_PER_VOLUME]
