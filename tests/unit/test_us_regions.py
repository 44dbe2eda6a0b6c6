"""Ultrasound regions, calibration and overlays (breastgate.imaging.us)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from breastgate.imaging.errors import ImagingError
from breastgate.imaging.us import (
    US_IMAGE,
    overlay_mask,
    read_us_frames,
    read_us_header,
    regions_of,
)


def _region(
    box: tuple[int, int, int, int], units: int = 3, delta: float = 0.01, data_type: int = 1
) -> Dataset:
    item = Dataset()
    item.RegionSpatialFormat = 1
    item.RegionDataType = data_type
    item.RegionFlags = 0
    item.RegionLocationMinX0, item.RegionLocationMinY0 = box[0], box[1]
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = box[2] - 1, box[3] - 1
    item.PhysicalUnitsXDirection = units
    item.PhysicalUnitsYDirection = units
    item.PhysicalDeltaX = delta
    item.PhysicalDeltaY = delta
    return item


def _write(path: Path, regions: list[Dataset], pixels: np.ndarray, sop_class: str = US_IMAGE) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "US"
    ds.ImageLaterality = "R"
    ds.Rows, ds.Columns = pixels.shape[:2]
    colour = pixels.ndim == 3
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = "RGB" if colour else "MONOCHROME2"
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.SequenceOfUltrasoundRegions = Sequence(regions)
    ds.PixelData = pixels.astype(np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_regions_give_boxes_and_mm_per_pixel_of_the_region(tmp_path: Path) -> None:
    frame = np.zeros((300, 400), dtype=np.uint8)
    path = _write(
        tmp_path / "a.dcm",
        [_region((10, 20, 190, 280), delta=0.008), _region((210, 20, 390, 280), delta=0.012)],
        frame,
    )
    image = read_us_header(path)
    assert [r.box for r in image.regions] == [(10, 20, 190, 280), (210, 20, 390, 280)]
    assert image.regions[0].mm_per_pixel() == pytest.approx((0.08, 0.08))
    assert image.region_at((300.0, 100.0)) is image.regions[1]
    assert image.region_at((200.0, 100.0)) is None
    assert image.laterality == "R"


def test_a_region_without_physical_units_is_not_measured_and_says_why() -> None:
    ds = Dataset()
    ds.SequenceOfUltrasoundRegions = Sequence([_region((0, 0, 100, 100), units=0)])
    (region,) = regions_of(ds, 100, 100)
    assert region.mm_per_pixel() is None
    assert "no physical spatial calibration" in region.why_unmeasurable()


def test_no_region_sequence_is_one_uncalibrated_region(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.dcm", [], np.zeros((64, 80), dtype=np.uint8))
    (region,) = read_us_header(path).bmode_regions()
    assert region.box == (0, 0, 80, 64) and region.mm_per_pixel() is None


def test_spectral_region_is_not_bmode(tmp_path: Path) -> None:
    doppler = _region((0, 150, 400, 300), data_type=3)
    doppler.RegionSpatialFormat = 3
    path = _write(
        tmp_path / "c.dcm", [_region((0, 0, 400, 150)), doppler], np.zeros((300, 400), dtype=np.uint8)
    )
    assert [r.index for r in read_us_header(path).bmode_regions()] == [0]


def test_not_an_ultrasound_image_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "d.dcm", [], np.zeros((64, 64), dtype=np.uint8), sop_class="1.2.840.10008.5.1.4.1.1.7"
    )
    with pytest.raises(ImagingError, match="not an ultrasound image"):
        read_us_header(path)


def test_overlays_are_masked_but_speckle_is_not(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    gray = np.clip(rng.rayleigh(40.0, size=(200, 300)), 0, 240).astype(np.uint8)
    frame = np.repeat(gray[..., None], 3, axis=2)
    frame[50:60, 100:101] = 255  # a caliper "+" (vertical and horizontal strokes)
    frame[55:56, 95:106] = 255
    frame[120:160, 200:260] = (200, 30, 30)  # colour Doppler
    path = _write(tmp_path / "e.dcm", [_region((0, 0, 300, 200))], frame)
    image = read_us_header(path)
    (pixels,) = read_us_frames(image)
    covered = overlay_mask(pixels, image.regions[0].box)
    assert covered[55, 100] and covered[50, 100] and covered[140, 230]
    assert covered.mean() < 0.08  # speckle stays usable
