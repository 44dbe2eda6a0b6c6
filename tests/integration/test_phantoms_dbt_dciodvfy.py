"""dciodvfy (dicom3tools) finds no errors in tomosynthesis phantoms: every Breast Tomosynthesis volume
(also under the IHE DBT profile) and every synthesized 2-D view, for both vendor profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from breastgate.phantoms import VENDOR_PROFILES, LesionRequest, generate_dbt_study
from breastgate.phantoms.dbt import dbt_file_name
from tests.support.validators import dciodvfy

pytestmark = pytest.mark.peers

LESIONS = (LesionRequest("mass", laterality="L"), LesionRequest("calcification_cluster", laterality="R"))
# The MG phantom has the same warning: vendors write CC/MLO in View Position, a DX term list.
ACCEPTED_MG_WARNINGS = (
    "Unrecognized defined term <CC> for value 1 of attribute <View Position>",
    "Unrecognized defined term <MLO> for value 1 of attribute <View Position>",
)


@pytest.mark.parametrize("vendor", sorted(VENDOR_PROFILES))
def test_dciodvfy_no_errors(vendor: str, tmp_path: Path) -> None:
    study = generate_dbt_study(21, category="b", vendor=vendor, pixel_mm=0.5, lesions=LESIONS)
    assert len(study.datasets) == 8
    for ds in study.datasets:
        path = tmp_path / dbt_file_name(ds)
        ds.save_as(path, enforce_file_format=True)
        report = dciodvfy(path)
        assert report.errors == [], report.output
        warnings = [line for line in report.output.splitlines() if line.startswith("Warning")]
        if path.name.endswith("_DBT.dcm"):
            assert "BreastTomosynthesisImage" in report.output
            assert warnings == [], report.output
            ihe = dciodvfy(path, profile="IHEDBT")
            assert "BreastTomosynthesisImageIHEDBT" in ihe.output
            assert ihe.errors == [], ihe.output
        else:
            assert "MammographyImageForPresentation" in report.output
            assert all(w.endswith(ACCEPTED_MG_WARNINGS) for w in warnings), report.output
            ihe = dciodvfy(path, profile="IHEMammo")
            assert ihe.errors == [], ihe.output
