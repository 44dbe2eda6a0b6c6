"""A Sectra site end to end: ``breastgate serve`` configured as docs/integrations/sectra.md says
(objects per node, the ``sectra`` HL7 profile, URL launch with a shared secret, the Data Provider
with Basic auth), a RIS order, the modality's study over dcmtk ``storescu``, a real Orthanc as the
Sectra PACS, MLLP receivers as the RIS, and the Healthcare Server's Data Provider calls.

Checks what each Sectra-side interface receives: only the object kinds the node is set up for
(dciodvfy-clean), the ORU and priority update as the profile writes them with launch references,
the report values with a finding link that opens IDS7 at the finding's image."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import hl7
import httpx
import pydicom
import pytest

from breastgate.integrations.sectra.launch import LaunchDecoderConfig, decode_launch
from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from tests.integration.test_mllp_delivery import Receiver
from tests.support.e2e import gateway_with_pacs, write_study
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.hl7_messages import ack_code, orm, send_mllp
from tests.support.orthanc import OrthancServer
from tests.support.sectra_client import SectraHealthcareServer
from tests.support.validators import dciodvfy

pytestmark = [pytest.mark.peers, pytest.mark.slow]

SECRET = bytes(range(201, 233))
IDS7 = "sectra:?url=https://pacs.example.org/SectraHealthcareServer/&softwareUrl=https://pacs.example.org/ids7/&productId=IDS7"
PROVIDER = ("sectra-hs", "provider-password-for-tests")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[GatewayProcess, OrthancServer, Receiver, Receiver]]:
    with (
        Receiver() as results,
        Receiver() as orders,
        gateway_with_pacs(
            tmp_path,
            BG_ALGORITHMS="breastgate.density,breastgate.calcifications",
            BG_HL7_RESULTS_TO=f"mllp://127.0.0.1:{results.server.port}",
            BG_HL7_PRIORITY_TO=f"mllp://127.0.0.1:{orders.server.port}",
            BG_HL7_PROFILE="sectra",
            BG_SECTRA_LAUNCH_MODE="shared_secret",
            BG_SECTRA_IDS7_URL=IDS7,
            BG_SECTRA_LAUNCH_SECRET=base64.b64encode(SECRET).decode(),
            BG_SECTRA_PROVIDER_USER=PROVIDER[0],
            BG_SECTRA_PROVIDER_PASSWORD=PROVIDER[1],
        ) as (gateway, pacs),
    ):
        gateway.env["BG_PUBLIC_URL"] = gateway.url
        gateway.env["BG_PACS_OBJECTS"] = f"{pacs.aet}=gsps,kos"  # CAD SR display not yet validated
        yield gateway, pacs, results, orders


def test_a_sectra_site_gets_marks_report_values_launch_links_and_hl7_as_configured(
    site: tuple[GatewayProcess, OrthancServer, Receiver, Receiver], tmp_path: Path
) -> None:
    gateway, pacs, results_rx, orders_rx = site
    study = generate_mg_study(
        4610,
        category="c",
        vendor="profile-b-100um",
        lesions=[LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="L")],
    )
    files = write_study(study, tmp_path / "study")
    first = study.datasets[0]
    uid = str(study.truth["study_instance_uid"])

    pacs.start()
    gateway.start()
    acks = send_mllp(
        gateway.hl7_port,
        orm("S1", patient_id=first.PatientID, accession=first.AccessionNumber, placer="PLC-S1",
            scheduled=first.StudyDate, priority="R"),
    )  # fmt: skip
    assert ack_code(acks[0]) == ("AA", "S1")
    storescu(gateway.dicom_port, files)
    wait_for(lambda: results_rx.received and orders_rx.received, timeout=240, what="ORU and priority update")
    wait_for(lambda: pacs.find_instances(uid, modality="KO"), timeout=60, what="the KOS in the PACS")

    # 1. The PACS node got only what it is set up for: GSPS and KOS, no CAD SR, no summary SC.
    received = tmp_path / "received"
    received.mkdir()
    kinds: dict[str, list[Path]] = {}
    for modality in ("PR", "KO", "SR", "OT"):
        for instance in pacs.find_instances(uid, modality=modality):
            path = received / f"{modality}-{instance}.dcm"
            path.write_bytes(pacs.download(instance))
            kinds.setdefault(modality, []).append(path)
    assert sorted(kinds) == ["KO", "PR"]
    for path in kinds["KO"] + kinds["PR"]:
        assert dciodvfy(path).errors == [], path.name
    (kos_path,) = kinds["KO"]
    key_images = {
        str(ref.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
        for ref in pydicom.dcmread(kos_path).ContentSequence
        if ref.ValueType == "IMAGE"
    }

    # 2. The report values, as the Sectra Healthcare Server asks for them; Basic auth enforced.
    sectra = SectraHealthcareServer(gateway.url, auth=PROVIDER)
    assert (
        SectraHealthcareServer(gateway.url).get_structured_data(acc_no=first.AccessionNumber).status_code
        == 401
    )
    response = sectra.get_structured_data(
        patient_ids=[first.PatientID],
        login="rad1",
        domain="HOSP",
        exam_no="SX-4610",
        acc_no=first.AccessionNumber,
    )
    assert response.status_code == 200, response.text
    values = response.json()["PropValues"]
    assert values["density_category"] in ("c", "d") and values["density_status"] == "draft"
    assert values["finding1_kind"] == "calcification_cluster" and values["finding1_laterality"] == "L"
    assert values["birads_category"] == "0" and values["triage_priority"] == "urgent"
    assert "breastgate.calcifications" in values["algorithms"]
    link = values["finding1_link"]
    assert link.startswith(f"{gateway.url}/api/launch/ids7?")
    assert sectra.get_structured_data(study_uid="1.2.3.999").status_code == 500

    # 3. The link opens IDS7 at the finding's image: a fresh launch string the Sectra side decodes.
    parts = urlsplit(link)
    launch = httpx.get(
        f"{gateway.url}{parts.path}?{parts.query}",
        headers=gateway.headers,
        timeout=30,
        follow_redirects=False,
    )
    assert launch.status_code == 307
    decoded = decode_launch(LaunchDecoderConfig("shared_secret", secret=SECRET), launch.headers["location"])
    assert decoded.parameters.patient_id == first.PatientID
    assert decoded.parameters.accession_numbers == (first.AccessionNumber,)
    assert decoded.parameters.sop_instance_uid in key_images
    assert decoded.parameters.examination_ids == ("SX-4610",)  # Sectra's exam number, from step 2

    # 4. HL7 as the sectra profile writes it: priority in OBR-27 of the ORU and OBX-8 on the triage
    # rows, launch references (not launch strings), the update's priority in ORC-7 and OBR-27.
    oru = hl7.parse(results_rx.received[0])
    assert oru.extract_field("OBR", 1, 27, 1, 6) == "A"
    rows = {str(seg[3][0][0]): seg for seg in oru.segments("OBX")}
    assert str(rows["TRIAGE_PRIORITY"][8]) == "A"
    links = [str(seg[5]) for seg in oru.segments("OBX") if str(seg[3][0][0]) == "LAUNCH_LINK"]
    assert len(links) == 2 and all(oru.unescape(v.split("^")[0]).startswith(gateway.url) for v in links)
    assert "sharedSecretEncryptedUrlQuery" not in results_rx.received[0]
    update = hl7.parse(orders_rx.received[0])
    assert str(update.segment("MSH")[9]) == "ORM^O01" and str(update.segment("MSH")[12]) == "2.3.1"
    assert update.extract_field("ORC", 1, 7, 1, 6) == "A" and update.extract_field("OBR", 1, 27, 1, 6) == "A"
