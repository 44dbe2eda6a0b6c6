"""Typed read routes answer the bodies they built before their response models (the routes the
other API tests do not call): orders, the report draft, approval, feedback, outcomes, audit, the
Sectra compatibility probe. ``same_bodies`` compares each typed answer with the untyped one."""

from __future__ import annotations

from typing import Any

import pytest

from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, DensityAssessment
from breastgate.domain.orders import Order, PatientDemographics
from breastgate.pipeline.publish.report import DraftOutput
from breastgate.reporting.draft import build_draft, render_text
from breastgate.results.json import build_results
from breastgate.store import reports as report_store
from breastgate.store import studies
from breastgate.store.orders import record_order
from tests.support.responses import BodyCheck, same_bodies_fixture  # noqa: F401 - fixture
from tests.unit.test_api_audit import STUDY, Api, api_fixture, bearer  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("same_bodies")

OTHER = "1.2.826.0.1.3680043.8.498.72"  # a study with no approval to wait for


def _draft_json() -> str:
    result = AlgorithmResult(
        "breastgate.density", "1.1.0", STUDY, AlgorithmStatus.OK, density=DensityAssessment("c", 51.5)
    )
    draft = build_draft(build_results(STUDY, [result]))
    return DraftOutput(draft, render_text(draft), None).draft_json()


def _get(api: Api, path: str, role: str = "radiologist", **params: Any) -> Any:
    response = api.client.get(path, params=params, headers=bearer(role))
    assert response.status_code == 200, response.text
    return response.json()


def test_read_routes_answer_the_bodies_they_built(api: Api, same_bodies: BodyCheck) -> None:
    with api.db.session() as s:
        patient = PatientDemographics("P71", name="DOE^JANE")
        record_order(s, Order(patient, "NW", accession_number="ACC71", placer_order_number="O71"))
        other = studies.InstanceInfo(
            study_instance_uid=OTHER, series_instance_uid=f"{OTHER}.1", sop_instance_uid=f"{OTHER}.1.1",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2", path="/nowhere/1.dcm", modality="MG",
        )  # fmt: skip
        studies.record_instance(s, other)
        report_store.save_draft(
            s,
            STUDY,
            generation=2,
            birads="1",
            density="c",
            text="Draft.",
            draft_json=_draft_json(),
            sr_path=None,
        )
    assert [o["accession_number"] for o in _get(api, f"/api/studies/{STUDY}/orders")["items"]] == ["ACC71"]
    assert _get(api, "/api/orders", accession_number="ACC71")["items"][0]["patient_id"] == "P71"
    report = _get(api, f"/api/studies/{STUDY}/report")
    assert report["draft"]["composition_category"] == "c" and report["draft_sr"] is False
    assert _get(api, f"/api/studies/{STUDY}/approval")["state"] == "pending"
    no_approval = api.client.get("/api/studies/9.9/approval", headers=bearer("radiologist"))
    assert no_approval.status_code == 404  # a study breastgate does not have
    assert _get(api, f"/api/studies/{OTHER}/approval") == {"state": "not_required"}  # no null keys added
    feedback = {"action": "modify", "modification": {"birads": "3"}}
    url = f"/api/studies/{STUDY}/findings/F1/feedback"
    assert api.client.post(url, json=feedback, headers=bearer("radiologist")).status_code == 201
    assert _get(api, f"/api/studies/{STUDY}/feedback")["items"][0]["modification"] == {"birads": "3"}
    outcome = {"study_instance_uid": STUDY, "outcome": "benign", "laterality": "R"}
    assert api.client.post("/api/outcomes", json=outcome, headers=bearer("radiologist")).status_code == 201
    outcomes = _get(api, f"/api/studies/{STUDY}/outcomes", "auditor")
    assert outcomes["truth"] == {"cancer": False, "final_birads": None, "density": None}
    assert _get(api, "/api/audit", "auditor", study=STUDY)["items"]
    assert _get(api, "/api/audit", "auditor", after=0, limit=3)["items"][0]["seq"] == 1
    assert _get(api, "/api/audit/verify", "auditor")["ok"] is True
    assert set(_get(api, "/v1/getStructuredDataCompability", "integration")) == {"Uid", "Version"}
    me = _get(api, "/api/session", "technologist")
    assert me == {"user": "technologist-user", "roles": ["technologist"], "via": "token"}
    assert same_bodies.checked >= 13
