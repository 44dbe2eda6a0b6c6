"""Breast ultrasound lesions (``breastgate.ultrasound``): B-mode detection, size, BI-RADS US descriptors.

Per ultrasound image (US Image or US Multi-frame Image Storage, single- or multi-region):

1. the B-mode regions of the Sequence of Ultrasound Regions (:mod:`breastgate.imaging.us`), each
   with its own calibration; calipers, text and colour-Doppler overlays are masked out;
2. the location: structured (Image Comments written as an annotation) when present, else the
   burned-in annotation outside the regions read by OCR (:mod:`breastgate.imaging.us_annotation`);
   a location that cannot be read is unknown, never guessed;
3. lesions per region (:func:`breastgate.algorithms._us_lesions.find_lesions`): outline, width and
   depth as a sonographer measures them (caliper lines), shape, orientation, margin, echo pattern
   and posterior features with their measured basis, a detection score and a malignancy score;
4. the third diameter where the images allow (:mod:`breastgate.algorithms._us_views`): frames of a
   cine sweep tracked through the lesion (elevational extent, with the frame step), or two
   orthogonal views of one lesion: a dual-view frame, or two separate single-region images of the
   same side, clock (within 1 h) and distance (within 1 cm) in orthogonal planes (radial and
   antiradial, transverse and sagittal), whose lesions agree in depth and size: one finding with a
   mark on each image;
5. sizes only in regions calibrated in cm: elsewhere the lesion is reported without a size and the
   image's message says why.

Findings are ``us_lesion``, one mark per view on the frame (key frame of a sweep) where the lesion
is largest, with its outline and its caliper lines. Not for diagnostic use.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import combinations

import numpy as np
from skimage import measure

from breastgate.algorithms._us_cnn import unavailable
from breastgate.algorithms._us_lesions import UsLesion, find_lesions, thresholds
from breastgate.algorithms._us_views import (
    Seen,
    Track,
    elevation_mm,
    match_views,
    pair_views,
    plane_order,
    same_spot,
    track,
)
from breastgate.algorithms.base import Selection
from breastgate.domain.model import (
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    Finding,
    FindingKind,
    FindingLocation,
    ImageOutcome,
    Mark,
    StudyRef,
)
from breastgate.imaging.errors import ImagingError
from breastgate.imaging.us import (
    US_SOP_CLASSES,
    UsImage,
    overlay_mask,
    read_us_frames,
    read_us_header,
    to_gray,
)
from breastgate.imaging.us_annotation import UsLocation, parse_structured
from breastgate.imaging.us_ocr import read_annotation

LOGGER = logging.getLogger(__name__)

MANIFEST = AlgorithmManifest(
    id="breastgate.ultrasound",
    version="1.3.1",
    name="Breast ultrasound lesions (B-mode detection, size, BI-RADS US descriptors)",
    intended_use=(
        "Outlines hypoechoic lesions on B-mode breast ultrasound, measures them in the calibrated "
        "region and describes shape, orientation, margin, echo pattern and posterior features; "
        "reads the location from the annotation; a reference implementation."
    ),
    modalities=("US",),
    sop_class_uids=tuple(sorted(US_SOP_CLASSES)),
    outputs=("findings", "gsps", "csps", "tid1500"),
    model_card="docs/algorithms/breastgate.ultrasound.md@1.3",
)

#: At most this many frames of a cine sweep are read (evenly spaced), for speed.
MAX_CINE_FRAMES = 25
#: A lesion seen on fewer sampled frames than this is speckle in a sweep, not a lesion.
MIN_TRACK_FRAMES = 2
MAX_FINDINGS = 8


@dataclass
class _ImageRead:
    """What one image gave: its tracks per region, its location, the reasons it could not do more."""

    image: UsImage
    location: UsLocation | None
    laterality: str | None
    tracks: dict[int, list[Track]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    step: int = 1


#: One view of a lesion: its track and the image it is on.
View = tuple[Track, _ImageRead]


def _inclusive(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """A region box (c1/r1 exclusive) as the OCR takes it: inclusive, as Region Location X1/Y1."""
    return box[0], box[1], box[2] - 1, box[3] - 1


def _location(image: UsImage, frame: np.ndarray) -> tuple[UsLocation | None, str]:
    """Structured location first (Image Laterality + Image Comments), else the burned-in
    annotation outside the regions by OCR. Returns the location (None = unknown) and a note.

    Text burned in over the B-mode image (depth labels, caliper readings) is masked with the other
    overlays by :func:`~breastgate.imaging.us.overlay_mask` (white or coloured thin strokes); OCR
    inside the region (``text_boxes_inside``) is not used: on speckle it takes bright tissue for
    words and costs a Tesseract call per region."""
    if image.image_comments:
        parsed = parse_structured(image.laterality, image.image_comments)
        if parsed.known:
            return parsed, ""
    reading = read_annotation(frame, [_inclusive(r.box) for r in image.regions])
    if not reading.available:
        return None, f"location unknown: {reading.reason}"
    if not reading.location.known:
        return None, "location unknown: no readable annotation"
    return reading.location, ""


def _sampled(frames: int) -> int:
    return max(1, int(np.ceil(frames / MAX_CINE_FRAMES)))


def _detect(image: UsImage, frames: np.ndarray) -> dict[int, list[Seen]]:
    """Detections per B-mode region over the sampled frames."""
    step = _sampled(frames.shape[0])
    found: dict[int, list[Seen]] = {}
    for region in image.bmode_regions():
        c0, r0, c1, r1 = region.box
        mm = region.mm_per_pixel()
        pixel_mm = None if mm is None else float(np.sqrt(mm[0] * mm[1]))
        for index in range(0, frames.shape[0], step):
            frame = frames[index]
            covered = overlay_mask(frame, region.box)
            gray = to_gray(frame[r0:r1, c0:c1])
            number = index + 1 if frames.shape[0] > 1 else None
            for lesion in find_lesions(gray, ~covered, pixel_mm=pixel_mm):
                found.setdefault(region.index, []).append(
                    Seen(image.sop_instance_uid, number, region.index, (c0, r0), lesion, mm)
                )
    return found


def read_image(image: UsImage) -> _ImageRead:
    """Location, laterality and lesion tracks of one image (raises ImagingError/PixelDecodeError)."""
    frames = read_us_frames(image)
    # Tesseract is a separate process: the annotation is read while the regions are searched.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="us-ocr") as pool:
        reading = pool.submit(_location, image, frames[0])
        detected = _detect(image, frames) if image.bmode_regions() else {}
        location, note = reading.result()
    if location is not None and image.laterality and location.laterality not in (None, image.laterality):
        note = f"location unknown: the annotation's side {location.laterality} is not the Image Laterality"
        location = None
    laterality = image.laterality or (location.laterality if location is not None else None)
    read = _ImageRead(image, location, laterality, step=_sampled(frames.shape[0]))
    if note:
        read.notes.append(note)
    if not image.bmode_regions():
        read.notes.append("no B-mode region (Sequence of Ultrasound Regions)")
        return read
    for region, seen in detected.items():
        tracks = track(seen, read.step)
        if frames.shape[0] > 1:
            tracks = [t for t in tracks if len(t.seen) >= MIN_TRACK_FRAMES]
        read.tracks[region] = tracks
    for bmode in image.bmode_regions():
        why = bmode.why_unmeasurable()
        if why and read.tracks.get(bmode.index):
            read.notes.append(why)
    return read


def _px_line(
    line: tuple[tuple[float, float], tuple[float, float]], origin: tuple[int, int]
) -> tuple[tuple[float, float], tuple[float, float]]:
    (a, b), (c, d) = line
    return (
        (round(a + origin[0], 2), round(b + origin[1], 2)),
        (round(c + origin[0], 2), round(d + origin[1], 2)),
    )


def _outline(lesion: UsLesion, origin: tuple[int, int]) -> tuple[tuple[float, float], ...]:
    contours = measure.find_contours(np.pad(lesion.mask, 1).astype(np.float32), 0.5)  # type: ignore[no-untyped-call]
    if not contours:
        return ()
    ring = max(contours, key=len)
    step = max(len(ring) // 64, 1)
    return tuple(
        (round(float(c) - 1 + 0.5 + origin[0], 2), round(float(r) - 1 + 0.5 + origin[1], 2))
        for r, c in ring[::step]
    )


def _mark(item: Seen, laterality: str, image: UsImage, size_mm: float | None) -> Mark:
    lesion, (oc, orow) = item.lesion, item.origin
    c0, r0, c1, r1 = lesion.bbox
    return Mark(
        sop_instance_uid=item.sop_instance_uid,
        point=(round(lesion.centre[0] + oc, 2), round(lesion.centre[1] + orow, 2)),
        bbox=(float(c0 + oc), float(r0 + orow), float(c1 + oc), float(r1 + orow)),
        score=round(lesion.score, 3),
        laterality=laterality,
        frame=item.frame,
        sop_class_uid=image.sop_class_uid,
        outline=_outline(lesion, item.origin),
        lines=(_px_line(lesion.axis_line, item.origin), _px_line(lesion.depth_line, item.origin)),
        size_mm=size_mm,
    )


def quadrant_of(laterality: str, clock: int) -> str | None:
    """Quadrant of a clock hour facing the patient (3 o'clock lateral on the left breast); None on
    the axes (12, 3, 6, 9), which lie between two quadrants."""
    if clock in (12, 3, 6, 9):
        return None
    upper = clock in (10, 11, 1, 2)
    lateral_left = clock in (1, 2, 4, 5)
    outer = lateral_left if laterality == "L" else not lateral_left
    return ("U" if upper else "L") + ("O" if outer else "I") + "Q"


#: Depth letters of the annotation (reference algorithms.md §7: depths A/B/C) as thirds.
DEPTH_THIRDS = {"A": "anterior", "B": "middle", "C": "posterior"}


def _finding_location(location: UsLocation | None, laterality: str) -> FindingLocation | None:
    """Clock, quadrant, distance from the nipple and depth third as the annotation gives them."""
    if location is None or location.clock is None:
        return None
    return FindingLocation(
        clock=location.clock,
        quadrant=quadrant_of(laterality, location.clock),
        depth=DEPTH_THIRDS.get((location.depth or "").upper()),
        distance_from_nipple_mm=location.distance_from_nipple_mm,
    )


def _attributes(views: Sequence[View], widths: Sequence[float]) -> dict[str, str | float]:
    key, read = views[0][0].key, views[0][1]
    lesion = key.lesion
    attributes: dict[str, str | float] = {"malignancy": round(lesion.malignancy, 3)}
    for name, descriptor in lesion.descriptors.items():
        attributes[name] = descriptor.value
        attributes[f"{name}_basis"] = descriptor.basis
    location = read.location
    attributes["location_source"] = location.source if location is not None else "unknown"
    if location is not None:
        attributes["location_text"] = location.raw
        if location.plane:
            attributes["plane"] = location.plane
    if key.mm is not None:
        attributes["width_mm"] = round(lesion.width_px * key.mm[0], 1)
        attributes["depth_mm"] = round(lesion.depth_px * key.mm[1], 1)
        attributes["skin_depth_mm"] = round(lesion.centre[1] * key.mm[1], 1)
    for index, width in enumerate(widths[1:], start=2):
        attributes[f"width_{index}_mm"] = width
    if len({id(r) for _, r in views}) > 1:  # orthogonal views on separate images
        other = views[1][1].location
        if other is not None and other.plane:
            attributes["plane_2"] = other.plane
    return attributes


def _finding(number: int, views: Sequence[View]) -> Finding:
    """One lesion from one track, or from a pair of orthogonal views (two tracks, on one dual-view
    frame or on two images)."""
    read = views[0][1]
    assert read.laterality is not None
    tracks = [t for t, _ in views]
    keys = [t.key for t in tracks]
    diameters: tuple[float, float, float] | None = None
    size: float | None = None
    widths: list[float] = []
    if all(k.mm is not None for k in keys):
        widths = [round(k.lesion.width_px * k.mm[0], 1) for k in keys if k.mm is not None]
        depths = [k.lesion.depth_px * k.mm[1] for k in keys if k.mm is not None]
        third = widths[1] if len(widths) > 1 else elevation_mm(tracks[0], read.step, read.image.frame_step_mm)
        parts = [widths[0], round(float(np.mean(depths)), 1)] + ([third] if third is not None else [])
        size = max(parts)
        if len(parts) == 3:
            ordered = sorted(parts, reverse=True)
            diameters = (ordered[0], ordered[1], ordered[2])
    marks = tuple(_mark(t.key, read.laterality, r.image, size) for t, r in views)
    return Finding(
        id=f"us-{number}",
        kind=FindingKind.US_LESION,
        laterality=read.laterality,
        score=round(max(t.score for t in tracks), 3),
        marks=marks,
        size_mm=size,
        location=_finding_location(read.location, read.laterality),
        attributes=_attributes(views, widths),
        diameters_mm=diameters,
    )


def _lesions_of(read: _ImageRead) -> list[list[View]]:
    """The lesions of an image: orthogonal views of a dual-view frame paired, others alone."""
    regions = sorted(read.tracks)
    if len(regions) == 2:
        pair = pair_views(read.tracks[regions[0]], read.tracks[regions[1]])
        if pair is not None:
            rest = [[(t, read)] for r in regions for t in read.tracks[r] if t not in pair]
            return [[(pair[0], read), (pair[1], read)], *rest]
    return [[(t, read)] for r in regions for t in read.tracks[r]]


def pair_images(lesions: list[list[View]]) -> list[list[View]]:
    """Join lesions seen alone on two separate single-region images of one spot in orthogonal
    planes (:func:`~breastgate.algorithms._us_views.same_spot`, then
    :func:`~breastgate.algorithms._us_views.match_views`) into one lesion of two views, the
    radial (transverse) view first. Other lesions are returned as they are."""
    alone: dict[int, list[Track]] = {}
    reads: dict[int, _ImageRead] = {}
    for views in lesions:
        (item, read), *more = views
        if not more and len(read.image.bmode_regions()) == 1:
            alone.setdefault(id(read), []).append(item)
            reads[id(read)] = read
    joined: dict[int, list[View]] = {}  # id(track) -> the pair it is now part of
    for ka, kb in combinations(reads, 2):
        ra, rb = reads[ka], reads[kb]
        if not same_spot(ra.location, rb.location, (ra.laterality, rb.laterality)):
            continue
        free_a = [t for t in alone[ka] if id(t) not in joined]
        free_b = [t for t in alone[kb] if id(t) not in joined]
        for ta, tb in match_views(free_a, free_b):
            assert ra.location is not None and rb.location is not None
            pair = [(ta, ra), (tb, rb)]
            if plane_order(ra.location.plane, rb.location.plane) == 1:
                pair.reverse()
            joined[id(ta)] = joined[id(tb)] = pair
    out: list[list[View]] = []
    for views in lesions:
        found = joined.get(id(views[0][0])) if len(views) == 1 else None
        if found is None:
            out.append(views)
        elif found[0][0] is views[0][0]:  # a pair once, where its first view was
            out.append(found)
    return out


class UltrasoundAlgorithm:
    """The built-in breast ultrasound reader (module docstring)."""

    manifest = MANIFEST

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        inputs = tuple(i for i in study.instances if i.sop_class_uid in US_SOP_CLASSES)
        skipped = tuple(
            ImageOutcome(i.sop_instance_uid, AlgorithmStatus.SKIPPED, "not an ultrasound image")
            for i in study.instances
            if i.modality == "US" and i.sop_class_uid not in US_SOP_CLASSES
        )
        return Selection(study, inputs, skipped)

    def run(self, selection: Selection) -> AlgorithmResult:
        study = selection.study
        outcomes = list(selection.skipped)
        findings: list[Finding] = []
        if not selection.inputs:
            return self._result(
                study, AlgorithmStatus.SKIPPED, "no ultrasound image in the study", outcomes, []
            )
        lesions: list[list[View]] = []
        for instance in selection.inputs:
            try:
                image = read_us_header(instance.path)
                read = read_image(image)
            except ImagingError as exc:
                outcomes.append(ImageOutcome(instance.sop_instance_uid, AlgorithmStatus.FAILED, str(exc)))
                continue
            seen = _lesions_of(read)
            if seen and read.laterality is None:
                read.notes.append(
                    "laterality unknown (no Image Laterality, no readable annotation): lesions not reported"
                )
                seen = []
            lesions.extend(seen)
            outcomes.append(
                ImageOutcome(
                    instance.sop_instance_uid,
                    AlgorithmStatus.OK,
                    "; ".join(read.notes),
                    laterality=read.laterality,
                    measurements={
                        "lesions": float(len(seen)),
                        "frames_read": float(-(-image.frames // read.step)),
                    },
                )
            )
        for views in pair_images(lesions):
            findings.append(_finding(len(findings) + 1, views))
        findings.sort(key=lambda f: f.score, reverse=True)
        findings = [_renumber(f, n) for n, f in enumerate(findings[:MAX_FINDINGS], start=1)]
        if not any(o.status == AlgorithmStatus.OK for o in outcomes):
            return self._result(
                study, AlgorithmStatus.FAILED, "no ultrasound image could be read", outcomes, []
            )
        reason = unavailable()
        note = f"classical detector only: {reason}" if reason else ""
        return self._result(study, AlgorithmStatus.OK, note, outcomes, findings)

    def _result(
        self,
        study: StudyRef,
        status: AlgorithmStatus,
        message: str,
        outcomes: list[ImageOutcome],
        findings: list[Finding],
    ) -> AlgorithmResult:
        return AlgorithmResult(
            algorithm_id=MANIFEST.id,
            algorithm_version=MANIFEST.version,
            study_instance_uid=study.study_instance_uid,
            status=status,
            message=message,
            images=tuple(outcomes),
            findings=tuple(findings),
            operating_threshold=thresholds(not unavailable())[0],
            model_card=MANIFEST.model_card,
        )


def _renumber(finding: Finding, number: int) -> Finding:
    return replace(finding, id=f"us-{number}")
