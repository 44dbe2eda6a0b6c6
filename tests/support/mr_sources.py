"""Small synthetic DCE-MRI sources for the MRI result encoders: a classic MR Image series (one
single-frame object per slice, PS3.3 A.4) and the same slices as one multi-frame object
(Legacy Converted Enhanced MR, PS3.3 A.51, built by highdicom), plus a synthetic kinetics result
(findings and voxel maps) on their grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy

import numpy as np
import numpy.typing as npt
from highdicom.legacy import LegacyConvertedEnhancedMRImage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from breastgate.domain.model import (
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    DelayedPhase,
    Finding,
    FindingKind,
    FindingKinetics,
    FindingLocation,
    ImageOutcome,
    InitialPhase,
    Mark,
    ResultVolume,
)

MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
ALGORITHM_ID = "breastgate.dce_kinetics"
VERSION = "0.1.0"


def mr_series(
    *,
    study_uid: str | None = None,
    slices: int = 12,
    rows: int = 64,
    cols: int = 64,
    spacing: float = 1.5,
    thickness: float = 2.0,
    seed: int = 0,
) -> list[Dataset]:
    """One axial first post-contrast phase as classic MR Image objects, slice k at z = 2 k mm."""
    rng = np.random.default_rng(seed)
    study = study_uid or str(generate_uid())
    series, frame_of_reference = str(generate_uid()), str(generate_uid())
    out = []
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.SOPClassUID = MR_IMAGE
        ds.SOPInstanceUID = str(generate_uid())
        ds.file_meta.MediaStorageSOPClassUID = MR_IMAGE
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.PatientName, ds.PatientID = "Synthetic^Mri", "BG-TEST-MR"
        ds.PatientBirthDate, ds.PatientSex = "19700101", "F"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20260101", "120000", "ACCMR1"
        ds.StudyID, ds.ReferringPhysicianName = "1", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MR", 5, k + 1
        ds.SeriesDescription = "DCE post 1"
        ds.Manufacturer = "Synthetic"
        ds.FrameOfReferenceUID = frame_of_reference
        ds.PositionReferenceIndicator = ""
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.AcquisitionDate, ds.AcquisitionTime = "20260101", "120200"
        ds.ContentDate, ds.ContentTime = "20260101", "120200"
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "GR", "SP", ""
        ds.MRAcquisitionType = "3D"
        ds.RepetitionTime, ds.EchoTime, ds.EchoTrainLength = 5.0, 2.0, 1
        ds.MagneticFieldStrength, ds.FlipAngle = 1.5, 15
        ds.SliceThickness = thickness
        ds.PixelSpacing = [spacing, spacing]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-cols * spacing / 2, -rows * spacing / 2, 2.0 * k]
        ds.SliceLocation = 2.0 * k
        ds.TemporalPositionIdentifier = 2
        ds.ContrastBolusAgent = "Gd"
        ds.Laterality = ""
        ds.PatientPosition = "FFP"
        ds.WindowCenter, ds.WindowWidth = 700, 1000
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = rng.integers(200, 1200, size=(rows, cols), dtype=np.uint16).tobytes()
        out.append(ds)
    return out


def enhanced_mr(series: Sequence[Dataset]) -> Dataset:
    """The slices of ``series`` as one multi-frame object (Legacy Converted Enhanced MR)."""
    ds = LegacyConvertedEnhancedMRImage(
        list(series),
        series_instance_uid=str(generate_uid()),
        series_number=6,
        sop_instance_uid=str(generate_uid()),
        instance_number=1,
    )
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return ds


def two_phase_enhanced_mr(series: Sequence[Dataset]) -> tuple[Dataset, tuple[int, ...]]:
    """A pre-contrast and the post-contrast ``series`` as one multi-frame object (two frames at each
    position, as an Enhanced MR of a whole dynamic series), and the 1-based frames of the
    post-contrast slices in ``series`` order (read from Conversion Source Attributes)."""
    pre = []
    for ds in series:
        copy = deepcopy(ds)
        copy.SOPInstanceUID = str(generate_uid())
        copy.TemporalPositionIdentifier = 1
        copy.AcquisitionTime = copy.ContentTime = "120000"
        pre.append(copy)
    multi = enhanced_mr([*pre, *series])
    frame_of = {}
    for number, item in enumerate(multi.PerFrameFunctionalGroupsSequence, start=1):
        source = item.ConversionSourceAttributesSequence[0]
        frame_of[str(source.ReferencedSOPInstanceUID)] = number
    return multi, tuple(frame_of[str(ds.SOPInstanceUID)] for ds in series)


def lesion_volumes(
    shape: tuple[int, int, int], centres: Sequence[tuple[int, int, int]], radius: int = 4
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """(lesion labels, kinetic class, percent enhancement) with ball lesions at ``centres``:
    lesion n is washout in its core and plateau at its rim; a persistent patch elsewhere. Each
    ball is drawn in its own bounding box, so a clinical-size grid costs only the three maps."""
    labels = np.zeros(shape, np.uint8)
    kinetic = np.zeros(shape, np.uint8)
    enhancement = np.zeros(shape, np.float32)
    reach = int(np.ceil(radius / 1.3))
    for n, (cz, cy, cx) in enumerate(centres, start=1):
        box = (
            slice(max(cz - reach, 0), cz + reach + 1),
            slice(max(cy - radius, 0), cy + radius + 1),
            slice(max(cx - radius, 0), cx + radius + 1),
        )
        z, y, x = np.ogrid[box]
        d2 = ((z - cz) * 1.3) ** 2 + (y - cy) ** 2 + (x - cx) ** 2
        ball = d2 <= radius**2
        labels[box][ball] = n
        kinetic[box][ball] = 2
        kinetic[box][d2 <= (radius / 2) ** 2] = 3
        enhancement[box][ball] = (150.0 - 5.0 * np.sqrt(d2))[ball]
    patch = (slice(1, 3), slice(2, 8), slice(2, 8))
    kinetic[patch] = 1
    enhancement[patch] = 60.0
    return labels, kinetic, enhancement


def volume(
    name: str,
    data: npt.NDArray[np.generic],
    sources: Sequence[Dataset],
    unit: str = "",
    frames: Sequence[int] = (),
) -> ResultVolume:
    """A ResultVolume on the grid of ``sources`` (classic: one object per slice; else one
    multi-frame object, slice k = frame k + 1)."""
    if len(sources) == 1 and int(sources[0].get("NumberOfFrames", 1)) > 1:
        uids = (str(sources[0].SOPInstanceUID),) * data.shape[0]
        frames = tuple(frames) or tuple(range(1, data.shape[0] + 1))
    else:
        uids, frames = tuple(str(s.SOPInstanceUID) for s in sources), ()
    shape = (int(data.shape[0]), int(data.shape[1]), int(data.shape[2]))
    return ResultVolume(
        name, shape, str(data.dtype), np.ascontiguousarray(data).tobytes(), uids, frames, unit=unit
    )


def manifest() -> AlgorithmManifest:
    return AlgorithmManifest(
        id=ALGORITHM_ID,
        version=VERSION,
        name="DCE-MRI kinetics",
        intended_use="test",
        modalities=("MR",),
        sop_class_uids=(MR_IMAGE,),
    )


def kinetics_result(
    sources: Sequence[Dataset],
    *,
    centres: Sequence[tuple[int, int, int]] = ((5, 20, 20), (7, 40, 44)),
    spacing: float = 1.5,
    frames: Sequence[int] = (),
) -> AlgorithmResult:
    """A kinetics result on ``sources`` (classic series or one multi-frame object, slice k on
    ``frames[k]`` when given, else frame k + 1): one finding
    per centre (left breast first), with marks on the central slice and the three voxel maps."""
    multi = len(sources) == 1 and int(sources[0].get("NumberOfFrames", 1)) > 1
    slices = len(frames) or (int(sources[0].NumberOfFrames) if multi else len(sources))
    shape = (slices, int(sources[0].Rows), int(sources[0].Columns))
    labels, kinetic, enhancement = lesion_volumes(shape, centres)
    findings = []
    for n, (cz, cy, cx) in enumerate(centres, start=1):
        uid = str(sources[0].SOPInstanceUID if multi else sources[cz].SOPInstanceUID)
        mark = Mark(
            sop_instance_uid=uid,
            point=(cx + 0.5, cy + 0.5),
            bbox=(cx - 3.5, cy - 3.5, cx + 4.5, cy + 4.5),
            score=0.8,
            frame=(frames[cz] if frames else cz + 1) if multi else None,
            sop_class_uid=str(sources[0].SOPClassUID),
            patient_mm=(cx * spacing, cy * spacing, 2.0 * cz),
        )
        voxels = int((labels == n).sum())
        findings.append(
            Finding(
                id=f"L{n}",
                kind=FindingKind.ENHANCING_LESION,
                laterality="L" if n == 1 else "R",
                score=0.8 - 0.1 * n,
                marks=(mark,),
                size_mm=12.0,
                location=FindingLocation(
                    clock=2, quadrant="UOQ", depth="middle", distance_from_nipple_mm=40.0
                ),
                kinetics=FindingKinetics(InitialPhase.FAST, DelayedPhase.WASHOUT, 148.5, 0.2, 0.8, 0.0),
                diameters_mm=(12.0, 11.0 - n, 9.5),
                volume_mm3=round(voxels * spacing * spacing * 2.0, 3),
            )
        )
    images = tuple(ImageOutcome(str(s.SOPInstanceUID), AlgorithmStatus.OK) for s in sources)
    return AlgorithmResult(
        algorithm_id=ALGORITHM_ID,
        algorithm_version=VERSION,
        study_instance_uid=str(sources[0].StudyInstanceUID),
        status=AlgorithmStatus.OK,
        images=images,
        findings=tuple(findings),
        volumes=(
            volume("kinetic_class", kinetic, sources, frames=frames),
            volume("lesion_labels", labels, sources, frames=frames),
            volume("percent_enhancement", enhancement, sources, unit="%", frames=frames),
        ),
    )
