"""Mammography prior comparison end to end: the same woman's study of a year ago is in the PACS (a
real Orthanc); her current 4-view study arrives over DICOM; ``breastgate serve`` fetches the prior
by C-MOVE, by C-GET and by DICOMweb (QIDO-RS + WADO-RS, Orthanc's plugin), compares, and the CAD SR
back in Orthanc carries each finding's change since the prior; the report draft says what changed.

Real processes: ``breastgate serve``, Orthanc (+ orthanc-dicomweb), dcmtk ``storescu``, dciodvfy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
import pytest

from breastgate.domain.model import ChangeKind
from breastgate.phantoms.lesions import LesionRequest
from breastgate.phantoms.prior import PhantomPair, generate_mg_pair
from breastgate.results.mammo_cad_sr import decode_cad_sr
from tests.support.e2e import write_study
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.orthanc import OrthancServer
from tests.support.priors import gateway_with_prior_pacs, upload
from tests.support.validators import dciodvfy

pytestmark = [pytest.mark.peers, pytest.mark.slow]

#: A mass that grew since the prior and a calcification cluster that did not (the pair the unit
#: tests of breastgate.comparison also use).
MASS = LesionRequest("mass", size_mm=15.92, contrast=0.878)
CLUSTER = LesionRequest("calcification_cluster", shape="fine_pleomorphic")


@pytest.fixture(scope="module")
def pair() -> PhantomPair:
    return generate_mg_pair(
        8002, category="c", vendor="profile-a-70um", lesions=[MASS, CLUSTER], changes=["increased", "stable"]
    )


def _comparison_sr(pacs: OrthancServer, study_uid: str, folder: Path) -> Path | None:
    """The comparison's CAD SR once it is in the PACS (saved under ``folder``), else None."""
    for instance in pacs.find_instances(study_uid, modality="SR"):
        path = folder / f"{instance}.dcm"
        path.write_bytes(pacs.download(instance))
        if (
            "comparison"
            in str(pydicom.dcmread(path, stop_before_pixels=True).get("SeriesDescription", "")).lower()
        ):
            return path
        if any(f.comparison is not None for f in decode_cad_sr(pydicom.dcmread(path)).findings):
            return path
    return None


def _report(gateway: GatewayProcess, study_uid: str) -> dict[str, Any] | None:
    try:
        return gateway.get(f"/api/studies/{study_uid}/report")  # type: ignore[no-any-return]
    except Exception:
        return None


@pytest.mark.parametrize("path", ["move", "get", "dicomweb"])
def test_the_prior_comes_by_each_path_and_the_change_reaches_the_pacs_and_the_draft(
    tmp_path: Path, pair: PhantomPair, path: str
) -> None:
    files = write_study(pair.current, tmp_path / "current")
    study_uid = pair.current.truth["study_instance_uid"]
    prior_uid = pair.prior.truth["study_instance_uid"]
    with gateway_with_prior_pacs(tmp_path, path, BG_ALGORITHMS="breastgate.comparison") as (gateway, pacs):
        pacs.start()
        upload(pacs, pair.prior.datasets)
        gateway.start()
        storescu(gateway.dicom_port, files)
        received = tmp_path / "received"
        received.mkdir()
        sr = wait_for(
            lambda: _comparison_sr(pacs, study_uid, received), timeout=400, what="the comparison SR"
        )
        report = wait_for(lambda: _report(gateway, study_uid), timeout=60, what="the report draft")
        results = gateway.get(f"/api/studies/{study_uid}/results")
    assert dciodvfy(sr).errors == []
    compared = [
        (f.kind.value, f.comparison) for f in decode_cad_sr(pydicom.dcmread(sr)).findings if f.comparison
    ]
    assert any(
        kind == "mass" and c.change == ChangeKind.INCREASED and (c.size_change_mm or 0.0) > 2.0
        for kind, c in compared
    ), compared
    assert any(kind == "calcification_cluster" and c.change == ChangeKind.STABLE for kind, c in compared)
    (comparison,) = [a for a in results["algorithms"] if a["id"] == "breastgate.comparison"]
    assert comparison["priors"]["status"] == "held"
    assert comparison["priors"]["study_instance_uids"] == [prior_uid]
    assert results["density_change"]["prior_study_instance_uid"] == prior_uid
    text = json.dumps(report)
    assert "increased in size" in text and "stable" in text, text[:2000]
