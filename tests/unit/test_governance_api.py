"""Governance over HTTP on a real SQLite database: roles, modes, feedback, approval, outcomes, audit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Destination, Mode
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, Finding, FindingKind, Mark, RiskEstimate
from breastgate.domain.payload import result_to_payload
from breastgate.governance import approvals
from breastgate.governance.audit import verify_database
from breastgate.store import audit, outbox, studies
from breastgate.store import governance as governance_store
from breastgate.store import results as result_store
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from tests.support.db import upgrade
from tests.support.identity import grant
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

STUDY = "1.2.826.0.1.3680043.8.498.7"
ALG, VER = "vendor.cad", "2.0"


@dataclass
class Api:
    client: TestClient  # a radiologist by default
    db: Database
    tokens: dict[str, str]
    anonymous: TestClient

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def api(tmp_path: Path) -> Api:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    finding = Finding(
        id="F1",
        kind=FindingKind.MASS,
        laterality="R",
        score=0.8,
        marks=(
            Mark(sop_instance_uid=f"{STUDY}.1.0", point=(100.0, 120.0), bbox=(80, 100, 120, 140), score=0.8),
        ),
    )
    result = AlgorithmResult(
        ALG, VER, STUDY, AlgorithmStatus.OK, findings=(finding,), operating_threshold=0.5
    )
    tokens = {"radiologist": "r" * 40, "ai_admin": "a" * 40, "auditor": "u" * 40}
    with db.session() as s:
        studies.record_instance(
            s,
            studies.InstanceInfo(
                study_instance_uid=STUDY,
                series_instance_uid=STUDY + ".1",
                sop_instance_uid=f"{STUDY}.1.0",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2",
                path="/nowhere/0.dcm",
                modality="MG",
                laterality="R",
                view="CC",
                presentation_intent="FOR PRESENTATION",
                accession_number="ACC7",
            ),
        )
        result_store.save(
            s,
            study_instance_uid=STUDY,
            algorithm_id=ALG,
            algorithm_version=VER,
            status="ok",
            generation=1,
            payload=result_to_payload(result),
        )
        governance_store.register_version(
            s,
            algorithm_id=ALG,
            version=VER,
            name="Vendor CAD",
            manifest={"id": ALG},
            available=True,
            availability="",
            initial_mode=Mode.SILENT,
        )
        for role, token in tokens.items():
            governance_store.add_user(s, f"{role}-user", role, token, actor="test")
    context = AppContext(
        db=db, version="test", ae_title="BREASTGATE", dicom_port=None, workers_in_process=False
    )
    app = create_app(context)
    return Api(grant(TestClient(app), db, "radiologist", name="reader"), db, tokens, TestClient(app))


def put_mode(
    api: Api, mode: str, role: str | None = "ai_admin", destination: str = "*", **extra: object
) -> int:
    headers = api.headers(role) if role else {}
    response = (api.client if role else api.anonymous).put(
        f"/api/algorithms/{ALG}/versions/{VER}/modes/{destination}",
        json={"mode": mode, "reason": "committee minute 12", **extra},
        headers=headers,
    )
    return response.status_code


def test_new_version_is_silent_everywhere_and_hidden(api: Api) -> None:
    item = api.client.get("/api/algorithms").json()["items"][0]
    assert {d: m["mode"] for d, m in item["modes"].items()} == {d.value: "silent" for d in Destination}
    body = api.client.get(f"/api/studies/{STUDY}/results").json()
    assert body["findings"] == [] and body["governance"]["hidden"] == 1
    assert api.client.get(f"/api/studies/{STUDY}/results?include_silent=true").status_code == 403
    silent = api.client.get(
        f"/api/studies/{STUDY}/results?include_silent=true", headers=api.headers("auditor")
    ).json()
    assert [f["id"] for f in silent["findings"]] == ["F1"]


def test_mode_change_is_role_restricted_reasoned_and_audited(api: Api) -> None:
    assert put_mode(api, "assistive", role=None) == 401
    assert put_mode(api, "assistive", role="radiologist") == 403
    bad = api.client.put(
        f"/api/algorithms/{ALG}/versions/{VER}/modes/api",
        json={"mode": "assistive"},
        headers=api.headers("ai_admin"),
    )
    assert bad.status_code == 422
    assert (
        api.client.put(
            f"/api/algorithms/{ALG}/versions/{VER}/modes/api",
            json={"mode": "assistive", "reason": "ok"},
            headers={"Authorization": "Bearer wrong"},
        ).status_code
        == 401
    )
    assert put_mode(api, "assistive", destination="nowhere") == 422
    assert put_mode(api, "assistive", destination="api") == 200
    body = api.client.get(f"/api/studies/{STUDY}/results").json()
    assert [f["id"] for f in body["findings"]] == ["F1"]
    with api.db.session() as s:
        changes = [
            e
            for e in audit.iter_events(s)
            if e.kind == AuditKind.MODE_CHANGED and e.actor.startswith("user:")
        ]
        viewed = [e for e in audit.iter_events(s) if e.kind == AuditKind.RESULT_VIEWED]
    assert len(changes) == 1 and changes[0].data["new_mode"] == "assistive"
    assert changes[0].data["old_mode"] == "silent" and changes[0].data["reason"] == "committee minute 12"
    assert changes[0].actor == "user:ai_admin-user"
    assert viewed and viewed[-1].data["algorithms"] == [f"{ALG}@{VER}"]
    assert verify_database(api.db).ok


def test_feedback_accept_reject_modify(api: Api) -> None:
    put_mode(api, "assistive", destination="api")
    url = f"/api/studies/{STUDY}/findings/F1/feedback"
    assert api.anonymous.post(url, json={"action": "accept"}).status_code == 401
    assert api.client.post(url, json={"action": "accept"}, headers=api.headers("auditor")).status_code == 403
    rad = api.headers("radiologist")
    assert api.client.post(url, json={"action": "reject"}, headers=rad).status_code == 422  # no reason
    assert api.client.post(url, json={"action": "reject", "reason": "other"}, headers=rad).status_code == 422
    assert api.client.post(url, json={"action": "modify"}, headers=rad).status_code == 422
    assert (
        api.client.post(
            url, json={"action": "modify", "modification": {"bbox": [10, 10, 5, 20]}}, headers=rad
        ).status_code
        == 422
    )
    unknown = api.client.post(
        f"/api/studies/{STUDY}/findings/F9/feedback", json={"action": "accept"}, headers=rad
    )
    assert unknown.status_code == 404
    assert api.client.post(url, json={"action": "accept"}, headers=rad).status_code == 201
    rejected = api.client.post(
        url,
        json={"action": "reject", "reason": "benign_finding", "comment": "stable lymph node"},
        headers=rad,
    )
    assert rejected.status_code == 201 and rejected.json()["reason"] == "benign_finding"
    modified = api.client.post(
        url,
        json={
            "action": "modify",
            "modification": {"point": [110, 125], "bbox": [90, 105, 130, 145], "birads": "4"},
        },
        headers=rad,
    )
    assert modified.status_code == 201
    finding = api.client.get(f"/api/studies/{STUDY}/results").json()["findings"][0]
    assert finding["feedback"]["action"] == "modify"
    assert finding["feedback"]["modification"] == {
        "point": [110, 125],
        "bbox": [90, 105, 130, 145],
        "birads": "4",
    }
    assert [h["action"] for h in finding["feedback_history"]] == ["accept", "reject", "modify"]
    with api.db.session() as s:
        kinds = [e.kind for e in audit.for_study(s, STUDY)]
    assert (
        kinds.count("finding.accepted")
        == kinds.count("finding.rejected")
        == kinds.count("finding.modified")
        == 1
    )


def owe(session: Session, sop: str) -> None:
    outbox.enqueue(
        session,
        destination="PACS@h:104",
        kind="dicom",
        sop_instance_uid=sop,
        study_instance_uid=STUDY,
        path="/x",
        held=True,
    )


def test_approval_releases_or_withholds_held_objects(api: Api) -> None:
    with api.db.session() as s:
        for sop in ("1.2.3.1", "1.2.3.2"):
            owe(s, sop)
        approvals.request(s, STUDY, 1)
        assert outbox.claim_due(s, owner="w") == []  # held rows are never claimed
    url = f"/api/studies/{STUDY}/approval"
    pending = api.client.get(url).json()
    assert (pending["generation"], pending["state"], pending["held_objects"]) == (1, "pending", 2)
    assert pending["decided_by"] is None and pending["decided_at"] is None
    assert (
        api.client.post(url, json={"decision": "approve"}, headers=api.headers("ai_admin")).status_code == 403
    )
    assert (
        api.client.post(url, json={"decision": "withhold"}, headers=api.headers("radiologist")).status_code
        == 409
    )
    approved = api.client.post(url, json={"decision": "approve"}, headers=api.headers("radiologist"))
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    with api.db.session() as s:
        assert {e.state.value for e in outbox.list_items(s, study=STUDY)} == {"pending"}
        events = [e for e in audit.for_study(s, STUDY) if e.kind == AuditKind.RESULT_APPROVED]
    assert events[0].data["objects"] == 2
    assert (
        api.client.post(url, json={"decision": "approve"}, headers=api.headers("radiologist")).status_code
        == 409
    )


def test_withheld_objects_are_never_sent(api: Api) -> None:
    with api.db.session() as s:
        owe(s, "9.9")
        approvals.request(s, STUDY, 1)
    response = api.client.post(
        f"/api/studies/{STUDY}/approval",
        json={"decision": "withhold", "reason": "artefact on every view"},
        headers=api.headers("radiologist"),
    )
    assert response.status_code == 200 and response.json()["state"] == "withheld"
    with api.db.session() as s:
        assert [e.state.value for e in outbox.list_items(s, study=STUDY)] == ["withheld"]
        assert outbox.claim_due(s, owner="w") == []


def test_outcomes_one_and_csv(api: Api) -> None:
    rad = api.headers("radiologist")
    assert (
        api.anonymous.post(
            "/api/outcomes", json={"study_instance_uid": STUDY, "outcome": "cancer"}
        ).status_code
        == 401
    )
    assert api.client.post("/api/outcomes", json={"outcome": "cancer"}, headers=rad).status_code == 422
    done = api.client.post(
        "/api/outcomes",
        json={
            "source": "pathology",
            "accession_number": "ACC7",
            "outcome": "cancer",
            "pathology": "IDC grade 2",
        },
        headers=rad,
    )
    assert done.status_code == 201
    csv_text = "accession_number,final_birads,density\nACC7,4,c\nACC8,1,b\n"
    assert api.client.post("/api/outcomes/csv", content=csv_text, headers=rad).status_code == 403
    bad = api.client.post(
        "/api/outcomes/csv",
        content="accession_number,final_birads\nACC9,9\n",
        headers=api.headers("ai_admin"),
    )
    assert bad.status_code == 422 and "line 2" in bad.json()["title"]
    ok = api.client.post("/api/outcomes/csv", content=csv_text, headers=api.headers("ai_admin"))
    assert ok.json() == {"imported": 2}
    body = api.client.get(f"/api/studies/{STUDY}/outcomes", headers=api.headers("auditor")).json()
    assert len(body["items"]) == 2  # matched by accession number
    assert body["truth"] == {"cancer": True, "final_birads": "4", "density": "c"}


def test_audit_read_is_for_auditors_and_is_itself_audited(api: Api) -> None:
    assert api.anonymous.get("/api/audit").status_code == 401
    assert api.client.get("/api/audit", headers=api.headers("radiologist")).status_code == 403
    body = api.client.get("/api/audit?limit=3", headers=api.headers("auditor")).json()
    assert [e["seq"] for e in body["items"]] == [1, 2, 3]
    verify = api.client.get("/api/audit/verify", headers=api.headers("auditor")).json()
    assert verify["ok"] is True and verify["events"] >= 4
    with api.db.session() as s:
        assert any(e.kind == AuditKind.AUDIT_READ for e in audit.iter_events(s))


def test_questionnaire_risk_results_are_not_gated(api: Api) -> None:
    estimate = RiskEstimate(model="NCI BCRAT", five_year_pct=1.9, lifetime_pct=24.1)
    risk = AlgorithmResult("breastgate.risk.bcrat", "1.0.0", STUDY, AlgorithmStatus.OK, risk=estimate)
    with api.db.session() as s:
        result_store.save(
            s,
            study_instance_uid=STUDY,
            algorithm_id=risk.algorithm_id,
            algorithm_version=risk.algorithm_version,
            status="ok",
            generation=1,
            payload=result_to_payload(risk),
        )
    body = api.client.get(f"/api/studies/{STUDY}/results").json()
    assert body["risk"]["five_year_pct"] == 1.9  # shown although nothing is promoted
    assert body["findings"] == [] and body["governance"]["hidden"] == 1  # the image AI stays silent
