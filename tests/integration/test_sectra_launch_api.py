"""Sectra URL launch through the HTTP API, over a real socket: the references in the results JSON,
worklist and PropValues, and ``/api/launch/{viewer}`` making a fresh launch string that decodes
(with the same secret, or Sectra's side of the certificates) to the study, the finding's image
and, for tomosynthesis, its frame; expired strings refused by the decoder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Role
from breastgate.domain.payload import result_from_payload, result_to_payload
from breastgate.integrations.sectra.launch import (
    LaunchConfig,
    LaunchDecoderConfig,
    LaunchExpiredError,
    LaunchParameterError,
    decode_launch,
    ids7_launcher_url,
    uniview_url,
    validate_example,
)
from breastgate.store import audit, studies
from breastgate.store import governance as governance_store
from breastgate.store import results as result_store
from breastgate.store.db import Database
from tests.integration.test_sectra_provider import (  # noqa: F401 - fixtures
    AUTH,
    Processed,
    api_app,
    db,
    processed,
    sectra_at,
)
from tests.support.http_server import serve
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture
from tests.unit.test_sectra_launch import _cert, _key, _pem

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

SECRET = bytes(range(7, 39))
HOST = "pacs.example.org"
PUBLIC = "https://breastgate.example.org:8443"


def _config(mode: str, keys: dict[str, bytes]) -> tuple[LaunchConfig, LaunchDecoderConfig]:
    if mode == "shared_secret":
        return (
            LaunchConfig(mode, ids7_launcher_url(HOST), uniview_url(HOST), secret=SECRET),
            LaunchDecoderConfig(mode, secret=SECRET),
        )
    return (
        LaunchConfig(
            mode,
            ids7_launcher_url(HOST),
            uniview_url(HOST),
            signing_key_pem=keys["ours_key"],
            system_certificate_pem=keys["system_cert"],
        ),
        LaunchDecoderConfig(
            mode, system_private_key_pem=keys["system_key"], integrating_certificate_pem=keys["ours_cert"]
        ),
    )


@pytest.fixture(scope="module")
def keys() -> dict[str, bytes]:
    ours, system = _key(), _key()
    return {
        "ours_key": _pem(ours),
        "ours_cert": _cert(ours, "breastgate"),
        "system_key": _pem(system),
        "system_cert": _cert(system, "Sectra URL launch"),
    }


def _serve(database: Database, launch: LaunchConfig | None, public_url: str = "") -> Any:
    return serve(api_app(database, launch=launch, public_url=public_url))


@pytest.fixture(params=["shared_secret", "pki"])
def launched(
    request: pytest.FixtureRequest,
    db: Database,  # noqa: F811
    keys: dict[str, bytes],
) -> Iterator[tuple[str, LaunchDecoderConfig]]:
    config, decoder = _config(request.param, keys)
    with _serve(db, config, PUBLIC) as url:
        yield url, decoder


def _finding(url: str, study_uid: str) -> dict[str, Any]:
    body = httpx.get(f"{url}/api/studies/{study_uid}/results", headers=AUTH, timeout=30).json()
    assert body["launch"] == {
        "ids7": f"{PUBLIC}/api/launch/ids7?study={study_uid}",
        "uniview": f"{PUBLIC}/api/launch/uniview?study={study_uid}",
    }
    finding: dict[str, Any] = body["findings"][0]
    assert finding["launch"]["ids7"] == f"{PUBLIC}/api/launch/ids7?study={study_uid}&finding={finding['id']}"
    return finding


def test_a_finding_link_opens_ids7_at_its_image(
    processed: Processed,  # noqa: F811
    db: Database,  # noqa: F811
    launched: tuple[str, LaunchDecoderConfig],
) -> None:
    url, decoder = launched
    finding = _finding(url, processed.study_uid)
    path = urlsplit(finding["launch"]["ids7"])
    response = httpx.get(f"{url}{path.path}?{path.query}", headers=AUTH, timeout=30, follow_redirects=False)
    assert response.status_code == 307 and response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    assert location.startswith(f"sectra:?url=https://{HOST}/SectraHealthcareServer/&")
    decoded = decode_launch(decoder, location)
    with db.session() as s:
        study = studies.get_study_ref(s, processed.study_uid)
    assert study is not None and study.patient_id
    assert decoded.parameters.patient_id == study.patient_id
    assert decoded.parameters.accession_numbers == (processed.accession,)
    assert decoded.parameters.sop_instance_uid == finding["marks"][0]["sop_instance_uid"]
    assert decoded.parameters.frame_number is None  # 2-D mammogram
    # The SDK's rule: a launch string older than 30 s is refused.
    with pytest.raises(LaunchExpiredError):
        decode_launch(decoder, location, now=decoded.issued_at + timedelta(seconds=31))
    with db.session() as s:
        (event,) = [e for e in audit.for_study(s, processed.study_uid) if e.kind == AuditKind.PHI_ACCESSED]
    assert event.subject == "launch ids7" and event.data["finding"] == finding["id"]


def test_study_links_open_uniview_and_json_format(
    processed: Processed,  # noqa: F811
    launched: tuple[str, LaunchDecoderConfig],
) -> None:
    url, decoder = launched
    response = httpx.get(
        f"{url}/api/launch/uniview",
        params={"study": processed.study_uid, "format": "json"},
        headers=AUTH,
        timeout=30,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["viewer"] == "uniview" and body["expires_in_seconds"] == 30
    assert body["url"].startswith(f"https://{HOST}/uniview/#/apiLaunch?")
    decoded = decode_launch(decoder, body["url"])
    assert decoded.parameters.sop_instance_uid is None
    assert decoded.parameters.accession_numbers == (processed.accession,)
    assert decoded.parameters.uniview_command is not None

    rows = httpx.get(f"{url}/api/worklist", headers=AUTH, timeout=30).json()["items"]
    (row,) = [r for r in rows if r["study_instance_uid"] == processed.study_uid]
    assert row["launch"]["ids7"] == f"{PUBLIC}/api/launch/ids7?study={processed.study_uid}"


def test_unknown_finding_viewer_or_study_are_404(
    processed: Processed,  # noqa: F811
    launched: tuple[str, LaunchDecoderConfig],
) -> None:
    url, _ = launched
    for params, viewer in (
        ({"study": processed.study_uid, "finding": "nope"}, "ids7"),
        ({"study": processed.study_uid}, "osirix"),
        ({"study": "1.2.3.4"}, "ids7"),
    ):
        response = httpx.get(f"{url}/api/launch/{viewer}", params=params, headers=AUTH, timeout=30)
        assert response.status_code == 404, (params, viewer)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_without_launch_configured_there_are_no_links(
    processed: Processed,  # noqa: F811
    db: Database,  # noqa: F811
) -> None:
    with _serve(db, None) as url:
        body = httpx.get(f"{url}/api/studies/{processed.study_uid}/results", headers=AUTH, timeout=30).json()
        assert "launch" not in body and all("launch" not in f for f in body["findings"])
        response = httpx.get(
            f"{url}/api/launch/ids7", params={"study": processed.study_uid}, headers=AUTH, timeout=30
        )
        assert response.status_code == 404 and "not configured" in response.text
        values = sectra_at(url).get_structured_data(acc_no=processed.accession).json()
        assert values["PropValues"]["finding1_link"] == "" and values["PropValues"]["study_link"] == ""


def test_the_report_template_gets_absolute_finding_links(
    processed: Processed,  # noqa: F811
    db: Database,  # noqa: F811
) -> None:
    config, _ = _config("shared_secret", {})
    with _serve(db, config) as url:  # no BG_PUBLIC_URL: IDS7 could not follow a relative link
        values = sectra_at(url).get_structured_data(acc_no=processed.accession).json()
        assert values["PropValues"]["finding1_link"] == ""
    with _serve(db, config, PUBLIC) as url:
        values = sectra_at(url).get_structured_data(acc_no=processed.accession).json()
        link = values["PropValues"]["finding1_link"]
        assert link.startswith(f"{PUBLIC}/api/launch/ids7?") and parse_qs(urlsplit(link).query)["finding"]
        assert values["PropValues"]["study_link"] == f"{PUBLIC}/api/launch/ids7?study={processed.study_uid}"


def test_a_tomosynthesis_finding_opens_at_its_frame(
    processed: Processed,  # noqa: F811
    db: Database,  # noqa: F811
) -> None:
    """The launch carries the 1-based frame of the finding's mark (here moved onto frame 23 of the
    image, as the DBT mass detector marks a slice)."""
    with db.session() as s:
        row = next(r for r in result_store.for_study(s, processed.study_uid) if r.payload.get("findings"))
        result = result_from_payload(row.payload)
        finding = result.findings[0]
        moved = replace(finding, marks=(replace(finding.marks[0], frame=23),))
        payload = result_to_payload(replace(result, findings=(moved, *result.findings[1:])))
        result_store.save(
            s,
            study_instance_uid=processed.study_uid,
            algorithm_id=result.algorithm_id,
            algorithm_version=result.algorithm_version,
            status=result.status.value,
            generation=row.generation,
            payload=payload,
        )
    config, decoder = _config("shared_secret", {})
    with _serve(db, config) as url:
        response = httpx.get(
            f"{url}/api/launch/ids7",
            params={"study": processed.study_uid, "finding": finding.id, "format": "json"},
            headers=AUTH,
            timeout=30,
        )
    assert response.status_code == 200, response.text
    decoded = decode_launch(decoder, response.json()["url"], now=datetime.now(UTC))
    assert decoded.parameters.frame_number == 23
    assert decoded.parameters.sop_instance_uid == finding.marks[0].sop_instance_uid


def test_a_launch_needs_an_authenticated_reader(
    processed: Processed,  # noqa: F811
    db: Database,  # noqa: F811
) -> None:
    """Sectra's SDK: launch strings are made server-side for authenticated users only."""
    config, _ = _config("shared_secret", {})
    with db.session() as s:
        token = "t0ken-for-dr-who"
        governance_store.add_user(s, "dr.who", Role.RADIOLOGIST.value, token, actor="test")
        governance_store.add_user(s, "sys", Role.INTEGRATION.value, "t0ken-for-a-system", actor="test")
    with serve(api_app(db, launch=config)) as url:
        params = {"study": processed.study_uid, "format": "json"}
        refused = httpx.get(f"{url}/api/launch/ids7", params=params, timeout=30)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        system = {"Authorization": "Bearer t0ken-for-a-system"}
        assert (
            httpx.get(f"{url}/api/launch/ids7", params=params, headers=system, timeout=30).status_code == 403
        )
        allowed = httpx.get(
            f"{url}/api/launch/ids7", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert allowed.status_code == 200
    with db.session() as s:
        events = [e for e in audit.for_study(s, processed.study_uid) if e.kind == AuditKind.PHI_ACCESSED]
    assert [e.actor for e in events] == ["user:dr.who"]


def test_sectras_exam_number_from_the_data_provider_goes_into_image_launches(
    processed: Processed,  # noqa: F811
    db: Database,  # noqa: F811
) -> None:
    """The Healthcare Server names its own examination number when it asks for values; an image
    launch then carries it (exam_id), which the SDK's example validation wants with a SOP UID."""
    config, decoder = _config("shared_secret", {})
    with _serve(db, config) as url:
        finding = _finding_id(url, processed.study_uid)
        params = {"study": processed.study_uid, "finding": finding, "format": "json"}
        before = decode_launch(
            decoder,
            httpx.get(f"{url}/api/launch/ids7", params=params, headers=AUTH, timeout=30).json()["url"],
        )
        assert before.parameters.examination_ids == ()
        with pytest.raises(LaunchParameterError, match="examination id"):
            validate_example(before.parameters)
        served = sectra_at(url).get_structured_data(exam_no="EX-2026-77", acc_no=processed.accession)
        assert served.status_code == 200
        after = decode_launch(
            decoder,
            httpx.get(f"{url}/api/launch/ids7", params=params, headers=AUTH, timeout=30).json()["url"],
        )
    assert after.parameters.examination_ids == ("EX-2026-77",)
    assert after.parameters.accession_numbers == (processed.accession,)
    validate_example(after.parameters)  # passes now


def _finding_id(url: str, study_uid: str) -> str:
    body = httpx.get(f"{url}/api/studies/{study_uid}/results", headers=AUTH, timeout=30).json()
    return str(body["findings"][0]["id"])
