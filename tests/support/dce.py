"""Small synthetic DCE-MRI studies (axial, LPS) written as pydicom MR datasets, for kinetics tests.

Independent of the phantom package on purpose: a chest with two breasts in front of it (fat and
slowly enhancing glandular tissue), an enhancing heart behind the chest wall, optional vessels and
ellipsoid lesions with a given percent-enhancement curve. Soft edges (a 1 mm logistic ramp) give
partial volume. Rows run posterior (+y), columns to the patient's left (+x), slices superior (+z).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4.1"

#: Percent enhancement per phase (pre, then 5 post at 90 s steps) of each curve type.
CURVES: dict[str, tuple[float, ...]] = {
    "I": (0.0, 80.0, 110.0, 130.0, 145.0, 155.0),
    "II": (0.0, 150.0, 156.0, 153.0, 150.0, 148.0),
    "III": (0.0, 180.0, 160.0, 140.0, 125.0, 110.0),
    "heart": (0.0, 400.0, 300.0, 250.0, 220.0, 200.0),
    "vessel": (0.0, 200.0, 190.0, 180.0, 170.0, 160.0),
    "bpe": (0.0, 10.0, 18.0, 25.0, 30.0, 34.0),
}


@dataclass(frozen=True)
class LesionSpec:
    centre_mm: tuple[float, float, float]  # patient x, y, z
    diameters_mm: tuple[float, float, float]  # along x, y, z
    curve: str
    s0: float = 160.0


@dataclass
class Phantom:
    shape: tuple[int, int, int] = (24, 96, 128)  # slices, rows, columns
    spacing: tuple[float, float, float] = (3.0, 2.0, 2.0)  # slice, row, column mm
    origin: tuple[float, float, float] = (-127.0, -60.0, -34.5)
    lesions: list[LesionSpec] = field(default_factory=list)
    vessels: list[tuple[float, float]] = field(default_factory=list)  # (x, y) of a tube along z
    heart: bool = True
    noise: float = 4.0
    seed: int = 1
    shift_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)  # whole-anatomy shift (priors)

    def coordinates(self) -> tuple[npt.NDArray[np.float32], ...]:
        k, r, c = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in self.shape), indexing="ij")
        x = self.origin[0] + c * self.spacing[2] - self.shift_mm[0]
        y = self.origin[1] + r * self.spacing[1] - self.shift_mm[1]
        z = self.origin[2] + k * self.spacing[0] - self.shift_mm[2]
        return x, y, z

    def phases(self) -> list[npt.NDArray[np.int16]]:
        """Stored pixels of each phase (int16): each slice integrates three sub-slices (the slice
        profile), plus noise."""
        rng = np.random.default_rng(self.seed)
        x, y, z = self.coordinates()
        signals = [self._signals(x, y, z + dz * self.spacing[0]) for dz in (-1 / 3, 0.0, 1 / 3)]
        out = []
        for p in range(len(CURVES["I"])):
            signal = (signals[0][p] + signals[1][p] + signals[2][p]) / 3.0
            signal += rng.normal(0.0, self.noise, signal.shape).astype(np.float32)
            out.append(np.clip(np.round(signal), 0, 32000).astype(np.int16))
        return out

    def _signals(
        self, x: npt.NDArray[np.float32], y: npt.NDArray[np.float32], z: npt.NDArray[np.float32]
    ) -> list[npt.NDArray[np.float32]]:

        def soft(distance: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            return (1.0 / (1.0 + np.exp(np.clip(distance / 0.6, -30, 30)))).astype(np.float32)

        chest = soft(-(y - 10.0))  # chest wall skin at y = 10 (posterior of it is body)
        breasts = []
        for bx in (-55.0, 55.0):
            radius = np.sqrt(((x - bx) / 42.0) ** 2 + ((y - 10.0) / 45.0) ** 2 + (z / 38.0) ** 2)
            breasts.append(soft((radius - 1.0) * 40.0) * (y <= 12.0))
        body = np.maximum(chest, np.maximum(*breasts))
        gland = np.zeros_like(body)
        for bx in (-55.0, 55.0):
            gradius = np.sqrt(((x - bx) / 25.0) ** 2 + ((y + 8.0) / 15.0) ** 2 + (z / 22.0) ** 2)
            gland = np.maximum(gland, soft((gradius - 1.0) * 25.0))
        gland *= body
        muscle = soft(-(y - 18.0)) * soft(y - 32.0)
        s0 = 8.0 + body * (300.0 - 140.0 * gland) - 150.0 * muscle * body
        weights: list[tuple[npt.NDArray[np.float32], str, float]] = [(gland, "bpe", 160.0)]
        if self.heart:
            hr = np.sqrt(((x - 10.0) / 45.0) ** 2 + ((y - 75.0) / 30.0) ** 2 + (z / 40.0) ** 2)
            weights.append((soft((hr - 1.0) * 35.0), "heart", 200.0))
        for vx, vy in self.vessels:
            weights.append((soft(np.hypot(x - vx, y - vy) - 1.3), "vessel", 150.0))
        for lesion in self.lesions:
            (cx, cy, cz), (dx, dy, dz) = lesion.centre_mm, lesion.diameters_mm
            lr = np.sqrt(((x - cx) / (dx / 2)) ** 2 + ((y - cy) / (dy / 2)) ** 2 + ((z - cz) / (dz / 2)) ** 2)
            weights.append((soft((lr - 1.0) * min(lesion.diameters_mm) / 2), lesion.curve, lesion.s0))
        out = []
        for p in range(6):
            signal = s0.copy()
            for weight, curve, base in weights:
                signal = signal * (1.0 - weight) + weight * base * (1.0 + CURVES[curve][p] / 100.0) * (
                    body if curve != "heart" else 1.0
                )
            out.append(signal)
        return out


def _base(study: str, series: str, number: int, description: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = MR_IMAGE
    ds.Modality = "MR"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.SeriesNumber = number
    ds.SeriesDescription = description
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.PatientID = "DCE-TEST"
    ds.PatientName = "Test^Dce"
    ds.StudyDate = "20260101"
    ds.StudyTime = "100000"
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.StudyID = "1"
    ds.AccessionNumber = "ACC-DCE"
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = "test"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def _finish(ds: Dataset) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def classic_datasets(
    phantom: Phantom,
    form: str = "series-per-phase",
    *,
    study_uid: str | None = None,
    keys: Sequence[str] = ("TemporalPositionIdentifier", "TriggerTime", "AcquisitionTime"),
) -> list[Dataset]:
    """MR Image datasets: one series per phase, or one multi-phase series (``form``)."""
    study = study_uid or generate_uid()
    phases = phantom.phases()
    multiphase_series = generate_uid()
    out: list[Dataset] = []
    for p, pixels in enumerate(phases):
        series = multiphase_series if form == "multiphase" else generate_uid()
        for k in range(phantom.shape[0]):
            ds = _base(study, series, 1 if form == "multiphase" else 10 + p, f"DCE phase {p}")
            ds.SOPInstanceUID = generate_uid()
            ds.InstanceNumber = p * phantom.shape[0] + k + 1
            ds.ImagePositionPatient = [
                phantom.origin[0],
                phantom.origin[1],
                phantom.origin[2] + k * phantom.spacing[0],
            ]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PixelSpacing = [phantom.spacing[1], phantom.spacing[2]]
            ds.SliceThickness = phantom.spacing[0]
            ds.Rows, ds.Columns = phantom.shape[1], phantom.shape[2]
            if "TemporalPositionIdentifier" in keys:
                ds.TemporalPositionIdentifier = p + 1
                ds.NumberOfTemporalPositions = len(phases)
            if "TriggerTime" in keys:
                ds.TriggerTime = p * 90000.0
            if "AcquisitionTime" in keys:
                seconds = 36000 + p * 90 + k * 0.5
                ds.AcquisitionTime = (
                    f"{int(seconds // 3600):02d}{int(seconds % 3600 // 60):02d}{seconds % 60:06.3f}"
                )
            ds.PixelData = pixels[k].tobytes()
            out.append(_finish(ds))
    return out


def enhanced_dataset(
    phantom: Phantom, *, study_uid: str | None = None, dimension_only: bool = False
) -> Dataset:
    """One Enhanced MR Image with per-frame Plane Position and Frame Content (shuffled frame order)."""
    phases = phantom.phases()
    ds = _base(study_uid or generate_uid(), generate_uid(), 1, "DCE enhanced")
    ds.SOPClassUID = ENHANCED_MR_IMAGE
    ds.SOPInstanceUID = generate_uid()
    ds.Rows, ds.Columns = phantom.shape[1], phantom.shape[2]
    order = [(p, k) for p in range(len(phases)) for k in range(phantom.shape[0])]
    np.random.default_rng(phantom.seed).shuffle(order)  # type: ignore[arg-type]
    ds.NumberOfFrames = len(order)
    shared = Dataset()
    orientation, measures = Dataset(), Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures.PixelSpacing = [phantom.spacing[1], phantom.spacing[2]]
    measures.SliceThickness = phantom.spacing[0]
    shared.PlaneOrientationSequence = DicomSequence([orientation])
    shared.PixelMeasuresSequence = DicomSequence([measures])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    dims = []
    for pointer in (0x00209128, 0x00200032):
        item = Dataset()
        item.DimensionIndexPointer = pointer
        dims.append(item)
    ds.DimensionIndexSequence = DicomSequence(dims)
    frames = []
    for p, k in order:
        item, position, content = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [
            phantom.origin[0],
            phantom.origin[1],
            phantom.origin[2] + k * phantom.spacing[0],
        ]
        if not dimension_only:
            content.TemporalPositionIndex = p + 1
        content.DimensionIndexValues = [p + 1, k + 1]
        item.PlanePositionSequence = DicomSequence([position])
        item.FrameContentSequence = DicomSequence([content])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    ds.PixelData = b"".join(phases[p][k].tobytes() for p, k in order)
    return _finish(ds)


def t2_series(phantom: Phantom, study_uid: str) -> list[Dataset]:
    """A non-dynamic T2 series of the same study (other matrix, one volume)."""
    series = generate_uid()
    out = []
    for k in range(phantom.shape[0] // 2):
        ds = _base(study_uid, series, 2, "T2 TSE")
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [
            phantom.origin[0],
            phantom.origin[1],
            phantom.origin[2] + 2 * k * phantom.spacing[0],
        ]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [phantom.spacing[1] * 2, phantom.spacing[2] * 2]
        ds.Rows, ds.Columns = phantom.shape[1] // 2, phantom.shape[2] // 2
        ds.PixelData = np.full((ds.Rows, ds.Columns), 100, np.int16).tobytes()
        out.append(_finish(ds))
    return out


def write(datasets: Sequence[Dataset], folder: Path) -> list[Path]:
    """Write datasets as Part 10 files (names in a shuffled order)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, ds in enumerate(datasets):
        path = folder / f"{(i * 7919) % 100003:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
