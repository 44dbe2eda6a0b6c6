"""The pipeline reads the prior images a result's comparisons mark, for the CAD SR's temporal features."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

from pydicom import dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.model import InstanceRef, PriorStatus, StudyRef
from breastgate.pipeline.analysis import prior_headers
from breastgate.results.mammo_cad_sr import MammographyCADSR
from breastgate.results.placement import attach_file_meta
from tests.support.mg_headers import density_manifest
from tests.unit.test_results_cad_sr import PRIOR_STUDY, compared_study


def _stored(headers: list[Dataset], folder: Path) -> tuple[InstanceRef, ...]:
    refs = []
    for h in headers:
        path = folder / f"{h.SOPInstanceUID}.dcm"
        stored = copy.deepcopy(h)
        attach_file_meta(stored)
        dcmwrite(path, stored, enforce_file_format=True)
        refs.append(
            InstanceRef(
                h.StudyInstanceUID, h.SeriesInstanceUID, h.SOPInstanceUID, h.SOPClassUID, "MG", str(path)
            )
        )
    return tuple(refs)


def test_prior_headers_are_those_the_comparisons_mark(tmp_path: Path) -> None:
    headers, result, prior = compared_study()
    prior_ref = StudyRef(PRIOR_STUDY, _stored(prior, tmp_path), study_date="20251201")
    study = StudyRef(result.study_instance_uid, _stored(headers, tmp_path), priors=(prior_ref,),
                     prior_status=PriorStatus.HELD)  # fmt: skip
    read = prior_headers(study, result)
    marked = {m.sop_instance_uid for f in result.findings if f.comparison for m in f.comparison.prior_marks}
    assert {str(h.SOPInstanceUID) for h in read} == marked and len(marked) == 3
    ds = MammographyCADSR.from_result(
        result, density_manifest(), headers, datetime(2026, 1, 10), prior_sources=read
    ).dataset
    assert ds.PertinentOtherEvidenceSequence[0].StudyInstanceUID == PRIOR_STUDY
    # Without priors attached nothing is read, and the SR still states each change.
    assert prior_headers(StudyRef(result.study_instance_uid, study.instances), result) == []
