"""``GET /api/patients/{patient_id}/lesions`` and cross-study ``correlated_with`` (issue 19): the
real app on a real SQLite store, results written through the store as the pipeline writes them.

One woman: a mammogram (mass L 10 o'clock 48 mm, triangulated; a calcification cluster seen on
one view only, so without a clock), an ultrasound 4 days later (the same mass at 10 o'clock 4 cm,
and an unrelated small lesion at 6 o'clock) and an MRI (the same mass, and an unrelated
enhancement in the right breast, from a version the gate keeps silent). Another woman's
ultrasound holds a lesion at the very same place and never joins.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from breastgate.domain.governance import Destination, Mode
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    Finding,
    FindingKind,
    FindingLocation,
    Mark,
)
from breastgate.domain.orders import PatientDemographics, PatientMerge
from breastgate.domain.payload import result_to_payload
from breastgate.store import audit, results, studies
from breastgate.store import governance as governance_store
from breastgate.store import orders as order_store
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.api.schemas.lesions import LesionTable
from breastgate.web.app import create_app
from tests.support.identity import grant

MG, US, MR, OTHER = "1.2.826.0.1.19.1", "1.2.826.0.1.19.2", "1.2.826.0.1.19.3", "1.2.826.0.1.19.9"
AUDITOR = "a" * 40


def _finding(
    fid: str, kind: FindingKind, side: str, clock: int | None, distance: float, size: float
) -> Finding:
    mark = Mark(sop_instance_uid=f"{fid}.1", point=(10.0, 10.0), bbox=(5.0, 5.0, 15.0, 15.0), score=0.8)
    location = FindingLocation(clock=clock, depth="middle", distance_from_nipple_mm=distance)
    return Finding(fid, kind, side, 0.8, (mark,), size_mm=size, location=location)


def _store(
    db: Database,
    uid: str,
    patient: str,
    modality: str,
    day: str,
    algorithm: str,
    *found: Finding,
    issuer: str | None = None,
) -> None:
    with db.session() as s:
        info = studies.InstanceInfo(
            study_instance_uid=uid, series_instance_uid=f"{uid}.1", sop_instance_uid=f"{uid}.1.1",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2", path=f"/nonexistent/{uid}.dcm", modality=modality,
            patient_id=patient, study_date=day, issuer_of_patient_id=issuer,
        )  # fmt: skip
        studies.record_instance(s, info)
        result = AlgorithmResult(
            algorithm, "1.0.0", uid, AlgorithmStatus.OK, findings=found, operating_threshold=0.5
        )
        results.save(
            s, study_instance_uid=uid, algorithm_id=algorithm, algorithm_version="1.0.0", status="ok",
            generation=1, payload=result_to_payload(result),
        )  # fmt: skip


@pytest.fixture
def client(db: Database) -> TestClient:
    mass = FindingKind.MASS
    _store(
        db, MG, "P1", "MG", "20250106", "breastgate.masses",
        _finding("mass-1", mass, "L", 10, 48.0, 15.0),
        _finding("calc-1", FindingKind.CALCIFICATION_CLUSTER, "L", None, 30.0, 8.0),
    )  # fmt: skip
    _store(
        db, US, "P1", "US", "20250110", "breastgate.ultrasound",
        _finding("us-1", FindingKind.US_LESION, "L", 10, 40.0, 13.0),
        _finding("us-2", FindingKind.US_LESION, "L", 6, 20.0, 5.0),
    )  # fmt: skip
    _store(
        db,
        MR,
        "P1",
        "MR",
        "20250120",
        "breastgate.kinetics",
        _finding("kinetics-1", FindingKind.ENHANCING_LESION, "L", 10, 44.0, 14.0),
    )
    _store(
        db,
        MR,
        "P1",
        "MR",
        "20250120",
        "vendor.silentmr",
        _finding("x-1", FindingKind.ENHANCING_LESION, "R", 2, 30.0, 9.0),
    )
    _store(
        db,
        OTHER,
        "P2",
        "US",
        "20250110",
        "breastgate.ultrasound",
        _finding("us-1", FindingKind.US_LESION, "L", 10, 45.0, 14.0),
    )
    with db.session() as s:
        governance_store.set_mode(
            s, algorithm_id="vendor.silentmr", version="1.0.0", destination=Destination.API, mode=Mode.SILENT,
            actor="test", reason="test",
        )  # fmt: skip
        governance_store.add_user(s, "auditor-user", "auditor", AUDITOR, actor="test")
    context = AppContext(
        db=db, version="test", ae_title="BREASTGATE", dicom_port=None, workers_in_process=False,
        initial_mode=Mode.ASSISTIVE,
    )  # fmt: skip
    return grant(TestClient(create_app(context)), db, "radiologist")


def _table(client: TestClient, patient: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/patients/{patient}/lesions", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    LesionTable.model_validate(body)
    return body


def _groups(body: dict[str, Any]) -> list[set[str]]:
    return [{f"{f['study_instance_uid']}/{f['finding_id']}" for f in x["findings"]} for x in body["lesions"]]


def test_the_lesion_table_links_one_mass_across_mammography_ultrasound_and_mri(client: TestClient) -> None:
    body = _table(client, "P1")
    assert body["schema"] == "breastgate.lesions/1" and body["patient_id"] == "P1"
    assert [s["study_instance_uid"] for s in body["studies"]] == [MG, US, MR]
    groups = _groups(body)
    assert {f"{MG}/mass-1", f"{US}/us-1", f"{MR}/kinetics-1"} in groups
    assert {f"{US}/us-2"} in groups and len(groups) == 2
    lesion = next(x for x in body["lesions"] if len(x["findings"]) == 3)
    assert lesion["laterality"] == "L"
    assert [f["modality"] for f in lesion["findings"]] == ["MG", "US", "MR"]
    assert [f["study_date"] for f in lesion["findings"]] == ["20250106", "20250110", "20250120"]
    mg = lesion["findings"][0]
    assert (
        mg["algorithm"] == "breastgate.masses" and mg["clock"] == 10 and mg["distance_from_nipple_mm"] == 48.0
    )
    assert mg["kind"] == "mass" and mg["size_mm"] == 15.0
    assert len(lesion["links"]) == 3
    link = next(x for x in lesion["links"] if x["a"] == f"{MG}/mass-1" and x["b"] == f"{US}/us-1")
    evidence = link["evidence"]
    assert evidence["modalities"] == ["MG", "US"] and evidence["kinds"] == ["mass", "us_lesion"]
    assert evidence["days_apart"] == 4 and evidence["size_ratio"] == pytest.approx(15 / 13, abs=0.01)
    assert 0 < evidence["frame_distance_mm"] < 15 and evidence["normalised_distance"] < 1.5
    # the one-view calcification cluster has no clock: listed apart, with why
    assert [(u["finding_id"], u["modality"]) for u in body["unplaced"]] == [("calc-1", "MG")]
    assert "one view" in body["unplaced"][0]["reason"]


def test_another_womans_study_never_joins_and_silent_results_stay_out(
    client: TestClient, db: Database
) -> None:
    body = _table(client, "P1")
    refs = {r for g in _groups(body) for r in g} | {
        f"{u['study_instance_uid']}/{u['finding_id']}" for u in body["unplaced"]
    }
    assert not any(r.startswith(OTHER) for r in refs)
    assert f"{MR}/x-1" not in refs  # silent at api: the results route does not show it either
    other = _table(client, "P2")
    assert _groups(other) == [{f"{OTHER}/us-1"}] and other["lesions"][0]["links"] == []
    # an auditor asking for silent results sees the silent finding (right breast: its own lesion)
    response = client.get(
        "/api/patients/P1/lesions",
        params={"include_silent": "true"},
        headers={"Authorization": f"Bearer {AUDITOR}"},
    )
    assert response.status_code == 200 and {f"{MR}/x-1"} in _groups(response.json())
    assert client.get("/api/patients/P1/lesions", params={"include_silent": "true"}).status_code == 403
    with db.session() as s:  # viewing is audited per study
        viewed = [e for e in audit.for_study(s, US) if e.kind == "result.viewed"]
    assert viewed and viewed[0].data["view"] == "lesion table"


def test_unknown_patient_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/api/patients/NOBODY/lesions")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "Patient not found"


def test_a_merged_patient_id_brings_its_studies(client: TestClient, db: Database) -> None:
    with db.session() as s:
        order_store.merge_patients(
            s, PatientMerge(PatientDemographics(patient_id="P1"), prior_patient_id="P1-OLD")
        )
    _store(
        db,
        "1.2.826.0.1.19.4",
        "P1-OLD",
        "US",
        "20240110",
        "breastgate.ultrasound",
        _finding("us-1", FindingKind.US_LESION, "L", 10, 40.0, 12.0),
    )
    body = _table(client, "P1-OLD")  # the retired id answers with the survivor's table
    assert body["patient_id"] == "P1"
    assert any({f"{MG}/mass-1", "1.2.826.0.1.19.4/us-1"} <= g for g in _groups(body))


def test_results_name_the_same_lesion_in_other_studies(client: TestClient) -> None:
    findings = {f["id"]: f for f in client.get(f"/api/studies/{MG}/results").json()["findings"]}
    assert findings["mass-1"]["correlated_with"] == [f"{US}/us-1", f"{MR}/kinetics-1"]
    assert findings["calc-1"]["correlated_with"] == []
    us = {f["id"]: f for f in client.get(f"/api/studies/{US}/results").json()["findings"]}
    assert us["us-1"]["correlated_with"] == [f"{MG}/mass-1", f"{MR}/kinetics-1"]
    assert us["us-2"]["correlated_with"] == []
    other = client.get(f"/api/studies/{OTHER}/results").json()["findings"]
    assert other[0]["correlated_with"] == []


def test_one_id_under_two_issuers_is_two_women(client: TestClient, db: Database) -> None:
    lesion = ("us-1", FindingKind.US_LESION, "L", 10, 40.0, 12.0)
    _store(
        db,
        "1.2.826.0.1.19.5",
        "P3",
        "US",
        "20250110",
        "breastgate.ultrasound",
        _finding(*lesion),
        issuer="HOSP-A",
    )
    _store(
        db,
        "1.2.826.0.1.19.6",
        "P3",
        "US",
        "20250210",
        "breastgate.ultrasound",
        _finding(*lesion),
        issuer="HOSP-B",
    )
    _store(
        db,
        "1.2.826.0.1.19.7",
        "P3",
        "US",
        "20250310",
        "breastgate.ultrasound",
        _finding(*lesion),
        issuer="HOSP-A",
    )
    body = _table(client, "P3")
    assert sorted(len(g) for g in _groups(body)) == [1, 2]
    assert {"1.2.826.0.1.19.5/us-1", "1.2.826.0.1.19.7/us-1"} in _groups(body)
