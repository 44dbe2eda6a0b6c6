"""Worklist end to end: two normal screening studies arrive, then one with a calcification cluster;
the suspicious one goes to the top of the reading list, the normals keep their arrival order.
Real ``breastgate serve`` and dcmtk ``storescu``."""

from __future__ import annotations

from pathlib import Path

import pytest

from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from tests.support.gateway import GatewayProcess, storescu, wait_for

pytestmark = [pytest.mark.peers, pytest.mark.slow]


def _files(folder: Path, seed: int, lesions: list[LesionRequest] | None = None) -> tuple[list[Path], str]:
    study = generate_mg_study(seed, category="b", vendor="profile-b-100um", lesions=lesions or [])
    folder.mkdir(parents=True)
    paths = []
    for i, ds in enumerate(study.datasets):
        paths.append(folder / f"{i}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths, str(study.truth["study_instance_uid"])


def test_a_suspicious_study_rises_above_earlier_normals(tmp_path: Path) -> None:
    normal1, uid1 = _files(tmp_path / "n1", 4401)
    normal2, uid2 = _files(tmp_path / "n2", 4402)
    cluster = [LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="L")]
    suspicious, uid3 = _files(tmp_path / "s", 4310, cluster)
    gateway = GatewayProcess(tmp_path / "gw", BG_ALGORITHMS="breastgate.density,breastgate.calcifications")
    gateway.start()
    try:
        for files in (normal1, normal2, suspicious):
            storescu(gateway.dicom_port, files)

        def three() -> list[dict[str, object]] | None:
            rows: list[dict[str, object]] = gateway.get("/api/worklist")["items"]
            return rows if len(rows) == 3 else None

        items = wait_for(three, timeout=240, what="three studies on the worklist")
        urgent = gateway.get("/api/worklist?flag=suspicious_finding")["items"]
    finally:
        gateway.stop()
    assert [i["study_instance_uid"] for i in items] == [uid3, uid1, uid2]
    assert [i["priority"] for i in items] == ["urgent", "routine", "routine"]
    assert "suspicious_finding" in items[0]["flags"] and items[0]["score"] >= 50
    assert all(i["policy"] == "breastgate.triage@1.0.0" and i["status"] == "scheduled" for i in items)
    assert [i["study_instance_uid"] for i in urgent] == [uid3]
