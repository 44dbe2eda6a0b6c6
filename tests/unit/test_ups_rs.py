"""UPS-RS over the worklist (FastAPI TestClient on a real SQLite database): search in worklist
order, retrieve, claim / complete with a Transaction UID, cancel requests, subscriptions and event
reports on the WebSocket channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from breastgate.store import studies
from breastgate.store import worklist as wl
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from breastgate.worklist.ups import GLOBAL_SUBSCRIPTION
from tests.support.identity import grant
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
POLICY = "breastgate.triage@1.0.0"


@pytest.fixture
def client(db: Database) -> TestClient:
    app = create_app(AppContext(db=db, version="t", ae_title="BG", dicom_port=None, workers_in_process=False))
    return grant(TestClient(app), db)


def _put(db: Database, uid: str, priority: str, flags: tuple[str, ...], minutes: int) -> str:
    with db.session() as s:
        studies.record_instance(
            s,
            studies.InstanceInfo(
                study_instance_uid=uid, series_instance_uid=uid + ".1", sop_instance_uid=uid + ".1.1",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2", path="/x.dcm", modality="MG",
                patient_id=f"P{uid}", patient_name="DOE^JANE", accession_number=f"A{uid}",
            ),
        )  # fmt: skip
        wl.apply_triage(
            s, uid, priority=priority, score=80.0 if priority == "urgent" else 3.0, flags=flags,
            policy=POLICY, queue="radiologist", modality="MG", accession_number=f"A{uid}",
            arrived_at=T0 + timedelta(minutes=minutes), now=T0 + timedelta(minutes=minutes),
        )  # fmt: skip
    return wl.workitem_uid(uid)


def _v(obj: dict[str, Any], tag: str) -> Any:
    return obj[tag]["Value"][0]


def test_search_is_in_worklist_order_with_ups_priorities(db: Database, client: TestClient) -> None:
    routine = _put(db, "1.1", "routine", (), 0)
    urgent = _put(db, "1.2", "urgent", ("suspicious_finding",), 5)
    found = client.get("/ups-rs/workitems")
    assert found.status_code == 200 and found.headers["content-type"] == "application/dicom+json"
    items = found.json()
    assert [_v(i, "00080018") for i in items] == [urgent, routine]
    assert [_v(i, "00741200") for i in items] == ["MEDIUM", "LOW"]
    assert {_v(i, "00741000") for i in items} == {"SCHEDULED"}
    assert (
        _v(items[0], "00100010")["Alphabetic"] == "DOE^JANE"
        and _v(items[0], "00080016") == "1.2.840.10008.5.1.4.34.6.1"
    )
    assert "suspicious_finding" in _v(items[0], "00741204")
    assert "00081195" not in items[0]  # the Transaction UID is never returned
    only = client.get("/ups-rs/workitems?AccessionNumber=A1.1").json()
    assert [_v(i, "00080018") for i in only] == [routine]
    assert client.get("/ups-rs/workitems?00741200=HIGH").status_code == 204
    assert client.get("/ups-rs/workitems?ProcedureStepState=COMPLETED").status_code == 204
    assert client.get("/ups-rs/workitems?Modality=MG").status_code == 400
    assert client.get(f"/ups-rs/workitems/{urgent}").json()[0]["00080018"]["Value"] == [urgent]
    assert client.get("/ups-rs/workitems/2.25.1").status_code == 404


def _state(state: str, transaction: str | None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"00741000": {"vr": "CS", "Value": [state]}}
    if transaction:
        body["00081195"] = {"vr": "UI", "Value": [transaction]}
    return [body]


def test_claim_and_complete_need_the_same_transaction_uid(db: Database, client: TestClient) -> None:
    uid = _put(db, "2.1", "urgent", ("suspicious_finding",), 0)
    path = f"/ups-rs/workitems/{uid}/state"
    assert client.put(path, json=_state("IN PROGRESS", None)).status_code == 409  # no Transaction UID
    assert client.put(path, json=_state("IN PROGRESS", "2.25.77")).status_code == 200
    assert client.put(path, json=_state("COMPLETED", "2.25.78")).status_code == 409  # not the claimer
    assert client.put(path, json=_state("COMPLETED", "2.25.77")).status_code == 200
    assert _v(client.get(f"/ups-rs/workitems/{uid}").json()[0], "00741000") == "COMPLETED"
    assert client.get("/api/worklist/2.1").json()["status"] == "completed"
    assert client.put(path, json=[{}]).status_code == 400


def test_cancel_request(db: Database, client: TestClient) -> None:
    uid = _put(db, "3.1", "routine", (), 0)
    assert client.post(f"/ups-rs/workitems/{uid}/cancelrequest").status_code == 202
    assert _v(client.get(f"/ups-rs/workitems/{uid}").json()[0], "00741000") == "CANCELED"
    assert client.post(f"/ups-rs/workitems/{uid}/cancelrequest").status_code == 409


@pytest.mark.timeout(60)  # a lost report must fail the test, not hang the suite
def test_subscribers_get_state_reports_on_their_channel(db: Database, client: TestClient) -> None:
    first = _put(db, "4.1", "routine", (), 0)
    assert client.post(f"/ups-rs/workitems/{GLOBAL_SUBSCRIPTION}/subscribers/READER1").status_code == 201
    assert client.post(f"/ups-rs/workitems/{first}/subscribers/READER2").status_code == 201
    assert client.post("/ups-rs/workitems/2.25.9/subscribers/READER2").status_code == 404
    with (
        client.websocket_connect("/ups-rs/subscribers/READER1") as all_items,
        client.websocket_connect("/ups-rs/subscribers/READER2") as one_item,
    ):
        second = _put(db, "4.2", "urgent", ("suspicious_finding",), 1)  # a new workitem: global only
        with db.session() as s:
            wl.set_status(s, "4.1", "in_progress")  # both subscribers
        got_all = [all_items.receive_json(), all_items.receive_json()]
        got_one = one_item.receive_json()
    assert [(_v(e, "00001000"), _v(e, "00741000")) for e in got_all] == [
        (second, "SCHEDULED"),
        (first, "IN PROGRESS"),
    ]
    assert (_v(got_one, "00001000"), _v(got_one, "00741000"), _v(got_one, "00001002")) == (
        first,
        "IN PROGRESS",
        1,
    )
    assert client.delete(f"/ups-rs/workitems/{first}/subscribers/READER2").status_code == 200
    assert client.delete(f"/ups-rs/workitems/{first}/subscribers/READER2").status_code == 404
