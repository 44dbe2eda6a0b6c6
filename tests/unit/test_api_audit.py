"""Every mutating HTTP route writes its audit event, naming who made the change (STYLE pattern 5).

The inventory test lists the app's POST/PUT/DELETE routes: a new one fails it until it is given its
audit event here. Each route is then called with the Bearer token of a user (``users add``), and
the event it writes must carry that user as its actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from breastgate.domain.audit import AuditEvent, AuditKind
from breastgate.domain.governance import Mode
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, Finding, FindingKind, Mark
from breastgate.domain.payload import result_to_payload
from breastgate.governance import approvals
from breastgate.governance.accounts import hash_password
from breastgate.governance.audit import verify_database
from breastgate.store import audit, studies
from breastgate.store import governance as governance_store
from breastgate.store import reports as report_store
from breastgate.store import results as result_store
from breastgate.store import worklist as worklist_store
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from breastgate.worklist.ups import GLOBAL_SUBSCRIPTION
from tests.support.db import upgrade
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

STUDY = "1.2.826.0.1.3680043.8.498.71"
ALG, VER = "vendor.cad", "2.0"
WORKITEM = worklist_store.workitem_uid(STUDY)
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ROLES = ("radiologist", "ai_admin", "auditor", "technologist", "integration")
INTEGRATION_PASSWORD = "ris-password-for-tests"
BCRAT = {
    "current_age": 50, "age_at_menarche": 12, "age_at_first_live_birth": 25, "number_of_biopsies": 0,
    "atypical_hyperplasia": "unknown", "first_degree_relatives": 1, "race": "white",
}  # fmt: skip


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    db: Database

    def events(self, kind: str) -> list[AuditEvent]:
        with self.db.session() as s:
            return [e for e in audit.iter_events(s) if e.kind == kind]


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {role[:3]}-token-{'x' * 32}"}


def ups_state(value: str) -> list[dict[str, Any]]:
    """A UPS-RS state change body: Procedure Step State and the claimer's Transaction UID."""
    return [{"00741000": {"vr": "CS", "Value": [value]}, "00081195": {"vr": "UI", "Value": ["2.25.7"]}}]


def _seed(db: Database) -> None:
    mark = Mark(sop_instance_uid=f"{STUDY}.1.0", point=(100.0, 120.0), bbox=(80, 100, 120, 140), score=0.8)
    finding = Finding(id="F1", kind=FindingKind.MASS, laterality="R", score=0.8, marks=(mark,))
    result = AlgorithmResult(ALG, VER, STUDY, AlgorithmStatus.OK, findings=(finding,))
    with db.session() as s:
        studies.record_instance(
            s,
            studies.InstanceInfo(
                study_instance_uid=STUDY, series_instance_uid=f"{STUDY}.1", sop_instance_uid=f"{STUDY}.1.0",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2", path="/nowhere/0.dcm", modality="MG",
                laterality="R", view="CC", accession_number="ACC71",
            ),
        )  # fmt: skip
        result_store.save(
            s, study_instance_uid=STUDY, algorithm_id=ALG, algorithm_version=VER, status="ok",
            generation=1, payload=result_to_payload(result),
        )  # fmt: skip
        governance_store.register_version(
            s, algorithm_id=ALG, version=VER, name="Vendor CAD", manifest={"id": ALG}, available=True,
            availability="", initial_mode=Mode.INTEGRATED,
        )  # fmt: skip
        worklist_store.apply_triage(
            s, STUDY, priority="urgent", score=80.0, flags=("suspicious_finding",),
            policy="breastgate.triage@1.0.0", queue="radiologist", modality="MG", accession_number="ACC71",
            arrived_at=T0, now=T0,
        )  # fmt: skip
        report_store.save_draft(
            s, STUDY, generation=1, birads="0", density="c", text="Draft.", draft_json="{}", sr_path=None
        )
        approvals.request(s, STUDY, 1)
        for role in ROLES:
            token = bearer(role)["Authorization"].removeprefix("Bearer ")
            password = hash_password(INTEGRATION_PASSWORD) if role == "integration" else None
            governance_store.add_user(s, f"{role}-user", role, token, actor="test", password_hash=password)


@pytest.fixture(name="api")
def api_fixture(tmp_path: Path) -> Api:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    _seed(db)
    context = AppContext(db=db, version="t", ae_title="BG", dicom_port=None, workers_in_process=False)
    app = create_app(context)
    return Api(app, TestClient(app), db)


@dataclass(frozen=True)
class Case:
    """One mutating route: how to call it, as whom, and the audit event it must write."""

    method: str
    route: str  # the route's path template, as in the app
    url: str
    kind: AuditKind
    role: str = "radiologist"
    json: Any = None
    content: str | None = None
    actor: str | None = None  # default: the role's user
    study: str | None = STUDY  # the event's study

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"


CASES = (
    Case(
        "POST", "/api/studies/{study_instance_uid}/report/confirm", f"/api/studies/{STUDY}/report/confirm",
        AuditKind.REPORT_CONFIRMED, json={"density": "c"},
    ),
    Case(
        "PUT", "/api/worklist/{study_instance_uid}/status", f"/api/worklist/{STUDY}/status",
        AuditKind.WORKLIST_STATUS_CHANGED, json={"status": "in_progress"},
    ),
    Case(
        "PUT", "/api/algorithms/{algorithm_id}/versions/{version}/modes/{destination}",
        f"/api/algorithms/{ALG}/versions/{VER}/modes/api", AuditKind.MODE_CHANGED, role="ai_admin",
        json={"mode": "assistive", "reason": "committee minute 12"}, study=None,
    ),
    Case(
        "POST", "/api/studies/{study_instance_uid}/findings/{finding_id}/feedback",
        f"/api/studies/{STUDY}/findings/F1/feedback", AuditKind.FINDING_REJECTED,
        json={"action": "reject", "reason": "artifact"},
    ),
    Case(
        "POST", "/api/studies/{study_instance_uid}/approval", f"/api/studies/{STUDY}/approval",
        AuditKind.RESULT_APPROVED, json={"decision": "approve"},
    ),
    Case(
        "POST", "/api/outcomes", "/api/outcomes", AuditKind.OUTCOME_RECORDED,
        json={"study_instance_uid": STUDY, "final_birads": "1"},
    ),
    Case(
        "POST", "/api/outcomes/csv", "/api/outcomes/csv", AuditKind.OUTCOME_RECORDED, role="ai_admin",
        content=f"study_instance_uid,final_birads\n{STUDY},2\n",
    ),
    Case(
        "POST", "/api/risk/bcrat", "/api/risk/bcrat", AuditKind.RISK_RECORDED,
        json={**BCRAT, "study_instance_uid": STUDY},
    ),
    Case(
        "POST", "/api/risk/tyrer-cuzick-inputs", "/api/risk/tyrer-cuzick-inputs", AuditKind.RISK_RECORDED,
        json={"age": 45, "study_instance_uid": STUDY},
    ),
    Case(
        "PUT", "/ups-rs/workitems/{uid}/state", f"/ups-rs/workitems/{WORKITEM}/state",
        AuditKind.WORKLIST_STATUS_CHANGED,
        json=ups_state("IN PROGRESS"),
    ),
    Case(
        "POST", "/ups-rs/workitems/{uid}/cancelrequest", f"/ups-rs/workitems/{WORKITEM}/cancelrequest",
        AuditKind.WORKLIST_STATUS_CHANGED,
    ),
    Case(
        "POST", "/ups-rs/workitems/{uid}/subscribers/{ae_title}",
        f"/ups-rs/workitems/{WORKITEM}/subscribers/READER1", AuditKind.UPS_SUBSCRIBED, role="integration",
    ),
    # A read that remembers Sectra's exam number: audited as the values it served, by Sectra's user.
    Case(
        "POST", "/v1/getstructureddata/", "/v1/getstructureddata/", AuditKind.RESULT_VIEWED,
        json={"exam": {"studyUid": STUDY, "examNo": "9"}, "user": {"login": "jdoe"}}, actor="sectra:jdoe",
        role="integration",
    ),
)  # fmt: skip
#: Mutating routes whose audit event needs a set-up of its own (tested below).
OTHERS = {
    "DELETE /ups-rs/workitems/{uid}/subscribers/{ae_title}",
    "POST /dicomweb/studies",  # STOW-RS: instance.received per instance (test_dicomweb_stow.py)
    "POST /dicomweb/studies/{study}",
    "POST /api/session",  # sign-in and sign-out: tests/unit/test_access.py
    "DELETE /api/session",
    "POST /v1/getstructureddata",  # the same handler as "/v1/getstructureddata/", hidden from OpenAPI
}


def test_every_mutating_route_is_listed_with_its_audit_event(api: Api) -> None:
    mutating = {
        f"{method} {route.path}"
        for route in iter_route_contexts(api.app.routes)
        for method in (route.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert mutating == {c.id for c in CASES} | OTHERS


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_route_audits_the_change_with_its_user(api: Api, case: Case) -> None:
    before = len(api.events(case.kind))
    headers = {"content-type": "text/csv"} if case.content is not None else {}
    response = api.client.request(
        case.method, case.url, json=case.json, content=case.content, headers={**headers, **bearer(case.role)}
    )
    assert response.status_code < 300, response.text
    events = api.events(case.kind)
    assert len(events) == before + 1
    assert events[-1].actor == (case.actor or f"user:{case.role}-user")
    assert events[-1].study_instance_uid == case.study
    assert verify_database(api.db).ok


def test_worklist_status_event_names_old_and_new_status_and_the_user(api: Api) -> None:
    url = f"/api/worklist/{STUDY}/status"
    assert api.client.put(url, json={"status": "in_progress"}).status_code == 401  # nobody: nothing done
    assert api.client.put(url, json={"status": "in_progress"}, headers=bearer("auditor")).status_code == 403
    assert api.events(AuditKind.WORKLIST_STATUS_CHANGED) == []
    changed = api.client.put(url, json={"status": "in_progress"}, headers=bearer("technologist"))
    assert changed.status_code == 200
    (event,) = api.events(AuditKind.WORKLIST_STATUS_CHANGED)
    assert (event.actor, event.study_instance_uid) == ("user:technologist-user", STUDY)
    assert dict(event.data) == {
        "old_status": "scheduled", "new_status": "in_progress", "workitem_uid": WORKITEM, "via": "api",
    }  # fmt: skip


def test_no_worklist_event_when_nothing_changed_or_the_change_is_refused(api: Api) -> None:
    url = f"/api/worklist/{STUDY}/status"
    rad = bearer("radiologist")
    assert api.client.put(url, json={"status": "scheduled"}, headers=rad).status_code == 200  # already
    assert (
        api.client.put(url, json={"status": "completed"}, headers=rad).status_code == 409
    )  # not from scheduled
    assert api.client.put(url, json={"status": "in_progress"}, headers=bearer("nobody")).status_code == 401
    assert api.events(AuditKind.WORKLIST_STATUS_CHANGED) == []
    assert api.client.get(f"/api/worklist/{STUDY}", headers=rad).json()["status"] == "scheduled"


def test_ups_state_changes_are_audited_via_ups_rs(api: Api) -> None:
    path = f"/ups-rs/workitems/{WORKITEM}/state"
    claim = api.client.put(path, json=ups_state("IN PROGRESS"), headers=bearer("radiologist"))
    assert claim.status_code == 200
    # A DICOMweb client may only send Basic: a local account's name and password name it.
    wrong = {"Authorization": "Basic dXNlcjpwdw=="}
    assert api.client.put(path, json=ups_state("COMPLETED"), headers=wrong).status_code == 401
    basic = ("integration-user", INTEGRATION_PASSWORD)
    assert api.client.put(path, json=ups_state("COMPLETED"), auth=basic).status_code == 200
    claimed, completed = api.events(AuditKind.WORKLIST_STATUS_CHANGED)
    assert claimed.actor == "user:radiologist-user" and completed.actor == "user:integration-user"
    assert [(e.data["old_status"], e.data["new_status"], e.data["via"]) for e in (claimed, completed)] == [
        ("scheduled", "in_progress", "ups-rs"),
        ("in_progress", "completed", "ups-rs"),
    ]
    assert "2.25.7" not in str(claimed.data)  # the Transaction UID is the performer's, not the trail's


def test_ups_cancel_request_is_audited(api: Api) -> None:
    url = f"/ups-rs/workitems/{WORKITEM}/cancelrequest"
    assert api.client.post(url).status_code == 401
    assert api.client.post(url, headers=bearer("technologist")).status_code == 202
    (event,) = api.events(AuditKind.WORKLIST_STATUS_CHANGED)
    assert (event.actor, event.data["new_status"], event.data["via"]) == (
        "user:technologist-user",
        "canceled",
        "ups-rs cancelrequest",
    )


def test_ups_subscriptions_are_audited(api: Api) -> None:
    one = f"/ups-rs/workitems/{WORKITEM}/subscribers/READER2"
    every = f"/ups-rs/workitems/{GLOBAL_SUBSCRIPTION}/subscribers/READER3"
    system, admin = bearer("integration"), bearer("ai_admin")
    assert api.client.post(every).status_code == 401
    assert api.client.post(every, headers=bearer("radiologist")).status_code == 403
    assert api.client.post(f"{one}?deletionlock=true", headers=system).status_code == 201
    assert api.client.post(every, headers=admin).status_code == 201
    assert api.client.delete(one, headers=admin).status_code == 200
    assert api.client.delete(one, headers=admin).status_code == 404  # gone: nothing to audit
    assert api.client.delete(every, headers=system).status_code == 200
    subscribed = api.events(AuditKind.UPS_SUBSCRIBED)
    unsubscribed = api.events(AuditKind.UPS_UNSUBSCRIBED)
    assert [(e.actor, e.subject, e.study_instance_uid, dict(e.data)) for e in subscribed] == [
        ("user:integration-user", "READER2", STUDY,
         {"ae_title": "READER2", "workitem_uid": WORKITEM, "deletion_lock": True}),
        ("user:ai_admin-user", "READER3", None,
         {"ae_title": "READER3", "workitem_uid": GLOBAL_SUBSCRIPTION, "deletion_lock": False}),
    ]  # fmt: skip
    assert [(e.actor, e.subject, e.study_instance_uid) for e in unsubscribed] == [
        ("user:ai_admin-user", "READER2", STUDY),
        ("user:integration-user", "READER3", None),
    ]


def test_risk_is_audited_only_when_stored_and_without_the_answers(api: Api) -> None:
    api.client.headers.update(bearer("technologist"))
    assert api.client.post("/api/risk/bcrat", json=BCRAT).status_code == 200
    assert api.events(AuditKind.RISK_RECORDED) == []  # computed, not stored: nothing changed
    stored = api.client.post("/api/risk/bcrat", json={**BCRAT, "study_instance_uid": STUDY})
    assert stored.status_code == 200 and stored.json()["stored"] is True
    (event,) = api.events(AuditKind.RISK_RECORDED)
    assert event.actor == "user:technologist-user" and event.subject == "breastgate.risk.bcrat@1.0.0"
    assert set(event.data) == {"algorithm_id", "version", "status", "generation", "output_digest"}
    assert len(event.data["output_digest"]) == 64
    assert api.client.post("/api/risk/bcrat", json={**BCRAT, "study_instance_uid": "9.9"}).status_code == 404
    assert len(api.events(AuditKind.RISK_RECORDED)) == 1
