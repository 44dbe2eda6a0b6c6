"""Orders end to end: a RIS (MLLP over a real socket) and a modality (dcmtk storescu) talk to a real
``breastgate serve``; orders are matched to their studies whichever arrives first, and an ADT merge
re-links an order placed under a temporary patient id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

from breastgate.phantoms import write_phantoms
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.hl7_messages import ack_code, adt, orm, send_mllp

pytestmark = [pytest.mark.peers, pytest.mark.slow]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(tmp_path / "gw", BG_ALGORITHMS="breastgate.density")
    gw.start()
    yield gw
    gw.stop()


def _studies(folder: Path, count: int, seed: int) -> list[tuple[list[Path], dict[str, str]]]:
    out = []
    for study in write_phantoms(folder, count, seed=seed):
        files = sorted(study.glob("*.dcm"))
        ds = pydicom.dcmread(files[0], stop_before_pixels=True)
        out.append(
            (
                files,
                {
                    "uid": ds.StudyInstanceUID,
                    "patient_id": ds.PatientID,
                    "accession": ds.AccessionNumber,
                    "date": ds.StudyDate,
                },
            )
        )
    return out


def _orders(gateway: GatewayProcess, study_uid: str) -> list[dict[str, Any]]:
    try:
        items: list[dict[str, Any]] = gateway.get(f"/api/studies/{study_uid}/orders")["items"]
    except Exception:  # the study is not indexed yet
        return []
    return items


def test_orders_match_studies_whichever_comes_first_and_a_merge_relinks(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    (files1, s1), (files2, s2), (files3, s3) = _studies(tmp_path / "phantoms", 3, seed=4100)

    # 1. Order first, then images: matched when the study arrives.
    acks = send_mllp(
        gateway.hl7_port,
        orm("E1", patient_id=s1["patient_id"], accession=s1["accession"], placer="PE1", scheduled=s1["date"]),
    )
    assert ack_code(acks[0]) == ("AA", "E1")
    storescu(gateway.dicom_port, files1)
    matched = wait_for(lambda: _orders(gateway, s1["uid"]), timeout=60, what="order matched to study 1")
    assert [(o["placer_order_number"], o["match_method"]) for o in matched] == [("PE1", "accession")]

    # 2. Images first, then the order: matched before the ACK is sent.
    storescu(gateway.dicom_port, files2)
    wait_for(lambda: gateway.get("/api/studies")["items"], timeout=30, what="study 2 indexed")
    acks = send_mllp(
        gateway.hl7_port,
        orm("E2", patient_id=s2["patient_id"], accession=s2["accession"], placer="PE2", scheduled=s2["date"]),
    )
    assert ack_code(acks[0]) == ("AA", "E2")
    assert [o["match_method"] for o in _orders(gateway, s2["uid"])] == ["accession"]

    # 3. An order under a temporary id and without an accession number: no match, until the
    #    RIS merges the temporary id into the real one (A40); then patient + date + modality match.
    storescu(gateway.dicom_port, files3)
    acks = send_mllp(
        gateway.hl7_port, orm("E3", patient_id="TEMP-4102", accession="", placer="PE3", scheduled=s3["date"])
    )
    assert ack_code(acks[0]) == ("AA", "E3")
    assert _orders(gateway, s3["uid"]) == []
    acks = send_mllp(gateway.hl7_port, adt("A40", "E4", patient_id=s3["patient_id"], prior_id="TEMP-4102"))
    assert ack_code(acks[0]) == ("AA", "E4")
    merged = _orders(gateway, s3["uid"])
    assert [(o["placer_order_number"], o["patient_id"], o["match_method"]) for o in merged] == [
        ("PE3", s3["patient_id"], "patient_date_modality")
    ]
    assert [o["placer_order_number"] for o in gateway.get("/api/orders")["items"]] == ["PE3", "PE2", "PE1"]
