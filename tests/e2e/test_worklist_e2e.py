"""Worklist end to end: two normal screening studies arrive, then one with a calcification cluster;
the suspicious one goes to the top of the reading list, the normals keep their arrival order.
Real ``breastgate serve`` and dcmtk ``storescu``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from breastgate.worklist.policy import DEFAULT_POLICY
from tests.integration.test_webhooks import SECRET, Receiver, _verified
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
    hooks = Receiver().__enter__()
    gateway = GatewayProcess(
        tmp_path / "gw",
        BG_ALGORITHMS="breastgate.density,breastgate.calcifications",
        BG_WEBHOOKS=hooks.url,
        BG_WEBHOOK_SECRET=SECRET,
    )
    gateway.start()
    reports: list[dict[str, Any]] = []
    try:
        # A UPS-RS client subscribes to every workitem before the studies arrive.
        subscribed = httpx.post(
            f"{gateway.url}/ups-rs/workitems/1.2.840.10008.5.1.4.34.5/subscribers/READER",
            headers=gateway.headers,
        )
        assert subscribed.status_code == 201
        with connect(
            f"ws://127.0.0.1:{gateway.http_port}/ups-rs/subscribers/READER",
            open_timeout=10,
            additional_headers=gateway.headers,
        ) as channel:
            for files in (normal1, normal2, suspicious):
                storescu(gateway.dicom_port, files)

            def three() -> list[dict[str, object]] | None:
                rows: list[dict[str, object]] = gateway.get("/api/worklist")["items"]
                return rows if len(rows) == 3 else None

            items = wait_for(three, timeout=240, what="three studies on the worklist")
            urgent = gateway.get("/api/worklist?flag=suspicious_finding")["items"]
            wait_for(lambda: len(hooks.received) >= 6, timeout=30, what="six webhook events")
            workitems = httpx.get(
                f"{gateway.url}/ups-rs/workitems", headers=gateway.headers, timeout=10
            ).json()
            while len(reports) < 3:
                reports.append(json.loads(channel.recv(timeout=30)))
    finally:
        gateway.stop()
        hooks.__exit__()
    assert [i["study_instance_uid"] for i in items] == [uid3, uid1, uid2]
    assert [i["priority"] for i in items] == ["urgent", "routine", "routine"]
    assert "suspicious_finding" in items[0]["flags"] and items[0]["score"] >= 50
    assert all(i["policy"] == DEFAULT_POLICY.name and i["status"] == "scheduled" for i in items)
    assert [i["study_instance_uid"] for i in urgent] == [uid3]
    # Webhooks: every study's results and its arrival on the worklist, signed with the shared secret.
    events = [(r.headers["x-breastgate-event"], json.loads(r.body)) for r in hooks.received]
    assert all(_verified(r) for r in hooks.received)
    assert sorted(e for e, _ in events) == ["study.results"] * 3 + ["worklist.changed"] * 3
    changed = {
        body["data"]["study_instance_uid"]: body["data"] for e, body in events if e == "worklist.changed"
    }
    assert changed[uid3]["priority"] == "urgent" and "suspicious_finding" in changed[uid3]["flags"]
    assert {changed[uid1]["priority"], changed[uid2]["priority"]} == {"routine"}
    assert all("patient" not in json.dumps(body).lower() for _, body in events)  # no patient data
    # UPS-RS: the same order, priorities as UPS priorities, and a SCHEDULED report per workitem.
    studies_in_order = [w["0040A370"]["Value"][0]["0020000D"]["Value"][0] for w in workitems]
    assert studies_in_order == [uid3, uid1, uid2]
    assert [w["00741200"]["Value"][0] for w in workitems] == ["MEDIUM", "LOW", "LOW"]
    uids = {w["00080018"]["Value"][0] for w in workitems}
    assert {r["00001000"]["Value"][0] for r in reports} == uids
    assert {r["00741000"]["Value"][0] for r in reports} == {"SCHEDULED"}
