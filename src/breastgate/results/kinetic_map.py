"""Colour kinetic map of a DCE-MRI result fused on the first post-contrast phase, as a Multi-frame
True Color Secondary Capture Image (PS3.3 A.8.5, SOP Class 1.2.840.10008.5.1.4.1.1.7.4).

What CAD workstations show beside a breast MRI (CADstream / DynaCAD style; reference
algorithms.md §3.2): every slice of the first post-contrast phase, windowed grey, with each voxel
above the enhancement threshold (``kinetic_class`` > 0) tinted by its delayed-phase class — red
washout, yellow plateau, blue persistent — alpha-blended so the anatomy stays visible. One frame
per source slice, in the grid's slice order; Burned In Annotation YES: a "not for diagnostic use"
line at the top and a colour legend at the bottom of every frame. Any PACS viewer shows it: it
needs neither a Parametric Map nor a colour-fusion display.

highdicom's :class:`~highdicom.sc.SCImage` writes single-frame images only, so the object is built
here with pydicom, module by module: Patient, General Study (copied), General Series (modality MR,
series 9907), General Equipment, SC Equipment (Conversion Type WSD), General Image (Image Type
DERIVED\\SECONDARY, Patient Orientation of the source, Derivation Description, Source Image
Sequence naming every source slice and frame with Purpose of Reference (121322, DCM, "Source image
for image processing operation")), Image Pixel (RGB 8-bit, colour-by-pixel), Multi-frame (Frame
Increment Pointer → Slice Location Vector), SC Multi-frame Image (Pixel Spacing of the frames) and
SC Multi-frame Vector (Slice Location Vector: each slice's position along the slice normal, mm),
SOP Common. SC carries no patient geometry (no Image Position / Frame of Reference); the slice
locations, pixel spacing and the source references keep what the IOD allows.

Small grids (fewer than 256 columns) are enlarged by an integer factor, nearest neighbour, so
the legend stays legible; Pixel Spacing is divided by the same factor.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult
from breastgate.results.mri_grid import KINETIC_CLASS, SourceGrid, required_volume, volume_array
from breastgate.results.placement import attach_file_meta, creation_datetime, new_instance
from breastgate.results.summary_tomo import letters
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

MULTIFRAME_TRUE_COLOR_SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7.4"
DEFAULT_SERIES_NUMBER = 9907
NOTICE = "AI OUTPUT - NOT FOR DIAGNOSTIC USE"
#: Colour of each kinetic class (1 persistent, 2 plateau, 3 washout).
COLOURS: dict[int, tuple[int, int, int]] = {1: (0, 90, 255), 2: (255, 220, 0), 3: (255, 0, 0)}
LEGEND = ((3, "washout"), (2, "plateau"), (1, "persistent"))
#: Weight of the colour over the grey anatomy.
ALPHA = 0.6
MIN_COLUMNS = 256
_SLICE_LOCATION_VECTOR = 0x00182005


@dataclass(frozen=True)
class DecodedKineticMap:
    """What :meth:`KineticColourMap.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    #: (frames, rows, columns, 3) RGB
    pixels: npt.NDArray[np.uint8]
    slice_locations: tuple[float, ...]
    #: (SOP Instance UID, frames) of the source images
    sources: tuple[tuple[str, tuple[int, ...]], ...]
    comment: str


def volume_window(
    headers: Sequence[Dataset], frames: Sequence[int | None], sample: Sequence[npt.NDArray[Any]]
) -> tuple[float, float]:
    """(centre, width) for the grey anatomy: the source's own first window (its frame's Frame VOI
    LUT for an Enhanced MR, PS3.3 C.7.6.16.2.10, else the top-level Window Center / Width), else
    the 1st-99.5th percentile of ``sample`` slices. One window for the whole volume, so slices
    compare."""
    header, frame = headers[0], frames[0]
    holder: Dataset = header
    if frame is not None:
        for groups, index in (
            ("PerFrameFunctionalGroupsSequence", frame - 1),
            ("SharedFunctionalGroupsSequence", 0),
        ):
            items = header.get(groups)
            if items is not None and 0 <= index < len(items) and "FrameVOILUTSequence" in items[index]:
                holder = items[index].FrameVOILUTSequence[0]
                break
    centre, width = _first(holder.get("WindowCenter")), _first(holder.get("WindowWidth"))
    if centre is not None and width is not None and float(width) >= 1:
        return float(centre), float(width)
    values = np.concatenate([np.asarray(s, dtype=np.float32)[::2, ::2].ravel() for s in sample])
    low, high = (float(v) for v in np.percentile(values, [1.0, 99.5]))
    return (low + high) / 2, max(high - low, 1.0)


def _first(value: Any) -> Any:
    if isinstance(value, (MultiValue, list, tuple)):
        value = value[0] if len(value) else None
    return None if value is None or value == "" else value


def fuse(
    grey: npt.NDArray[np.uint8], kinetic: npt.NDArray[np.uint8], alpha: float = ALPHA
) -> npt.NDArray[np.uint8]:
    """RGB slice: grey anatomy, voxels of class 1-3 tinted by :data:`COLOURS` with weight ``alpha``."""
    rgb = np.repeat(grey[:, :, None], 3, axis=2).astype(np.float32)
    for value, colour in COLOURS.items():
        where = kinetic == value
        if where.any():
            rgb[where] = (1.0 - alpha) * rgb[where] + alpha * np.asarray(colour, dtype=np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


class KineticColourMap:
    """The kinetic map of a result fused on its first post-contrast phase (RGB multi-frame SC).

    Parameters
    ----------
    result
        A result with a ``kinetic_class`` volume (uint8: 0 none, 1 persistent, 2 plateau, 3 washout).
    manifest
        The algorithm's manifest (id, version, label).
    headers
        Headers of the study's images; must hold every source slice.
    anatomy
        Slice k of the first post-contrast phase as a 2-D array of modality values (rows × columns),
        for k in grid order; read lazily (``anatomy[k]``), so a caller may decode one slice at a time.
    created
        Content Date/Time; default: the study date and time (deterministic output).

    Raises
    ------
    EncodingError
        No kinetic-class volume, a grid mismatch, an anatomy slice of the wrong size, or an
        unknown class value.
    """

    def __init__(
        self,
        result: AlgorithmResult,
        manifest: AlgorithmManifest,
        headers: Sequence[Dataset],
        anatomy: Sequence[npt.NDArray[Any]],
        *,
        created: datetime | None = None,
        series_number: int = DEFAULT_SERIES_NUMBER,
        instance_number: int = 1,
    ) -> None:
        volume = required_volume(result, manifest, KINETIC_CLASS)
        self.kinetic = volume_array(volume)
        if int(self.kinetic.max(initial=0)) > 3:
            raise EncodingError(f"kinetic_class holds {int(self.kinetic.max())}; expected 0-3")
        self.grid = SourceGrid.of(volume, headers)
        if self.grid.study_instance_uid != result.study_instance_uid:
            raise EncodingError("source images do not belong to the result's study")
        if len(anatomy) != self.grid.slices:
            raise EncodingError(f"{len(anatomy)} anatomy slices for a {self.grid.slices}-slice grid")
        self.anatomy = anatomy
        self.manifest = manifest
        self.series_number, self.instance_number = series_number, instance_number
        self.created = creation_datetime(self.grid.sources, created)
        self.scale = max(1, math.ceil(MIN_COLUMNS / self.grid.columns))
        study, algo, version = result.study_instance_uid, result.algorithm_id, result.algorithm_version
        self.sop_instance_uid = derive_uid("kinetic-map", algo, version, [study, *self.grid.input_uids])
        self.series_instance_uid = derive_uid("kinetic-map-series", algo, version, [study])

    # ---- rendering -----------------------------------------------------------------------------

    def render(self) -> npt.NDArray[np.uint8]:
        """(slices, rows × scale, columns × scale, 3) RGB frames, legend burned in."""
        n = self.grid.slices
        picks = sorted({round(i * (n - 1) / max(1, min(n, 8) - 1)) for i in range(min(n, 8))})
        centre, width = volume_window(self.grid.headers, self.grid.frames, [self.anatomy[k] for k in picks])
        s = self.scale
        out = np.empty((n, self.grid.rows * s, self.grid.columns * s, 3), dtype=np.uint8)
        for k in range(n):
            values = np.asarray(self.anatomy[k], dtype=np.float32)
            if values.shape != (self.grid.rows, self.grid.columns):
                raise EncodingError(
                    f"anatomy slice {k} is {values.shape}, grid is {self.grid.rows} x {self.grid.columns}"
                )
            grey = np.clip(((values - (centre - 0.5)) / max(width - 1.0, 1.0) + 0.5) * 255.0, 0, 255)
            frame = fuse(np.rint(grey).astype(np.uint8), self.kinetic[k])
            if s > 1:
                frame = np.repeat(np.repeat(frame, s, axis=0), s, axis=1)
            out[k] = self._annotate(frame, k)
        return out

    def _annotate(self, frame: npt.NDArray[np.uint8], k: int) -> npt.NDArray[np.uint8]:
        image = Image.fromarray(frame)
        draw = ImageDraw.Draw(image)
        size = max(8, min(14, frame.shape[1] // 26))
        font = ImageFont.load_default(size=size)
        location = f"slice {k + 1}/{self.grid.slices}"
        # dark boxes behind the text: legible over any tissue
        draw.rectangle((0, 0, 6 + font.getlength(NOTICE), 2 * size + 6), fill=(0, 0, 0))
        legend_width = sum(2 * size + 1 + font.getlength(name) for _, name in LEGEND)
        draw.rectangle((0, frame.shape[0] - size - 6, 4 + legend_width, frame.shape[0] - 1), fill=(0, 0, 0))
        _shadow(draw, (3, 2), NOTICE, font, (255, 255, 255))
        _shadow(draw, (3, 4 + size), location, font, (200, 200, 200))
        x, y = 3.0, frame.shape[0] - size - 4
        for value, name in LEGEND:
            draw.rectangle((x, y + 1, x + size - 2, y + size - 1), fill=COLOURS[value], outline=(0, 0, 0))
            x += size + 1
            _shadow(draw, (x, y), name, font, (255, 255, 255))
            x += font.getlength(name) + size
        return np.asarray(image, dtype=np.uint8)

    # ---- writing / reading ---------------------------------------------------------------------

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete instance with file meta (Explicit VR Little Endian)."""
        pixels = self.render()
        frames, rows, columns, _ = pixels.shape
        description = f"breastgate {self.manifest.id} kinetic map - not for diagnostic use"
        ds = new_instance(
            MULTIFRAME_TRUE_COLOR_SC_STORAGE, self.sop_instance_uid, self.grid.sources[0],
            created=self.created, modality="MR", series_instance_uid=self.series_instance_uid,
            series_number=self.series_number, series_description=description,
            model_name=self.manifest.id, software_version=self.manifest.version,
        )  # fmt: skip
        # General Series (C.7.3.1): Laterality Type 2C, empty for both breasts (R or L only)
        ds.Laterality = ""
        # SC Equipment (C.8.6.1): rendered here, at a workstation
        ds.ConversionType = "WSD"
        ds.SecondaryCaptureDeviceManufacturer = "breastgate"
        ds.SecondaryCaptureDeviceManufacturerModelName = self.manifest.id[:64]
        ds.SecondaryCaptureDeviceSoftwareVersions = self.manifest.version[:64]
        # General Image (C.7.6.1)
        ds.InstanceNumber = self.instance_number
        ds.ContentDate, ds.ContentTime = self.created
        ds.ImageType = ["DERIVED", "SECONDARY"]
        ds.PatientOrientation = [letters(self.grid.orientation[:3]), letters(self.grid.orientation[3:])]
        ds.DerivationDescription = (
            "First post-contrast phase windowed grey; voxels above the enhancement threshold tinted "
            "by delayed-phase kinetics (red washout, yellow plateau, blue persistent); legend burned in"
        )
        ds.SourceImageSequence = DicomSequence(self._source_items())
        ds.BurnedInAnnotation = "YES"
        ds.LossyImageCompression = "00"
        ds.ImageComments = f"{NOTICE} - kinetic map: red washout, yellow plateau, blue persistent"
        # Image Pixel (C.7.6.3), RGB colour-by-pixel
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.Rows, ds.Columns = rows, columns
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        # Multi-frame (C.7.6.6) and SC Multi-frame Image / Vector (C.8.6.3, C.8.6.4)
        ds.NumberOfFrames = frames
        ds.FrameIncrementPointer = _SLICE_LOCATION_VECTOR
        ds.SliceLocationVector = self.grid.slice_locations()
        ds.PixelSpacing = [round(v / self.scale, 6) for v in self.grid.spacing]
        ds.PixelData = pixels.tobytes()
        attach_file_meta(ds)
        return ds

    def _source_items(self) -> list[Dataset]:
        """Image SOP Instance References (C.10.3) of the source slices (frames of a multi-frame one)."""
        purpose = Dataset()
        purpose.CodeValue, purpose.CodingSchemeDesignator = "121322", "DCM"
        purpose.CodeMeaning = "Source image for image processing operation"
        frames: dict[str, list[int]] = {}
        for header, frame in zip(self.grid.headers, self.grid.frames, strict=True):
            frames.setdefault(str(header.SOPInstanceUID), []).extend([] if frame is None else [frame])
        items = []
        for source in self.grid.sources:
            item = Dataset()
            item.ReferencedSOPClassUID = str(source.SOPClassUID)
            item.ReferencedSOPInstanceUID = str(source.SOPInstanceUID)
            numbers = frames[str(source.SOPInstanceUID)]
            if numbers:
                item.ReferencedFrameNumber = numbers if len(numbers) > 1 else numbers[0]
            item.PurposeOfReferenceCodeSequence = DicomSequence([purpose])
            items.append(item)
        return items

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedKineticMap:
        """Decode a kinetic map written by this class."""
        if str(ds.get("SOPClassUID", "")) != MULTIFRAME_TRUE_COLOR_SC_STORAGE:
            raise InvalidInputError("not a Multi-frame True Color Secondary Capture Image")
        frames, rows, cols = int(ds.get("NumberOfFrames", 1)), int(ds.Rows), int(ds.Columns)
        pixels = np.frombuffer(ds.PixelData, dtype=np.uint8).reshape(frames, rows, cols, 3)
        sources = []
        for item in ds.get("SourceImageSequence", []):
            raw = item.get("ReferencedFrameNumber")
            numbers = (
                ()
                if raw in (None, "")
                else tuple(int(v) for v in (raw if isinstance(raw, MultiValue) else [raw]))
            )
            sources.append((str(item.ReferencedSOPInstanceUID), numbers))
        return DecodedKineticMap(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            pixels=pixels,
            slice_locations=tuple(float(v) for v in ds.get("SliceLocationVector", [])),
            sources=tuple(sources),
            comment=str(ds.get("ImageComments", "")),
        )


def _shadow(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font: Any, fill: tuple[int, int, int]
) -> None:
    """Text with a 1-pixel black shadow, legible over bright tissue."""
    x, y = math.floor(xy[0]), math.floor(xy[1])
    draw.text((x + 1, y + 1), text, font=font, fill=(0, 0, 0))
    draw.text((x, y), text, font=font, fill=fill)
