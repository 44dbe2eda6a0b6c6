"""dciodvfy (dicom3tools) finds no errors in DCE-MRI phantoms, in each of the three forms: classic MR
Image per phase, classic multiphase series and the Enhanced MR Image multi-frame instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from breastgate.phantoms import DceLesionRequest, write_dce_phantoms
from breastgate.phantoms.mri import plan_dce_study
from tests.support.validators import dciodvfy

pytestmark = pytest.mark.peers

IOD = {"series-per-phase": "MRImage", "multiphase": "MRImage", "enhanced": "EnhancedMRImage"}
# Siemens' "M" (magnitude) in Image Type Value 3; MIXED for an enhanced image whose frames are
# PRE_ and POST_CONTRAST (PS3.3 C.8.16.1.3); SRT codes of the contrast agent.
ACCEPTED = (
    "Unrecognized defined term <M> for value 3 of attribute <Image Type>",
    "Unrecognized defined term <MIXED> for value 3 of attribute <Image Type>",
    "CodingSchemeDesignator is deprecated",
)


@pytest.mark.parametrize("form", sorted(IOD))
def test_dciodvfy_no_errors(form: str, tmp_path: Path) -> None:
    (folder,) = write_dce_phantoms(tmp_path, 1, 12, form=form, size=(48, 48, 8), phases=4)
    files = sorted(folder.glob("*.dcm"))
    assert len(files) == (1 if form == "enhanced" else 4 * 8)
    for path in files[:: max(1, len(files) // 5)]:
        report = dciodvfy(path)
        assert IOD[form] in report.output
        assert report.errors == [], report.output
        warnings = [line for line in report.output.splitlines() if line.startswith("Warning")]
        assert [w for w in warnings if not any(a in w for a in ACCEPTED)] == [], report.output


def test_lesion_requests_validate_too(tmp_path: Path) -> None:
    """A heterogeneous washout lesion and a prior do not change the header set (smoke on one file each)."""
    plan = plan_dce_study(3, size=(48, 48, 8), lesions=[DceLesionRequest("III", 16.0, "R", True)])
    assert plan.lesions[0].core is not None
    folders = write_dce_phantoms(tmp_path, 1, 40, size=(48, 48, 8), phases=4, prior=True)
    for folder in folders:
        report = dciodvfy(sorted(folder.glob("*.dcm"))[0])
        assert report.errors == [], report.output
