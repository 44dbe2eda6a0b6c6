"""Read a dynamic contrast-enhanced (DCE) breast MRI series as sites send it: phases × slices.

Three shapes reach the gateway:

* one series per phase (MR Image Storage, PS3.3 A.4), each a stack of slices;
* one series holding every phase, told apart by Temporal Position Identifier (0020,0100),
  Trigger Time (0018,1060) or Acquisition Time (0008,0032) (PS3.3 C.7.6.2, C.8.3.1);
* one Enhanced MR Image (PS3.3 A.36.2) whose frames carry Frame Content (Temporal Position
  Index, Dimension Index Values, Frame Acquisition DateTime; PS3.3 C.7.6.16.2.2) and Plane
  Position functional groups.

Frames are grouped into phases, phases ordered in time (Temporal Position Identifier/Index, else
Trigger Time, else acquisition date/time: the first key that every phase carries and that tells
them apart), slices sorted by their position along the slice normal (Image Position (Patient)
projected on row × column cosines, PS3.3 C.7.6.2.1.1). All phases must share one grid. Series
that are not dynamic (a T2 series, a localiser, a subtraction series) are left out with a reason.

Pixels are kept as stored integers (int16/uint16, ``phases × slices × rows × columns``), with the
Modality LUT applied per phase as float32 on request (:meth:`DceSeries.phase`), so that a
6 × 160 × 512 × 512 study needs about 0.5 GB.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels.utils import iter_pixels

from breastgate.domain.model import InstanceRef
from breastgate.imaging.errors import ImagingError, PixelDecodeError

LOGGER = logging.getLogger(__name__)

#: MR Image Storage and Enhanced MR Image Storage (PS3.4 B.5).
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4.1"
MIN_PHASES = 3
MAX_PHASES = 12
#: Slice positions of two phases agree within this (mm); in-plane geometry within this too.
POSITION_TOLERANCE_MM = 0.5

Vector = tuple[float, float, float]
FloatArray = npt.NDArray[np.float32]


class DceError(ImagingError):
    """A study holds no usable dynamic series (the message says why)."""


@dataclass(frozen=True)
class _Frame:
    """One 2-D frame of one file: where it lies, when it was taken, how to decode it."""

    path: str
    sop_instance_uid: str
    series_instance_uid: str
    frame: int | None  # 1-based frame number of a multi-frame image; None for single-frame
    position: Vector
    row_cosines: Vector
    column_cosines: Vector
    spacing: tuple[float, float]
    shape: tuple[int, int]
    temporal: dict[str, float]
    instance_number: int
    slope: float
    intercept: float

    @property
    def normal(self) -> Vector:
        return _cross(self.row_cosines, self.column_cosines)


@dataclass(frozen=True)
class Grid:
    """The voxel grid of a DCE volume in patient coordinates (LPS, mm).

    ``origin`` is the centre of voxel (0, 0, 0) (Image Position (Patient) of the first slice);
    ``row_cosines`` the direction of increasing column index, ``column_cosines`` that of
    increasing row index, ``normal`` that of increasing slice index; ``spacing`` is
    (slice, row, column) spacing in mm.
    """

    origin: Vector
    row_cosines: Vector
    column_cosines: Vector
    normal: Vector
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int]

    def to_patient(self, index: Sequence[float]) -> Vector:
        """Patient coordinates of voxel index (slice, row, column) (fractional indices allowed)."""
        k, r, c = (float(v) for v in index)
        dz, dy, dx = self.spacing
        return tuple(  # type: ignore[return-value]
            self.origin[i]
            + self.row_cosines[i] * c * dx
            + self.column_cosines[i] * r * dy
            + self.normal[i] * k * dz
            for i in range(3)
        )

    def axis_mm(self, axis: int) -> Vector:
        """Patient-space step (mm) of one voxel along array axis 0 (slice), 1 (row) or 2 (column)."""
        direction = (self.normal, self.column_cosines, self.row_cosines)[axis]
        step = self.spacing[axis]
        return direction[0] * step, direction[1] * step, direction[2] * step

    def patient_axis_map(self, component: int) -> FloatArray:
        """Coefficients (per slice, row, column step) of patient coordinate ``component`` (0 x, 1 y, 2 z)."""
        return np.array([self.axis_mm(a)[component] for a in range(3)], np.float32)


@dataclass
class DceSeries:
    """A dynamic series: stored pixels ``(phases, slices, rows, columns)`` and how to read them.

    ``times_s`` are the phases' times in seconds after the first (pre-contrast) phase when the
    headers give them, else None; ``injection_s`` when the injection started, on that clock.
    ``slice_uids[k]`` / ``slice_frames[k]`` name slice k of the
    first post-contrast phase (the grid of the result maps). ``slopes``/``intercepts`` hold each
    (phase, slice)'s Modality LUT (PS3.3 C.11.1).
    """

    pixels: npt.NDArray[np.integer[Any]]
    slopes: FloatArray
    intercepts: FloatArray
    grid: Grid
    times_s: tuple[float, ...] | None
    order_key: str
    series_instance_uids: tuple[str, ...]
    sop_instance_uids: tuple[str, ...]
    slice_uids: tuple[str, ...]
    slice_frames: tuple[int, ...]
    frame_of_reference_uid: str
    form: str
    ignored: tuple[tuple[str, str], ...] = ()  # (series uid, reason)
    #: When the contrast injection started, seconds after the first phase (Contrast/Bolus Start
    #: Time beside Acquisition Times), else None.
    injection_s: float | None = None

    @property
    def phases(self) -> int:
        return int(self.pixels.shape[0])

    def phase(self, index: int) -> FloatArray:
        """Phase ``index`` as float32 with the Modality LUT applied (one copy of one phase)."""
        out = self.pixels[index].astype(np.float32)
        slopes, intercepts = self.slopes[index], self.intercepts[index]
        if np.any(slopes != 1.0) or np.any(intercepts != 0.0):
            out *= slopes[:, None, None]
            out += intercepts[:, None, None]
        return out  # type: ignore[no-any-return]


def _cross(a: Vector, b: Vector) -> Vector:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Vector, b: Vector) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value) if value is not None else ()
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(math.isfinite(v) for v in numbers) else None


def _number(value: Any) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None


def _seconds_of_day(date: Any, time: Any) -> float | None:
    """Seconds since 1970 of DA + TM (or of TM alone, as seconds of the day)."""
    text = str(time or "").strip()
    if not text:
        return None
    try:
        hh, mm = int(text[0:2]), int(text[2:4] or 0)
        ss = float(text[4:] or 0)
    except ValueError:
        return None
    seconds = hh * 3600 + mm * 60 + ss
    day = str(date or "").strip()
    if len(day) == 8 and day.isdigit():
        seconds += datetime(int(day[:4]), int(day[4:6]), int(day[6:8])).timestamp()
    return seconds


def _datetime_seconds(value: Any) -> float | None:
    text = str(value or "").strip()
    if len(text) < 8:
        return None
    return _seconds_of_day(
        text[:8], text[8:14] + (text[14:].split("+")[0].split("-")[0] if len(text) > 14 else "")
    )


def _temporal_classic(ds: Dataset) -> dict[str, float]:
    keys: dict[str, float] = {}
    for name, value in (
        ("temporal_position", _number(ds.get("TemporalPositionIdentifier"))),
        ("trigger_time", _number(ds.get("TriggerTime"))),
        (
            "acquisition_time",
            _datetime_seconds(ds.get("AcquisitionDateTime"))
            or _seconds_of_day(ds.get("AcquisitionDate") or ds.get("SeriesDate"), ds.get("AcquisitionTime")),
        ),
    ):
        if value is not None:
            keys[name] = value
    # Contrast/Bolus module (PS3.3 C.7.6.4): when the injection started, on the day of the image.
    if ds.get("ContrastBolusStartTime"):
        # The day as the acquisition time reads it, so both are on one clock.
        day = (
            str(ds.get("AcquisitionDateTime") or "")[:8] or ds.get("AcquisitionDate") or ds.get("SeriesDate")
        )
        start = _seconds_of_day(day, ds.get("ContrastBolusStartTime"))
        if start is not None:
            keys["bolus_start"] = start
    return keys


def _is_subtraction(ds: Dataset) -> bool:
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    return (
        any("SUB" in v for v in image_type[2:]) or "SUBTRACT" in str(ds.get("SeriesDescription", "")).upper()
    )


def _classic_frame(ref: InstanceRef, ds: Dataset) -> _Frame | None:
    position = _floats(ds.get("ImagePositionPatient"), 3)
    orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    spacing = _floats(ds.get("PixelSpacing"), 2)
    if position is None or orientation is None or spacing is None:
        return None
    return _Frame(
        path=ref.path,
        sop_instance_uid=ref.sop_instance_uid,
        series_instance_uid=ref.series_instance_uid,
        frame=None,
        position=position,  # type: ignore[arg-type]
        row_cosines=orientation[:3],  # type: ignore[arg-type]
        column_cosines=orientation[3:],  # type: ignore[arg-type]
        spacing=(spacing[0], spacing[1]),
        shape=(int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)),
        temporal=_temporal_classic(ds),
        instance_number=int(_number(ds.get("InstanceNumber")) or 0),
        slope=_number(ds.get("RescaleSlope")) or 1.0,
        intercept=_number(ds.get("RescaleIntercept")) or 0.0,
    )


def _group(ds: Dataset, sequence: str, index: int) -> Dataset | None:
    for holder_seq in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        holders = ds.get(holder_seq)
        if not holders:
            continue
        holder = holders[index] if holder_seq.startswith("PerFrame") and index < len(holders) else holders[0]
        items = holder.get(sequence)
        if items:
            item: Dataset = items[0]
            return item
    return None


def _temporal_dimension(ds: Dataset) -> int | None:
    """Which Dimension Index Values component is temporal (PS3.3 C.7.6.17), if any."""
    temporal_tags = {0x00209128, 0x00209310, 0x00189074, 0x00209153}  # TPI, TPO, Frame Acq DT, Trigger
    for i, item in enumerate(ds.get("DimensionIndexSequence") or []):
        pointer = item.get("DimensionIndexPointer")
        if pointer is not None and int(pointer) in temporal_tags:
            return i
    return None


def _enhanced_frames(ref: InstanceRef, ds: Dataset) -> list[_Frame]:
    frames = int(_number(ds.get("NumberOfFrames")) or 1)
    temporal_dim = _temporal_dimension(ds)
    out: list[_Frame] = []
    for index in range(frames):
        position_item = _group(ds, "PlanePositionSequence", index)
        orientation_item = _group(ds, "PlaneOrientationSequence", index)
        measures = _group(ds, "PixelMeasuresSequence", index)
        content = _group(ds, "FrameContentSequence", index)
        transform = _group(ds, "PixelValueTransformationSequence", index)
        position = _floats(position_item.get("ImagePositionPatient") if position_item else None, 3)
        orientation = _floats(
            orientation_item.get("ImageOrientationPatient") if orientation_item else None, 6
        )
        spacing = _floats(measures.get("PixelSpacing") if measures else None, 2)
        if position is None or orientation is None or spacing is None:
            raise DceError(f"Enhanced MR frame {index + 1} has no plane position, orientation or spacing")
        temporal: dict[str, float] = {}
        if content is not None:
            tpi = _number(content.get("TemporalPositionIndex"))
            if tpi is None and temporal_dim is not None:
                values = content.get("DimensionIndexValues")
                values = (
                    list(values) if isinstance(values, Sequence) and not isinstance(values, str) else [values]
                )
                if temporal_dim < len(values):
                    tpi = _number(values[temporal_dim])
            if tpi is not None:
                temporal["temporal_position"] = tpi
            acquired = _datetime_seconds(content.get("FrameAcquisitionDateTime"))
            if acquired is not None:
                temporal["acquisition_time"] = acquired
        trigger = _group(ds, "CardiacSynchronizationSequence", index)
        if trigger is not None and _number(trigger.get("NominalCardiacTriggerDelayTime")) is not None:
            temporal["trigger_time"] = float(trigger.get("NominalCardiacTriggerDelayTime"))
        out.append(
            _Frame(
                path=ref.path,
                sop_instance_uid=ref.sop_instance_uid,
                series_instance_uid=ref.series_instance_uid,
                frame=index + 1,
                position=position,  # type: ignore[arg-type]
                row_cosines=orientation[:3],  # type: ignore[arg-type]
                column_cosines=orientation[3:],  # type: ignore[arg-type]
                spacing=(spacing[0], spacing[1]),
                shape=(int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)),
                temporal=temporal,
                instance_number=index,
                slope=_number(transform.get("RescaleSlope") if transform else None) or 1.0,
                intercept=_number(transform.get("RescaleIntercept") if transform else None) or 0.0,
            )
        )
    return out


def _headers(instances: Iterable[InstanceRef]) -> tuple[dict[str, list[_Frame]], list[tuple[str, str]], str]:
    """Frames of every MR image by series, the series left out with the reason, Frame of Reference."""
    by_series: dict[str, list[_Frame]] = defaultdict(list)
    ignored: dict[str, str] = {}
    frame_of_reference = ""
    for ref in instances:
        if ref.modality != "MR" or ref.sop_class_uid not in (MR_IMAGE, ENHANCED_MR_IMAGE):
            continue
        try:
            ds = pydicom.dcmread(ref.path, stop_before_pixels=True, force=True)
        except Exception as exc:  # pydicom raises many types for unreadable files
            ignored[ref.series_instance_uid] = f"unreadable file: {exc}"
            continue
        if _is_subtraction(ds):
            ignored[ref.series_instance_uid] = "subtraction series (derived); phases are read instead"
            continue
        try:
            frames = (
                _enhanced_frames(ref, ds)
                if ref.sop_class_uid == ENHANCED_MR_IMAGE
                else [f for f in [_classic_frame(ref, ds)] if f is not None]
            )
        except DceError as exc:
            ignored[ref.series_instance_uid] = str(exc)
            continue
        if not frames:
            ignored[ref.series_instance_uid] = "images without Image Position/Orientation or Pixel Spacing"
            continue
        by_series[ref.series_instance_uid].extend(frames)
        frame_of_reference = frame_of_reference or str(ds.get("FrameOfReferenceUID", "") or "")
    for uid in ignored:
        by_series.pop(uid, None)
    return by_series, sorted(ignored.items()), frame_of_reference


def _slice_position(frame: _Frame, normal: Vector) -> float:
    return _dot(frame.position, normal)


def _split_phases(frames: list[_Frame]) -> list[list[_Frame]]:
    """Split one series' frames into phases: by a temporal key when positions repeat, else one phase."""
    normal = frames[0].normal
    positions = [round(_slice_position(f, normal) / POSITION_TOLERANCE_MM) for f in frames]
    repeats = len(positions) // max(len(set(positions)), 1)
    if repeats <= 1:
        return [frames]
    for key in ("temporal_position", "trigger_time", "acquisition_time"):
        if all(key in f.temporal for f in frames):
            by_value: dict[float, list[_Frame]] = defaultdict(list)
            for f in frames:
                by_value[f.temporal[key]].append(f)
            if len(by_value) == repeats:
                return list(by_value.values())
            if key == "acquisition_time" and len(by_value) > repeats:
                return _cluster_times(frames, repeats)
    # No temporal key tells them apart: the n-th repeat of each position, in Instance Number order.
    by_position: dict[int, list[_Frame]] = defaultdict(list)
    for f, p in sorted(zip(frames, positions, strict=True), key=lambda fp: fp[0].instance_number):
        by_position[p].append(f)
    if any(len(v) != repeats for v in by_position.values()):
        return [frames]
    return [[by_position[p][i] for p in by_position] for i in range(repeats)]


def _cluster_times(frames: list[_Frame], phases: int) -> list[list[_Frame]]:
    """Slices of one phase are acquired within seconds; phases minutes apart: cut at the largest gaps."""
    ordered = sorted(frames, key=lambda f: f.temporal["acquisition_time"])
    gaps = np.diff([f.temporal["acquisition_time"] for f in ordered])
    cuts = sorted(np.argsort(gaps)[::-1][: phases - 1] + 1)
    return [list(part) for part in np.split(np.array(ordered, dtype=object), cuts)]


@dataclass(frozen=True)
class _Phase:
    frames: list[_Frame]  # sorted along the normal
    series_instance_uid: str
    temporal: dict[str, float]

    def signature(self) -> tuple[Any, ...]:
        first = self.frames[0]
        normal = first.normal
        return (
            first.shape,
            tuple(round(v, 2) for v in first.row_cosines + first.column_cosines),
            tuple(round(v, 2) for v in first.spacing),
            len(self.frames),
            round(_slice_position(first, normal)),
        )


def _as_phase(frames: list[_Frame]) -> _Phase | str:
    first = frames[0]
    normal = first.normal
    if any(f.shape != first.shape for f in frames):
        return "slices of different matrix sizes"
    ordered = sorted(frames, key=lambda f: _slice_position(f, normal))
    positions = np.array([_slice_position(f, normal) for f in ordered])
    if len(positions) > 1:
        steps = np.diff(positions)
        if np.min(steps) < 1e-3:
            return "two slices at one position (not a single volume per phase)"
        if np.max(steps) - np.min(steps) > max(POSITION_TOLERANCE_MM, 0.1 * np.median(steps)):
            return "unevenly spaced slices"
    temporal: dict[str, float] = {}
    for key in ("temporal_position", "trigger_time", "acquisition_time"):
        values = [f.temporal[key] for f in frames if key in f.temporal]
        if len(values) == len(frames):
            temporal[key] = float(min(values))
    starts = [f.temporal["bolus_start"] for f in frames if "bolus_start" in f.temporal]
    if starts:
        temporal["bolus_start"] = float(min(starts))
    return _Phase(ordered, first.series_instance_uid, temporal)


def _injection(ordered: list[_Phase]) -> float | None:
    """When the contrast injection started, in seconds after the first phase's acquisition: from
    Contrast/Bolus Start Time, read only beside Acquisition Times (the same clock), and only when
    it falls between the starts of the pre-contrast and the first post-contrast phase (else the
    two clocks disagree: a time of day against a date and time, a bolus time from another day)."""
    starts = [p.temporal["bolus_start"] for p in ordered if "bolus_start" in p.temporal]
    if not starts or len(ordered) < 2 or not all("acquisition_time" in p.temporal for p in ordered):
        return None
    first = ordered[0].temporal["acquisition_time"]
    injection = min(starts) - first
    return injection if 0.0 <= injection <= ordered[1].temporal["acquisition_time"] - first else None


def _order(phases: list[_Phase]) -> tuple[list[_Phase], str, tuple[float, ...] | None]:
    """Phases in time order, the key used, and times (s) after the first phase when known."""
    for key in ("temporal_position", "trigger_time", "acquisition_time"):
        values = [p.temporal.get(key) for p in phases]
        if all(v is not None for v in values) and len({v for v in values}) == len(values):
            ordered = sorted(phases, key=lambda p: p.temporal[key])
            times: tuple[float, ...] | None = None
            for time_key, scale in (("acquisition_time", 1.0), ("trigger_time", 0.001)):
                if all(time_key in p.temporal for p in ordered):
                    t0 = ordered[0].temporal[time_key]
                    times = tuple((p.temporal[time_key] - t0) * scale for p in ordered)
                    break
            return ordered, key, times
    ordered = sorted(phases, key=lambda p: min(f.instance_number for f in p.frames))
    return ordered, "instance_number", None


def _dynamic_phases(
    by_series: dict[str, list[_Frame]],
) -> tuple[list[_Phase], list[tuple[str, str]]]:
    """The largest set of same-grid phases (≥ MIN_PHASES), and the series left out with the reason."""
    candidates: dict[tuple[Any, ...], list[_Phase]] = defaultdict(list)
    ignored: list[tuple[str, str]] = []
    for uid, frames in sorted(by_series.items()):
        for part in _split_phases(frames):
            phase = _as_phase(part)
            if isinstance(phase, str):
                ignored.append((uid, phase))
            else:
                candidates[phase.signature()].append(phase)
    if not candidates:
        return [], ignored
    best_key = max(candidates, key=lambda k: (len(candidates[k]), k[3]))
    best = candidates[best_key]
    used = {p.series_instance_uid for p in best}
    for key, phases in candidates.items():
        if key == best_key:
            continue
        for uid in sorted({p.series_instance_uid for p in phases} - used):
            ignored.append((uid, f"not part of the dynamic series ({len(phases)} volume(s) on another grid)"))
    return best, ignored


def _load_pixels(ordered: list[_Phase]) -> tuple[npt.NDArray[np.integer[Any]], FloatArray, FloatArray]:
    """Stored pixels of every (phase, slice), read file by file (multi-frame: frame by frame)."""
    rows, cols = ordered[0].frames[0].shape
    n_phase, n_slice = len(ordered), len(ordered[0].frames)
    pixels: npt.NDArray[np.integer[Any]] | None = None
    slopes = np.ones((n_phase, n_slice), np.float32)
    intercepts = np.zeros((n_phase, n_slice), np.float32)
    where: dict[str, dict[int | None, tuple[int, int]]] = defaultdict(dict)
    for p, phase in enumerate(ordered):
        for k, f in enumerate(phase.frames):
            where[f.path][f.frame] = (p, k)
            slopes[p, k], intercepts[p, k] = f.slope, f.intercept
    for path, slots in where.items():
        try:
            if None in slots:
                ds = pydicom.dcmread(path, force=True)
                arrays: list[tuple[int | None, Any]] = [(None, ds.pixel_array)]
            else:
                arrays = [(i + 1, a) for i, a in enumerate(iter_pixels(path))]
        except Exception as exc:  # pydicom raises many types for bad or undecodable data
            raise PixelDecodeError(f"pixel data could not be decoded: {exc}") from exc
        for number, array in arrays:
            if number not in slots:
                continue
            if array.shape != (rows, cols):
                raise DceError(f"a frame has shape {array.shape}, expected ({rows}, {cols})")
            if pixels is None:
                dtype = np.int16 if array.dtype.kind == "i" or int(array.max()) < 32768 else np.uint16
                pixels = np.zeros((n_phase, n_slice, rows, cols), dtype)
            p, k = slots[number]
            if pixels.dtype == np.int16 and array.dtype.kind == "u" and int(array.max()) > 32767:
                pixels = pixels.astype(np.uint16) if int(pixels.min()) >= 0 else pixels
            pixels[p, k] = array
    if pixels is None:
        raise DceError("no pixel data")
    return pixels, slopes, intercepts


def _grid(phase: _Phase) -> Grid:
    frames = phase.frames
    first = frames[0]
    normal = first.normal
    positions = [_slice_position(f, normal) for f in frames]
    dz = float(np.median(np.diff(positions))) if len(frames) > 1 else 1.0
    return Grid(
        origin=first.position,
        row_cosines=first.row_cosines,
        column_cosines=first.column_cosines,
        normal=normal,
        spacing=(dz, first.spacing[0], first.spacing[1]),
        shape=(len(frames), first.shape[0], first.shape[1]),
    )


def read_dce(instances: Iterable[InstanceRef]) -> DceSeries:
    """Find, order and load the dynamic series among a study's MR instances.

    Raises
    ------
    DceError
        No MR images, no set of at least ``MIN_PHASES`` volumes on one grid, or too many phases
        (the message says what was found).
    PixelDecodeError
        Pixel Data cannot be decoded.
    """
    refs = list(instances)
    by_series, ignored, frame_of_reference = _headers(refs)
    if not by_series:
        reasons = "; ".join(r for _, r in ignored) or "no MR Image or Enhanced MR Image instances"
        raise DceError(f"no dynamic MR series: {reasons}")
    phases, more_ignored = _dynamic_phases(by_series)
    ignored += more_ignored
    if len(phases) < MIN_PHASES:
        raise DceError(
            f"no dynamic MR series: the largest set of volumes on one grid has {len(phases)} "
            f"phase(s), need at least {MIN_PHASES} (1 pre- and 2 post-contrast)"
        )
    if len(phases) > MAX_PHASES:
        raise DceError(f"{len(phases)} phases on one grid; at most {MAX_PHASES} are read")
    ordered, key, times = _order(phases)
    pixels, slopes, intercepts = _load_pixels(ordered)
    grid = _grid(ordered[0])
    first_post = ordered[1].frames
    enhanced = any(f.frame is not None for f in first_post)
    series = tuple(dict.fromkeys(p.series_instance_uid for p in ordered))
    form = "enhanced" if enhanced else "series-per-phase" if len(series) > 1 else "multiphase"
    LOGGER.info(
        "dynamic series: %d phases x %d slices (%s, ordered by %s)", len(ordered), grid.shape[0], form, key
    )
    return DceSeries(
        pixels=pixels,
        slopes=slopes,
        intercepts=intercepts,
        grid=grid,
        times_s=times,
        injection_s=_injection(ordered) if times is not None and key != "instance_number" else None,
        order_key=key,
        series_instance_uids=series,
        sop_instance_uids=tuple(dict.fromkeys(f.sop_instance_uid for p in ordered for f in p.frames)),
        slice_uids=tuple(f.sop_instance_uid for f in first_post),
        slice_frames=tuple(f.frame for f in first_post if f.frame is not None),
        frame_of_reference_uid=frame_of_reference,
        form=form,
        ignored=tuple(ignored),
    )
