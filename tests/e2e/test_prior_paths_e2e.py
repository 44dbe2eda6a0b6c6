"""The retrieve paths in a real ``breastgate serve``: with ``BG_PRIOR_RETRIEVE`` naming C-GET (the
PACS does not know the gateway at all) or DICOMweb (Orthanc's plugin), an order that arrives
before its images brings the patient's prior into the gateway, listed as a prior and not routed.
Built on :func:`tests.support.priors.gateway_with_prior_pacs`, the set-up the comparison e2e uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import GatewayProcess, wait_for
from tests.support.hl7_messages import ack_code, orm, send_mllp
from tests.support.priors import gateway_with_prior_pacs, prior_study, upload

pytestmark = [pytest.mark.peers, pytest.mark.slow]

PATIENT = "PRIORPATH1"


def _listed(gateway: GatewayProcess, uid: str) -> dict[str, Any] | None:
    items: list[dict[str, Any]] = gateway.get("/api/studies")["items"]
    found = [i for i in items if i["study_instance_uid"] == uid and i["state"] == "stable"]
    return found[0] if found else None


@pytest.mark.parametrize("path", ["get", "dicomweb"])
def test_an_order_brings_its_prior_by_c_get_and_by_dicomweb(tmp_path: Path, path: str) -> None:
    prior = prior_study(960, PATIENT, "20250210", shrink=8)
    uid = str(prior[0].StudyInstanceUID)
    with gateway_with_prior_pacs(tmp_path, path, BG_ALGORITHMS="breastgate.density") as (gateway, pacs):
        pacs.start()
        upload(pacs, prior)
        gateway.start()
        acks = send_mllp(
            gateway.hl7_port,
            orm("PP1", patient_id=PATIENT, accession="PPACC1", placer="PPP1", scheduled="20261129"),
        )
        assert ack_code(acks[0]) == ("AA", "PP1")
        item = wait_for(lambda: _listed(gateway, uid), timeout=90, what=f"prior retrieved by {path}")
        assert item["prior"] is True and item["instance_count"] == 4
        assert item["jobs"] == []
        log = gateway.log("serve.log")
        assert "1 prior(s) found on ORTHANC, 1 retrieved" in log
        assert PATIENT not in log
