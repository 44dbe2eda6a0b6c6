"""Density reads compressed For Presentation mammograms (vendors send JPEG 2000, JPEG-LS, JPEG
lossless, RLE) exactly as it reads the uncompressed original when the compression is lossless."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from breastgate.algorithms.density import measure_image
from breastgate.phantoms import generate_mg_study

pytestmark = [pytest.mark.peers]

ENCODERS = {
    "jpeg-ls": ["dcmcjpls", "+el"],
    "jpeg-lossless-sv1": ["dcmcjpeg", "+e1"],
    "rle": ["dcmcrle"],
}


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ds = generate_mg_study(3, category="c").datasets[2]  # an MLO view: muscle and dense tissue
    path = tmp_path_factory.mktemp("density-compressed") / "raw.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("name", [*sorted(ENCODERS), "jpeg2000-lossless"])
def test_lossless_compressed_image_gives_the_same_density(original: Path, tmp_path: Path, name: str) -> None:
    encoded = tmp_path / f"{name}.dcm"
    if name in ENCODERS:
        subprocess.run([*ENCODERS[name], str(original), str(encoded)], check=True, capture_output=True)
    else:
        ds = pydicom.dcmread(original)
        ds.compress(JPEG2000Lossless)
        ds.save_as(encoded, enforce_file_format=True)
    syntax = pydicom.dcmread(encoded, stop_before_pixels=True).file_meta.TransferSyntaxUID
    assert syntax.is_compressed
    expected, _ = measure_image(str(original))
    got, _ = measure_image(str(encoded))
    assert got["percent_dense"] == pytest.approx(expected["percent_dense"], abs=1e-9)
    assert got["breast_area_cm2"] == pytest.approx(expected["breast_area_cm2"], abs=1e-9)
