"""Presentation states of ultrasound marks checked by dciodvfy (dicom3tools) and the KOS by
PixelMed (TID 2010): the GSPS over a grayscale image, the Color Softcopy Presentation State over a
colour one (issue 19), and the Key Object Selection referencing each. No errors, no warnings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydicom import dcmwrite

from breastgate.domain.model import Finding, FindingKind
from breastgate.pipeline.us_outputs import presentation_states
from breastgate.results.kos import KeyObjectSelectionDocument
from tests.support.us_sources import ALGO, VERSION, us_images
from tests.support.validators import dciodvfy, pixelmed_sr

pytestmark = pytest.mark.peers


def test_gsps_csps_and_kos_of_ultrasound_marks_validate(tmp_path: Path) -> None:
    for tool in ("dciodvfy", "java"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (make test installs the peers)")
    (grey, rgb), (on_grey, on_rgb) = us_images()
    both = Finding("us-3", FindingKind.US_LESION, "R", 0.9, on_grey.marks + on_rgb.marks, size_mm=14.0)
    states = presentation_states([both], [grey, rgb], ALGO, VERSION)
    assert [s.kind for s in states] == ["gsps", "csps"]
    kos = KeyObjectSelectionDocument(
        [both], [grey, rgb], ALGO, VERSION, presentation_states=[s.dataset for s in states]
    ).dataset
    for name, ds in [(s.kind, s.dataset) for s in states] + [("kos", kos)]:
        path = tmp_path / f"{name}.dcm"
        dcmwrite(path, ds, enforce_file_format=True)
        report = dciodvfy(path)
        assert report.errors == [], (name, report.errors)
        assert not [w for w in report.output.splitlines() if w.startswith("Warning")], (name, report.output)
    assert pixelmed_sr(tmp_path / "kos.dcm").errors == []
