"""Prior pre-fetch end to end: an order that arrives (over real MLLP) before its images makes a real
``breastgate serve`` retrieve the patient's prior MG studies from a real Orthanc (C-FIND, C-MOVE to
our own SCP); the priors are listed but no algorithm runs on them. With the PACS down, the
pre-fetch is retried until the PACS is back."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pydicom
import pytest

from tests.support.e2e import gateway_with_pacs
from tests.support.gateway import GatewayProcess, wait_for
from tests.support.hl7_messages import ack_code, orm, send_mllp
from tests.support.priors import prior_study, restamp, upload

pytestmark = [pytest.mark.peers, pytest.mark.slow]

PATIENT = "PRIORE2E01"
ORDER_DATE = "20261129"


@pytest.fixture(scope="module")
def priors() -> list[list[pydicom.Dataset]]:
    """Two prior MG studies of the patient: one phantom at 1/8 size (the pre-fetch moves them, no
    algorithm reads them), restamped as the 2024 and the 2025 examination."""
    base = prior_study(950, PATIENT, "20240210", shrink=8)
    return [restamp(base, PATIENT, day, f"PR{day}") for day in ("20240210", "20250210")]


def _uid(datasets: list[pydicom.Dataset]) -> str:
    return str(datasets[0].StudyInstanceUID)


def _arrived(gateway: GatewayProcess, uids: set[str]) -> list[dict[str, Any]] | None:
    """The listed studies when every one of ``uids`` is in and stable, else None."""
    items: list[dict[str, Any]] = gateway.get("/api/studies")["items"]
    found = [i for i in items if i["study_instance_uid"] in uids and i["state"] == "stable"]
    return found if len(found) == len(uids) else None


def _fetch_row(gateway: GatewayProcess) -> tuple[str, int, str | None] | None:
    with sqlite3.connect(f"file:{gateway.home / 'breastgate.db'}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT state, attempts, last_error FROM prior_fetch").fetchone()
    return None if row is None else (str(row[0]), int(row[1]), row[2])


def test_order_before_images_retrieves_the_priors_and_routes_none(
    tmp_path: Path, priors: list[list[pydicom.Dataset]]
) -> None:
    with gateway_with_pacs(tmp_path, BG_ALGORITHMS="breastgate.density") as (gateway, pacs):
        pacs.start()
        for study in priors:
            upload(pacs, study)
        gateway.start()
        acks = send_mllp(
            gateway.hl7_port,
            orm("PF1", patient_id=PATIENT, accession="NEWACC1", placer="PPF1", scheduled=ORDER_DATE),
        )
        assert ack_code(acks[0]) == ("AA", "PF1")

        uids = {_uid(s) for s in priors}
        listed = wait_for(lambda: _arrived(gateway, uids), timeout=120, what="priors retrieved and stable")
        assert all(item["prior"] for item in listed)
        assert all(item["instance_count"] == 4 for item in listed)
        wait_for(
            lambda: "kept for comparison, not routed" in gateway.log("serve.log"), 30, what="skip logged"
        )
        assert all(item["jobs"] == [] for item in _arrived(gateway, uids) or [])
        assert _fetch_row(gateway) == ("done", 1, None)
        log = gateway.log("serve.log")
        assert PATIENT not in log  # no patient data in the logs


def test_pacs_down_the_pre_fetch_is_retried_until_it_is_back(
    tmp_path: Path, priors: list[list[pydicom.Dataset]]
) -> None:
    with gateway_with_pacs(tmp_path, BG_ALGORITHMS="breastgate.density") as (gateway, pacs):
        pacs.start()
        upload(pacs, priors[1])
        pacs.stop(kill=True)
        gateway.start()
        acks = send_mllp(
            gateway.hl7_port,
            orm("PF2", patient_id=PATIENT, accession="NEWACC2", placer="PPF2", scheduled=ORDER_DATE),
        )
        assert ack_code(acks[0]) == ("AA", "PF2")  # the ACK does not wait for the PACS

        def failed_twice() -> bool:
            row = _fetch_row(gateway)
            return row is not None and row[0] == "pending" and row[1] >= 2

        wait_for(failed_twice, timeout=60, what="pre-fetch retried while the PACS is down")
        row = _fetch_row(gateway)
        assert row is not None and "PeerUnavailableError" in (row[2] or "")

        pacs.start()
        listed = wait_for(lambda: _arrived(gateway, {_uid(priors[1])}), timeout=120, what="prior retrieved")
        assert listed[0]["prior"] is True
        wait_for(lambda: (_fetch_row(gateway) or ("",))[0] == "done", 30, what="pre-fetch done")
        wait_for(
            lambda: "kept for comparison, not routed" in gateway.log("serve.log"), 30, what="skip logged"
        )
        assert (_arrived(gateway, {_uid(priors[1])}) or [{}])[0]["jobs"] == []
