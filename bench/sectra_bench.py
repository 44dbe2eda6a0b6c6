"""Sectra interfaces: the IDS7 Data Provider and URL launch, beside Orthanc's REST API.

breastgate runs as deployed (``breastgate serve``, SQLite) with one processed phantom study
(density and calcifications, integrated), Sectra URL launch (shared secret) and the Data Provider
with Basic auth. Orthanc holds the same study's images. Over loopback HTTP with keep-alive, one
request after the other:

- the Data Provider: ``POST /v1/getstructureddata/`` by accession number, as the Sectra
  Healthcare Server calls it (look-up, governance gate, triage, report draft, PropValues, an
  audit event committed per request);
- a launch: ``GET /api/launch/ids7?study=…&finding=…&format=json`` (look-up, a fresh AES-GCM
  launch string, an audit event committed per request);
- the peer: Orthanc's ``POST /tools/find`` by accession number with ``Expand`` (a study look-up
  answered as JSON), the nearest thing a PACS does for the same question.

Then, in this process: launch strings made and decoded per second, shared secret and PKI.

    python bench/sectra_bench.py [--requests 500]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.support

from tests.support.e2e import gateway_with_pacs, write_study
from tests.support.gateway import storescu, wait_for

from bench._common import percentile
from breastgate.integrations.sectra.launch import (
    LaunchConfig,
    LaunchDecoderConfig,
    LaunchTarget,
    decode_launch,
    ids7_launcher_url,
    launch_links,
)
from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest

SECRET = bytes(range(32))
AUTH = ("sectra-hs", "bench-password")


def _timed(call: Callable[[], httpx.Response], count: int) -> list[float]:
    call()  # warm
    times = []
    for _ in range(count):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return times


def _row(name: str, times: list[float]) -> tuple[str, float, float, float]:
    p50, p95 = percentile(times, 50), percentile(times, 95)
    rate = 1000 / statistics.mean(times)
    print(f"{name:<44} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  {rate:8.1f} req/s")
    return name, p50, p95, rate


def _rate(label: str, work: Callable[[], object], seconds: float = 3.0) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        count += 1
    rate = count / (time.perf_counter() - start)
    print(f"{label:<44} {rate:10.1f} /s")
    return rate


def _pki_keys() -> tuple[bytes, bytes, bytes, bytes]:
    from tests.unit.test_sectra_launch import _cert, _key, _pem

    ours, system = _key(), _key()
    return _pem(ours), _cert(ours, "breastgate"), _pem(system), _cert(system, "Sectra URL launch")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bg-sectra-bench-") as tmp:
        folder = Path(tmp)
        study = generate_mg_study(
            4711,
            category="c",
            vendor="profile-b-100um",
            lesions=[LesionRequest("calcification_cluster", shape="fine_pleomorphic")],
        )
        files = write_study(study, folder / "study")
        accession = str(study.datasets[0].AccessionNumber)
        uid = str(study.truth["study_instance_uid"])
        with gateway_with_pacs(
            folder,
            BG_ALGORITHMS="breastgate.density,breastgate.calcifications",
            BG_SECTRA_LAUNCH_MODE="shared_secret",
            BG_SECTRA_IDS7_URL=ids7_launcher_url("pacs.example.org"),
            BG_SECTRA_LAUNCH_SECRET=base64.b64encode(SECRET).decode(),
            BG_SECTRA_PROVIDER_USER=AUTH[0],
            BG_SECTRA_PROVIDER_PASSWORD=AUTH[1],
            BG_LOG_LEVEL="WARNING",
        ) as (gateway, pacs):
            pacs.start()
            gateway.start()
            storescu(gateway.dicom_port, files)
            storescu(pacs.dicom_port, files, aec=pacs.aet)
            wait_for(lambda: gateway.get("/api/worklist")["items"], timeout=300, what="the study processed")
            finding = gateway.get(f"/api/studies/{uid}/results")["findings"][0]["id"]
            body = {
                "patient": {"ids": [str(study.datasets[0].PatientID)]},
                "user": {"login": "bench", "domain": "HOSP", "name": "Bench"},
                "exam": {"examNo": "1", "accNo": accession, "studyUid": "", "date": ""},
            }
            with (
                httpx.Client(base_url=gateway.url, auth=AUTH, timeout=30) as provider,
                httpx.Client(base_url=gateway.url, headers=gateway.headers, timeout=30) as bg,
                httpx.Client(base_url=pacs.url, timeout=30) as orthanc,
            ):
                find = {"Level": "Study", "Query": {"AccessionNumber": accession}, "Expand": True}
                print(f"{args.requests} requests each, loopback, keep-alive, one at a time\n")
                rows = [
                    _row(
                        "breastgate Data Provider (PropValues)",
                        _timed(lambda: provider.post("/v1/getstructureddata/", json=body), args.requests),
                    ),
                    _row(
                        "breastgate launch (fresh IDS7 string, JSON)",
                        _timed(
                            lambda: bg.get(
                                "/api/launch/ids7",
                                params={"study": uid, "finding": finding, "format": "json"},
                            ),
                            args.requests,
                        ),
                    ),
                    _row(
                        "Orthanc /tools/find by accession (peer)",
                        _timed(lambda: orthanc.post("/tools/find", json=find), args.requests),
                    ),
                ]
            peer = rows[2]
            print()
            for name, p50, _, rate in rows[:2]:
                print(f"{name:<44} p50 ×{p50 / peer[1]:.2f} of Orthanc's, throughput ×{rate / peer[3]:.2f}")

    print("\nlaunch strings in this process (one core)")
    now = datetime.now(UTC)
    target = LaunchTarget("PAT-1", "HOSP", ("ACC-1",), sop_instance_uid="1.2.3.4", frame=23)
    shared = LaunchConfig("shared_secret", ids7_launcher_url("pacs.example.org"), None, secret=SECRET)
    shared_decoder = LaunchDecoderConfig("shared_secret", secret=SECRET)
    ours_key, ours_cert, system_key, system_cert = _pki_keys()
    pki = LaunchConfig(
        "pki",
        ids7_launcher_url("pacs.example.org"),
        None,
        signing_key_pem=ours_key,
        system_certificate_pem=system_cert,
    )
    pki_decoder = LaunchDecoderConfig(
        "pki", system_private_key_pem=system_key, integrating_certificate_pem=ours_cert
    )
    shared_url = launch_links(shared, target, now)["ids7"]
    pki_url = launch_links(pki, target, now)["ids7"]
    _rate("shared secret: make", lambda: launch_links(shared, target, now))
    _rate("shared secret: decode and verify", lambda: decode_launch(shared_decoder, shared_url, now))
    _rate("PKI (RSA-2048): make", lambda: launch_links(pki, target, now))
    _rate("PKI (RSA-2048): decode and verify", lambda: decode_launch(pki_decoder, pki_url, now))


if __name__ == "__main__":
    main()
