"""breastgate.imaging: pixel loading, eligibility reasons, geometry on synthetic images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

from breastgate.imaging import ImagingError, density_eligibility, load_mammogram
from breastgate.imaging.geometry import analyse_breast
from breastgate.imaging.pixels import MG_FOR_PRESENTATION, MG_FOR_PROCESSING, MammoImage


def synthetic_breast(rows: int = 600, cols: int = 480, right: bool = False, seed: int = 0) -> np.ndarray:
    """Half-ellipse breast on air, chest wall on the left (or right), with dense blobs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    inside = ((x / (0.75 * cols)) ** 2 + ((y - rows / 2) / (0.45 * rows)) ** 2) <= 1
    image = np.where(inside, 1200.0, 100.0) + rng.normal(0, 20, (rows, cols))
    blobs = ((x - 0.3 * cols) ** 2 + (y - rows / 2) ** 2) <= (0.12 * rows) ** 2
    image = np.where(inside & blobs, 2200.0, image)
    image = np.clip(image, 0, 4095).astype(np.uint16)
    return image[:, ::-1].copy() if right else image


def make_mg(pixels: np.ndarray, **overrides: object) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "MG"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageLaterality = "L"
    ds.ViewPosition = "CC"
    ds.PixelSpacing = [0.1, 0.1]
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.SamplesPerPixel = 1
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    for key, value in overrides.items():
        setattr(ds, key, value)
    return ds


def save(ds: Dataset, path: Path) -> str:
    ds.save_as(path, enforce_file_format=True)
    return str(path)


def test_load_applies_rescale_and_metadata(tmp_path: Path) -> None:
    pixels = synthetic_breast()
    ds = make_mg(pixels, RescaleSlope=2, RescaleIntercept=-10)
    image = load_mammogram(save(ds, tmp_path / "a.dcm"))
    assert image.pixels.dtype == np.float32
    assert image.pixels[0, 0] == pytest.approx(2 * float(pixels[0, 0]) - 10)
    assert image.spacing_mm == (0.1, 0.1)
    assert (image.laterality, image.view) == ("L", "CC")


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    pixels = synthetic_breast()
    inverted = (4095 - pixels).astype(np.uint16)
    image = load_mammogram(
        save(make_mg(inverted, PhotometricInterpretation="MONOCHROME1"), tmp_path / "m1.dcm")
    )
    # bright = dense: the breast must be brighter than the air corner
    assert image.pixels[300, 100] > image.pixels[5, 470]


def test_rle_transfer_syntax_decodes(tmp_path: Path) -> None:
    pixels = synthetic_breast()
    ds = make_mg(pixels)
    ds.compress(RLELossless, pixels)
    image = load_mammogram(save(ds, tmp_path / "rle.dcm"))
    np.testing.assert_array_equal(image.pixels, pixels.astype(np.float32))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"Modality": "CT"}, "not a mammogram (modality CT)"),
        ({"SOPClassUID": MG_FOR_PROCESSING, "PresentationIntentType": "FOR PROCESSING"}, "For Processing"),
        ({"PhotometricInterpretation": "RGB"}, "unsupported photometric interpretation RGB"),
        ({"NumberOfFrames": 3}, "multi-frame"),
        ({"Rows": 2, "Columns": 2}, "too small"),
        ({"ImageLaterality": "B"}, "unknown laterality"),
    ],
)
def test_eligibility_reasons(overrides: dict[str, object], expected: str) -> None:
    ds = make_mg(synthetic_breast(), **overrides)
    reason = density_eligibility(ds)
    assert reason is not None and expected in reason


def test_missing_spacing_is_a_reason() -> None:
    ds = make_mg(synthetic_breast())
    del ds.PixelSpacing
    assert "Pixel Spacing" in (density_eligibility(ds) or "")
    ds.ImagerPixelSpacing = [0.07, 0.07]
    assert density_eligibility(ds) is None


def test_corrupt_pixel_data_raises_imaging_error(tmp_path: Path) -> None:
    ds = make_mg(synthetic_breast())
    ds.PixelData = ds.PixelData[:1000]
    with pytest.raises(ImagingError, match="could not be decoded"):
        load_mammogram(save(ds, tmp_path / "bad.dcm"))


@pytest.mark.parametrize("right", [False, True])
def test_geometry_orients_and_masks(right: bool) -> None:
    pixels = synthetic_breast(right=right).astype(np.float32)
    image = MammoImage(pixels, (0.2, 0.2), "R" if right else "L", "CC", "MONOCHROME2", (), "", "1", "")
    geometry = analyse_breast(image)
    assert geometry.flipped is right
    truth_mm2 = float((pixels > 600).sum()) * 0.04
    assert geometry.area_mm2(geometry.breast) == pytest.approx(truth_mm2, rel=0.05)
    assert not geometry.pectoral.any()
    assert geometry.nipple is not None
    col = geometry.nipple[0]
    assert (col < 200) if right else (col > 280)


def test_pectoral_found_on_mlo() -> None:
    pixels = synthetic_breast().astype(np.float32)
    y, x = np.mgrid[0 : pixels.shape[0], 0 : pixels.shape[1]]
    muscle = (x / 150 + y / 350) < 1
    pixels[muscle & (pixels > 600)] = 2600
    image = MammoImage(pixels, (0.2, 0.2), "L", "MLO", "MONOCHROME2", (), "", "1", "")
    geometry = analyse_breast(image)
    assert geometry.pectoral_line is not None
    truth = float((muscle & (pixels > 600)).sum()) / 9  # working factor 3 at 0.2 mm
    assert geometry.pectoral.sum() == pytest.approx(truth, rel=0.35)


def test_pydicom_roundtrip_header_only(tmp_path: Path) -> None:
    path = save(make_mg(synthetic_breast()), tmp_path / "h.dcm")
    assert "PixelData" not in pydicom.dcmread(path, stop_before_pixels=True)
