"""dciodvfy (dicom3tools) finds no errors in the independent benchmark phantoms (both photometries)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.alt_phantoms import generate_alt_study

from tests.support.validators import dciodvfy

pytestmark = pytest.mark.peers


@pytest.mark.parametrize("monochrome1", [False, True])
def test_dciodvfy_no_errors(monochrome1: bool, tmp_path: Path) -> None:
    study = generate_alt_study(5, "c", monochrome1=monochrome1)
    for index in (0, 3):  # R CC and L MLO
        path = tmp_path / f"{index}.dcm"
        study.datasets[index].save_as(path, enforce_file_format=True)
        report = dciodvfy(path)
        assert "MammographyImageForPresentation" in report.output
        assert report.errors == [], report.output
