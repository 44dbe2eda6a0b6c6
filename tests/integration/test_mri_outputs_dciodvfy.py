"""DCE-MRI phantom → kinetics algorithm → MRI result objects, in the two extreme DICOM forms the
phantom writes (classic series per phase; one multi-frame object for the whole dynamic series, so
each position has a frame per phase): every object passes dciodvfy, the SEG and TID 1500 open in
highdicom and agree with the result.

Needs the DCE-MRI phantom (``breastgate.phantoms.mri``) and the kinetics algorithm
(``breastgate.algorithms.kinetics``), built on their own branches: skipped until both are merged.
"""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from breastgate.domain.model import AlgorithmStatus
from breastgate.pipeline.analysis import analyse
from breastgate.pipeline.offline import collect_studies
from breastgate.results.mri_grid import find_volume, volume_array
from tests.support.validators import dciodvfy

phantom = pytest.importorskip("breastgate.phantoms.mri", reason="needs the DCE-MRI phantom (mriphantom)")
kinetics = pytest.importorskip("breastgate.algorithms.kinetics", reason="needs the kinetics algorithm")


@pytest.mark.slow
@pytest.mark.parametrize("form", ["series-per-phase", "enhanced"])
def test_phantom_kinetics_objects_are_valid(form: str, tmp_path: Path) -> None:
    phantom.write_dce_phantoms(tmp_path / "in", 1, 3, form=form)
    studies, _ = collect_studies(tmp_path / "in")
    result, outputs = analyse(kinetics.KineticsAlgorithm(), studies[0])
    assert result.status is AlgorithmStatus.OK, result.message
    kinds = {o.kind for o in outputs}
    assert {"kinetic-map", "pmap"} <= kinds
    for output in outputs:
        path = tmp_path / f"{output.kind}.dcm"
        output.dataset.save_as(path, enforce_file_format=True)
        report = dciodvfy(path)
        assert report.ok, f"{form} {output.kind}: {report.output}"
    if not result.findings:
        return
    labels = volume_array(find_volume(result, "lesion_labels"))
    with_voxels = {int(v) for v in np.unique(labels)} - {0}
    seg = hd.seg.segread(tmp_path / "seg.dcm")
    assert seg.number_of_segments == len(with_voxels)
    sr = hd.sr.srread(tmp_path / "tid1500.dcm")
    assert len(sr.content.get_volumetric_roi_measurement_groups()) == len(with_voxels)
    kmap = pydicom.dcmread(tmp_path / "kinetic-map.dcm")
    assert int(kmap.NumberOfFrames) == labels.shape[0]
