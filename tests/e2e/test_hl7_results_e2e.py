"""Results out over HL7 end to end: the RIS orders, the modality sends a study with a calcification
cluster, and the RIS-side MLLP receivers get the ORU^R01 (triage, flags, density, BI-RADS draft,
findings, algorithms) and the order's priority raised to urgent. Real ``breastgate serve``, dcmtk
``storescu``, MLLP on real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hl7
import httpx
import pytest
from pypdf import PdfReader

from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from tests.integration.test_mllp_delivery import Receiver
from tests.support.e2e import write_study
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.hl7_messages import ack_code, orm, send_mllp

pytestmark = [pytest.mark.peers, pytest.mark.slow]


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    with Receiver() as results, Receiver() as orders:
        yield results, orders


def test_oru_and_priority_update_reach_the_ris(receivers: tuple[Receiver, Receiver], tmp_path: Path) -> None:
    results_rx, orders_rx = receivers
    study = generate_mg_study(
        4310,
        category="b",
        vendor="profile-b-100um",
        lesions=[LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="R")],
    )
    files = write_study(study, tmp_path / "study")
    first = study.datasets[0]
    spool = tmp_path / "letters"
    spool.mkdir()

    gateway = GatewayProcess(
        tmp_path / "gw",
        BG_ALGORITHMS="breastgate.density,breastgate.calcifications",
        BG_HL7_RESULTS_TO=f"mllp://127.0.0.1:{results_rx.server.port}",
        BG_HL7_PRIORITY_TO=f"mllp://127.0.0.1:{orders_rx.server.port}",
        BG_LETTERS_TO=f"dir:{spool}",
        BG_SITE_NAME="Breast Centre Test Site",
        BG_SITE_ADDRESS="1 Screening Road|Testville",
    )
    gateway.start()
    try:
        acks = send_mllp(
            gateway.hl7_port,
            orm("R1", patient_id=first.PatientID, accession=first.AccessionNumber, placer="PLC-R1",
                scheduled=first.StudyDate, priority="R"),
        )  # fmt: skip
        assert ack_code(acks[0]) == ("AA", "R1")
        storescu(gateway.dicom_port, files)
        wait_for(
            lambda: results_rx.received and orders_rx.received, timeout=180, what="ORU and priority update"
        )
        # both ACKed with AA: the outbox owes nothing more
        wait_for(lambda: gateway.get("/api/health")["outbox"].get("sent") == 2, timeout=30, what="both sent")
        uid = str(study.truth["study_instance_uid"])
        report = gateway.get(f"/api/studies/{uid}/report")
        radiologist = {"Authorization": f"Bearer {gateway.add_user('dr.one', 'radiologist')}"}
        url = f"{gateway.url}/api/studies/{uid}/report/confirm"
        refused = httpx.post(url, json={"radiologist": "dr.other", "density": "c"}, headers=radiologist)
        confirmed = httpx.post(url, json={"density": "c", "note": "Dense tissue."}, headers=radiologist)
        letters = wait_for(
            lambda: sorted(spool.glob("*.pdf")), timeout=30, what="the density letter in the spool"
        )
        wait_for(lambda: len(results_rx.received) == 2, timeout=30, what="the final ORU")
    finally:
        gateway.stop()

    oru = hl7.parse(results_rx.received[0])
    assert str(oru.segment("MSH")[9]) == "ORU^R01^ORU_R01"
    assert oru.extract_field("OBR", 1, 18, 1, 1) == first.AccessionNumber
    assert oru.extract_field("OBR", 1, 2, 1, 1) == "PLC-R1"
    assert oru.extract_field("PID", 1, 3, 1, 1) == first.PatientID
    obx = {}
    for seg in oru.segments("OBX"):
        obx.setdefault(str(seg[3][0][0]), []).append(str(seg[5]))
    assert float(obx["TRIAGE_SCORE"][0]) >= 50.0
    assert obx["TRIAGE_PRIORITY"] == ["A^urgent^HL70027"]
    assert "suspicious_finding" in [v.split("^")[0] for v in obx["TRIAGE_FLAG"]]
    assert obx["DENSITY"][0][0] in "ab"  # a category-b phantom reads a or b
    assert obx["BIRADS_DRAFT"][0].startswith("0^")
    assert any(f.startswith("grouped calcifications, right breast") for f in obx["FINDING"])
    assert {a.split(" ")[0] for a in obx["ALGORITHM"]} == {"breastgate.density", "breastgate.calcifications"}

    update = hl7.parse(orders_rx.received[0])
    assert str(update.segment("MSH")[9]) == "ORM^O01"
    assert update.extract_field("ORC", 1, 1, 1, 1) == "XO"
    assert update.extract_field("ORC", 1, 2, 1, 1) == "PLC-R1"
    assert update.extract_field("ORC", 1, 7, 1, 6) == "A"
    assert len(results_rx.received) == 2 and len(orders_rx.received) == 1

    # The report draft: the AI's words, marked as a draft, in the ORU too; confirmed by the radiologist.
    assert report["status"] == "draft" and report["birads"] == "0"
    assert "COMPOSITION" in report["text"] and "not for diagnostic use" in report["text"]
    assert report["draft_sr"] is True
    assert obx["REPORT_DRAFT"][0].split("~")[0] == report["text"].splitlines()[0]
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    body = confirmed.json()
    assert confirmed.status_code == 200 and body["status"] == "confirmed" and body["confirmed_density"] == "c"
    assert body["density"] in ("a", "b")  # what the AI drafted is kept beside what the radiologist decided
    # The confirmed density (c: dense) made the MQSA letter with the dense-breast lay summary.
    assert [p.name for p in letters] == [f"{body['letter']}.pdf"]
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(letters[0]).pages)
    assert "Your breast tissue is dense." in text and "Breast Centre Test Site" in text

    # The confirmed report reached the RIS as the final result, in the radiologist's name.
    final = hl7.parse(results_rx.received[1])
    assert str(final.segment("MSH")[9]) == "ORU^R01^ORU_R01"
    assert final.extract_field("OBR", 1, 25, 1, 1) == "F"
    assert final.extract_field("OBR", 1, 32, 1, 1) == "dr.one"
    assert final.extract_field("OBR", 1, 2, 1, 1) == "PLC-R1"
    rows = {str(seg[3][0][0]): str(seg[5]) for seg in final.segments("OBX")}
    assert {str(seg[11]) for seg in final.segments("OBX")} == {"F"}
    assert rows["DENSITY"].startswith("c^") and rows["DENSITY_AI"].split("^")[0] in "ab"
    assert rows["BIRADS"].startswith("0^") and rows["NOTE"] == "Dense tissue."
