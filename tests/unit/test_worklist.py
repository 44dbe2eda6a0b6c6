"""The worklist: priority then age, filters, the change history with its policy, the status
machine, and the API over it (FastAPI TestClient on a real SQLite database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import Priority, Triage
from breastgate.store import studies
from breastgate.store import worklist as wl
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from breastgate.worklist.policy import TECHNOLOGIST_QUEUE, queue_for
from tests.support.identity import grant
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
POLICY = "breastgate.triage@1.0.0"


def _study(db: Database, uid: str) -> None:
    with db.session() as s:
        studies.record_instance(
            s,
            studies.InstanceInfo(
                study_instance_uid=uid, series_instance_uid=uid + ".1", sop_instance_uid=uid + ".1.1",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2", path="/nowhere.dcm", modality="MG",
            ),
        )  # fmt: skip


def _put(db: Database, uid: str, priority: str, flags: tuple[str, ...], minutes: int, **kw: object) -> bool:
    _study(db, uid)
    with db.session() as s:
        return wl.apply_triage(
            s, uid, priority=priority, score=80.0 if priority != "routine" else 5.0, flags=flags,
            policy=POLICY, queue=str(kw.get("queue", "radiologist")), modality="MG",
            arrived_at=T0 + timedelta(minutes=minutes), now=T0 + timedelta(minutes=minutes + 1),
        )  # fmt: skip


def _order(db: Database, **filters: str) -> list[str]:
    with db.session() as s:
        return [i.study_instance_uid for i in wl.list_worklist(s, **filters)]  # type: ignore[arg-type]


def test_priority_first_then_oldest_first(db: Database) -> None:
    _put(db, "1.1", "routine", (), 0)
    _put(db, "1.2", "routine", ("dense_breast",), 5)
    _put(db, "1.3", "urgent", ("suspicious_finding", "birads_0_suspected"), 10)
    _put(db, "1.4", "stat", ("suspicious_finding",), 20)
    _put(db, "1.5", "urgent", ("suspicious_finding",), 3)
    assert _order(db) == ["1.4", "1.5", "1.3", "1.1", "1.2"]


def test_filters_match_whole_flags_modality_and_status(db: Database) -> None:
    _put(db, "2.1", "routine", ("dense_breast",), 0)
    _put(db, "2.2", "urgent", ("suspicious_finding",), 1)
    _put(db, "2.3", "routine", ("positioning_inadequate",), 2, queue="technologist")
    assert _order(db, flag="dense_breast") == ["2.1"]
    assert _order(db, flag="dense") == []  # a flag is matched whole, not as a substring
    assert _order(db, flag="suspicious_finding") == ["2.2"]
    assert _order(db, queue="technologist") == ["2.3"]
    assert _order(db, modality="US") == []
    with db.session() as s:
        wl.set_status(s, "2.2", "in_progress")
    assert _order(db, status="scheduled") == ["2.1", "2.3"]
    assert _order(db, status="in_progress") == ["2.2"]


def test_every_change_is_recorded_with_its_policy_and_nothing_else(db: Database) -> None:
    assert _put(db, "3.1", "routine", (), 0) is True
    assert _put(db, "3.1", "routine", (), 0) is False  # same triage again: no change row
    assert _put(db, "3.1", "urgent", ("suspicious_finding",), 0) is True
    with db.session() as s:
        rows = wl.changes(s, "3.1")
        item = wl.get_item(s, "3.1")
    assert [(r.old_priority, r.new_priority, r.new_flags, r.policy) for r in rows] == [
        (None, "routine", (), POLICY),
        ("routine", "urgent", ("suspicious_finding",), POLICY),
    ]
    assert item is not None and item.arrived_at == T0  # the age is the first arrival, kept


def test_status_follows_the_ups_state_machine(db: Database) -> None:
    _put(db, "4.1", "routine", (), 0)
    with db.session() as s:
        assert wl.set_status(s, "4.1", "in_progress").status == "in_progress"
        assert wl.set_status(s, "4.1", "completed").status == "completed"
        with pytest.raises(InvalidInputError, match="completed study cannot become in_progress"):
            wl.set_status(s, "4.1", "in_progress")
        with pytest.raises(InvalidInputError, match="unknown status"):
            wl.set_status(s, "4.1", "read")
        with pytest.raises(LookupError):
            wl.set_status(s, "9.9", "completed")


def test_inadequate_positioning_goes_to_the_technologists() -> None:
    assert queue_for(Triage(Priority.ROUTINE, 0, ("positioning_inadequate",), POLICY)) == TECHNOLOGIST_QUEUE
    assert queue_for(Triage(Priority.URGENT, 90, ("suspicious_finding",), POLICY)) == "radiologist"


def test_worklist_api(db: Database) -> None:
    _put(db, "5.1", "routine", ("dense_breast",), 0)
    _put(db, "5.2", "urgent", ("suspicious_finding",), 9)
    app = create_app(AppContext(db=db, version="t", ae_title="BG", dicom_port=None, workers_in_process=False))
    client = grant(TestClient(app), db, "technologist")
    body = client.get("/api/worklist").json()
    assert [(i["study_instance_uid"], i["priority"], i["flags"]) for i in body["items"]] == [
        ("5.2", "urgent", ["suspicious_finding"]),
        ("5.1", "routine", ["dense_breast"]),
    ]
    assert [
        i["study_instance_uid"] for i in client.get("/api/worklist?flag=dense_breast").json()["items"]
    ] == ["5.1"]
    one = client.get("/api/worklist/5.2").json()
    assert one["changes"][0]["policy"] == POLICY and one["changes"][0]["new_priority"] == "urgent"
    assert (
        client.put("/api/worklist/5.2/status", json={"status": "in_progress"}).json()["status"]
        == "in_progress"
    )
    bad = client.put("/api/worklist/5.2/status", json={"status": "scheduled!"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    done = client.put("/api/worklist/5.2/status", json={"status": "completed"})
    again = client.put("/api/worklist/5.2/status", json={"status": "in_progress"})
    assert done.status_code == 200 and again.status_code == 409
    assert client.get("/api/worklist/9.9").status_code == 404
