"""Governance end to end: a new algorithm version starts silent — it runs, its result is stored and
audited, and nothing reaches the PACS (Orthanc), the RIS (an MLLP peer) or the worklist. An AI
administrator then promotes it over the API (token, role, reason, audited) and the next study's
results reach all three. The audit chain verifies with ``breastgate audit verify`` and breaks,
at the right event, when the database is edited behind the gateway's back.

Real processes: ``breastgate serve``, Orthanc, dcmtk ``storescu``, MLLP on real sockets.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from tests.integration.test_mllp_delivery import Receiver
from tests.support.e2e import gateway_with_pacs
from tests.support.gateway import BREASTGATE, GatewayProcess, storescu, wait_for
from tests.support.hl7_messages import ack_code, orm, send_mllp

pytestmark = [pytest.mark.peers, pytest.mark.slow]

ALGORITHMS = ("breastgate.density", "breastgate.calcifications")


def write_study(seed: int, folder: Path) -> tuple[str, list[Path], Any]:
    study = generate_mg_study(
        seed,
        category="b",
        vendor="profile-b-100um",
        lesions=[LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="R")],
    )
    folder.mkdir(parents=True)
    files = []
    for i, ds in enumerate(study.datasets):
        files.append(folder / f"{i}.dcm")
        ds.save_as(files[-1], enforce_file_format=True)
    return str(study.truth["study_instance_uid"]), files, study.datasets[0]


def cli(gateway: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BREASTGATE, *args], env=gateway.env, capture_output=True, text=True, timeout=120, check=False
    )


def jobs_done(gateway: GatewayProcess, uid: str) -> bool:
    items = gateway.get("/api/studies?limit=100")["items"]
    jobs = next((i["jobs"] for i in items if i["study_instance_uid"] == uid), [])
    return len(jobs) == len(ALGORITHMS) and all(j["state"] == "done" for j in jobs)


def test_silent_then_promoted(tmp_path: Path) -> None:
    with (
        Receiver() as ris,
        gateway_with_pacs(
            tmp_path,
            BG_INITIAL_MODE="silent",
            BG_ALGORITHMS=",".join(ALGORITHMS),
            BG_HL7_RESULTS_TO=f"mllp://127.0.0.1:{ris.server.port}",
        ) as (gateway, pacs),
    ):
        pacs.start()
        gateway.start()
        uid1, files1, first1 = write_study(5101, tmp_path / "s1")
        acks = send_mllp(
            gateway.hl7_port,
            orm("G1", patient_id=first1.PatientID, accession=first1.AccessionNumber, placer="PLC-G1",
                scheduled=first1.StudyDate, priority="R"),
        )  # fmt: skip
        assert ack_code(acks[0]) == ("AA", "G1")
        storescu(gateway.dicom_port, files1)
        wait_for(lambda: jobs_done(gateway, uid1), timeout=240, what="silent jobs done")
        time.sleep(3)  # the outbox polls every 0.5 s: anything owed would have gone by now

        # Silent: stored and audited, nothing shown or sent.
        assert pacs.statistics()["CountInstances"] == 0
        assert ris.received == []
        assert gateway.get("/api/worklist")["items"] == []
        health = gateway.get("/api/health")["outbox"]
        assert sum(health.values()) == 0
        shown = gateway.get(f"/api/studies/{uid1}/results")
        assert shown["findings"] == [] and shown["governance"]["hidden"] == len(ALGORITHMS)
        silent_url = f"{gateway.url}/api/studies/{uid1}/results?include_silent=true"
        assert httpx.get(silent_url, timeout=10).status_code == 401  # no identity
        radiologist = {"Authorization": f"Bearer {gateway.add_user('rita', 'radiologist')}"}
        assert httpx.get(silent_url, headers=radiologist, timeout=10).status_code == 403

        # An auditor sees the silent results and the inference events.
        auditor = cli(gateway, "users", "add", "audrey", "--role", "auditor")
        assert auditor.returncode == 0, auditor.stderr
        audit_headers = {"Authorization": f"Bearer {auditor.stdout.strip()}"}
        silent = httpx.get(
            f"{gateway.url}/api/studies/{uid1}/results?include_silent=true", headers=audit_headers, timeout=10
        ).json()
        assert any(f["kind"] == "calcification_cluster" for f in silent["findings"])
        events = httpx.get(f"{gateway.url}/api/audit?study={uid1}", headers=audit_headers, timeout=10).json()[
            "items"
        ]
        kinds = [e["kind"] for e in events]
        assert kinds.count("instance.received") == len(files1)
        assert kinds.count("study.routed") == 1 and kinds.count("inference") == len(ALGORITHMS)
        inference = next(e for e in events if e["kind"] == "inference")
        assert (
            inference["data"]["modes"]["pacs"] == "silent" and len(inference["data"]["output_digest"]) == 64
        )
        assert set(inference["data"]["inputs"]) <= {str(f) for f in _sop_uids(files1)}
        assert "object.delivered" not in kinds

        # Promotion needs the ai_admin role and a reason; it is audited.
        admin = cli(gateway, "users", "add", "ada", "--role", "ai_admin")
        admin_headers = {"Authorization": f"Bearer {admin.stdout.strip()}"}
        versions = {a["id"]: a["version"] for a in gateway.get("/api/algorithms")["items"]}
        body = {"mode": "integrated", "reason": "committee decision 2026-11"}
        calcifications = versions["breastgate.calcifications"]
        path = f"/api/algorithms/breastgate.calcifications/versions/{calcifications}/modes/*"
        assert httpx.put(f"{gateway.url}{path}", json=body, timeout=10).status_code == 401
        assert (
            httpx.put(f"{gateway.url}{path}", json=body, headers=audit_headers, timeout=10).status_code == 403
        )
        no_reason = httpx.put(f"{gateway.url}{path}", json={"mode": "integrated"}, headers=admin_headers)
        assert no_reason.status_code == 422
        for algorithm in ALGORITHMS:
            path = f"/api/algorithms/{algorithm}/versions/{versions[algorithm]}/modes/*"
            done = httpx.put(f"{gateway.url}{path}", json=body, headers=admin_headers, timeout=10)
            assert done.status_code == 200, done.text

        # The next study's results reach the PACS, the RIS and the worklist.
        uid2, files2, _ = write_study(5102, tmp_path / "s2")
        storescu(gateway.dicom_port, files2)
        wait_for(lambda: pacs.find_instances(uid2, modality="SR"), timeout=240, what="CAD SR in Orthanc")
        wait_for(lambda: ris.received, timeout=60, what="ORU at the RIS")
        worklist = gateway.get("/api/worklist")["items"]
        assert [w["study_instance_uid"] for w in worklist] == [uid2]
        assert pacs.find_instances(uid1) == []  # promotion is not retroactive
        wait_for(
            lambda: any(
                e["kind"] == "object.delivered"
                for e in httpx.get(
                    f"{gateway.url}/api/audit?study={uid2}", headers=audit_headers, timeout=10
                ).json()["items"]
            ),
            timeout=30,
            what="delivery audited",
        )

    # The chain verifies; an edit behind the gateway's back is found at its event.
    verified = cli(gateway, "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout + verified.stderr
    exported = tmp_path / "audit.jsonl"
    assert cli(gateway, "audit", "export", "--out", str(exported)).returncode == 0
    assert cli(gateway, "audit", "verify", "--file", str(exported)).returncode == 0
    with sqlite3.connect(gateway.home / "breastgate.db") as conn:
        seq = conn.execute(
            "SELECT seq FROM audit_event WHERE kind = 'mode.changed' ORDER BY seq DESC"
        ).fetchone()[0]
        conn.execute("UPDATE audit_event SET actor = 'user:mallory' WHERE seq = ?", (seq,))
    broken = cli(gateway, "audit", "verify")
    assert broken.returncode == 1 and f"event {seq}:" in broken.stdout


def _sop_uids(files: list[Path]) -> list[str]:
    import pydicom

    return [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files]
