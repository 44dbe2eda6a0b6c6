"""The REST API on a real SQLite database (FastAPI TestClient, no server process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from breastgate.domain.governance import Mode
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, BreastDensity, DensityAssessment
from breastgate.domain.payload import result_to_payload
from breastgate.jobs import ledger
from breastgate.store import results as result_store
from breastgate.store import studies
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from tests.support.db import upgrade
from tests.support.identity import grant
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

STUDY = "1.2.826.0.1.3680043.8.498.1"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        for n, (lat, view) in enumerate([("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]):
            studies.record_instance(
                s,
                studies.InstanceInfo(
                    study_instance_uid=STUDY,
                    series_instance_uid=STUDY + ".1",
                    sop_instance_uid=f"{STUDY}.1.{n}",
                    sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2",
                    path=f"/nowhere/{n}.dcm",
                    modality="MG",
                    laterality=lat,
                    view=view,
                    presentation_intent="FOR PRESENTATION",
                    patient_name="DOE^JANE",
                ),
            )
        job_id = ledger.schedule(s, STUDY, "breastgate.density", 1)
        ledger.claim(s, job_id, "w", 60)
        ledger.complete(s, job_id, "w")
        result = AlgorithmResult(
            algorithm_id="breastgate.density",
            algorithm_version="1.0.0",
            study_instance_uid=STUDY,
            status=AlgorithmStatus.OK,
            density=DensityAssessment(
                "c", 45.0, {"L": BreastDensity("L", "c", 47.0), "R": BreastDensity("R", "c", 43.0)}
            ),
        )
        result_store.save(
            s,
            study_instance_uid=STUDY,
            algorithm_id=result.algorithm_id,
            algorithm_version=result.algorithm_version,
            status="ok",
            generation=1,
            payload=result_to_payload(result),
        )
    context = AppContext(
        db=db,
        version="test",
        ae_title="BREASTGATE",
        dicom_port=11112,
        workers_in_process=True,
        initial_mode=Mode.ASSISTIVE,  # the results contract is what an assistive algorithm shows
    )
    return grant(TestClient(create_app(context)), db)


def test_health_reports_jobs_and_outbox(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["jobs"] == {"done": 1}
    assert body["outbox"] == {"pending": 0, "sent": 0, "failed": 0, "held": 0, "withheld": 0}


def test_studies_list_state_and_jobs_without_patient_names(client: TestClient) -> None:
    response = client.get("/api/studies")
    assert response.status_code == 200
    (study,) = response.json()["items"]
    assert study["study_instance_uid"] == STUDY
    assert study["state"] == "receiving"
    assert study["instance_count"] == 4
    assert [j["state"] for j in study["jobs"]] == ["done"]
    assert "DOE" not in response.text


def test_results_follow_the_contract(client: TestClient) -> None:
    body = client.get(f"/api/studies/{STUDY}/results").json()
    assert body["schema"] == "breastgate.results/1"
    assert body["density"]["category"] == "c"
    assert body["density"]["per_breast"]["L"]["percent_dense"] == 47.0
    assert body["algorithms"] == [
        {"id": "breastgate.density", "version": "1.0.0", "status": "ok", "message": "", "model_card": None}
    ]
    assert body["findings"] == []


def test_unknown_study_is_a_problem_json_404(client: TestClient) -> None:
    response = client.get("/api/studies/9.9.9/results")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "Study not found"
