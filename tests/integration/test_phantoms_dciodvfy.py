"""dciodvfy (dicom3tools) finds no errors in phantom images of either vendor profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from breastgate.phantoms import VENDOR_PROFILES, generate_mg_study
from tests.support.validators import dciodvfy

pytestmark = pytest.mark.peers


@pytest.mark.parametrize("vendor", sorted(VENDOR_PROFILES))
def test_dciodvfy_no_errors(vendor: str, tmp_path: Path) -> None:
    study = generate_mg_study(21, category="b", vendor=vendor)
    path = tmp_path / "R_MLO.dcm"
    study.datasets[2].save_as(path, enforce_file_format=True)
    report = dciodvfy(path)
    assert "MammographyImageForPresentation" in report.output
    assert report.errors == [], report.output


def test_prior_phantom_dciodvfy_no_errors(tmp_path: Path) -> None:
    """The prior of a phantom study (phantoms.prior) validates too."""
    from breastgate.phantoms.prior import generate_mg_pair

    pair = generate_mg_pair(21, category="b", vendor="profile-b-100um")
    path = tmp_path / "R_MLO_prior.dcm"
    pair.prior.datasets[2].save_as(path, enforce_file_format=True)
    report = dciodvfy(path)
    assert report.errors == [], report.output
