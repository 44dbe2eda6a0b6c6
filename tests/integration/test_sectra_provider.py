"""The Sectra IDS7 Data Provider over a real socket (uvicorn), called as Sectra's Healthcare Server
calls it, for a phantom study processed by the real pipeline (density, calcifications, positioning).

The phantom is processed once per module; each test serves its own copy of the database.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from breastgate.domain.density import DENSITY_SENTENCES
from breastgate.domain.governance import Destination, Mode
from breastgate.domain.report import DRAFT_LABEL
from breastgate.integrations.sectra.config import BasicCredentials, SectraConfig
from breastgate.integrations.sectra.props import SCHEMA_UID, SCHEMA_VERSION, prop_keys
from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from breastgate.store import audit
from breastgate.store import governance as governance_store
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from tests.integration.test_pipeline import Gateway
from tests.support.http_server import serve
from tests.support.identity import ALL_ROLES
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture
from tests.support.sectra_client import SectraHealthcareServer

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

ALGORITHMS = ("breastgate.density", "breastgate.calcifications", "breastgate.positioning")


@dataclass(frozen=True)
class Processed:
    db_path: Path
    study_uid: str
    accession: str
    patient_id: str


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Processed:
    home = tmp_path_factory.mktemp("sectra-provider")
    gateway = Gateway(home, algorithms=ALGORITHMS)
    study = generate_mg_study(
        41,
        category="c",
        vendor="profile-b-100um",
        lesions=[LesionRequest("calcification_cluster", shape="fine_pleomorphic")],
    )
    for ds in study.datasets:
        gateway.receive(ds)
    assert len(gateway.assembler.tick()) == len(ALGORITHMS)
    gateway.run_queued()
    gateway.db.dispose()
    first = study.datasets[0]
    return Processed(
        home / "bg.db", study.study_instance_uid, str(first.AccessionNumber), str(first.PatientID)
    )


@pytest.fixture
def db(processed: Processed, tmp_path: Path) -> Iterator[Database]:
    copy = tmp_path / "bg.db"
    with sqlite3.connect(processed.db_path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    database = Database(f"sqlite:///{copy}")
    yield database
    database.dispose()


#: The Sectra Healthcare Server's Basic pair (BG_SECTRA_PROVIDER_USER / _PASSWORD) of the test apps.
PROVIDER = ("ids7", "s3cret-provider")
#: A reader (every role) and a radiologist who confirms reports, with their API tokens.
AUTH = {"Authorization": "Bearer reader-token-for-sectra-tests"}
RADIOLOGIST = {"Authorization": "Bearer radiologist-token-for-sectra-tests"}


def sectra_at(url: str) -> SectraHealthcareServer:
    """The Sectra Healthcare Server with its Basic pair."""
    return SectraHealthcareServer(url, auth=PROVIDER)


def api_app(db: Database, **sectra: Any) -> Any:
    """The HTTP API over ``db`` as the pipeline ran it (integrated everywhere), with ``sectra``
    fields of SectraConfig (provider credentials, match_patient, launch, public_url, ...); Sectra's
    pair is :data:`PROVIDER` unless given; the users of :data:`AUTH` and :data:`RADIOLOGIST` exist."""
    with db.session() as s:
        governance_store.add_user(s, "reader", ALL_ROLES, AUTH["Authorization"][7:], actor="test")
        governance_store.add_user(
            s, "Dr Reader", "radiologist", RADIOLOGIST["Authorization"][7:], actor="test"
        )
    sectra.setdefault("provider", BasicCredentials(*PROVIDER))
    return create_app(
        AppContext(
            db=db,
            version="test",
            ae_title="BREASTGATE",
            dicom_port=None,
            workers_in_process=False,
            initial_mode=Mode.INTEGRATED,  # as the pipeline ran (Gateway default_mode)
            sectra=SectraConfig(**sectra),
        )
    )


@pytest.fixture
def url(db: Database) -> Iterator[str]:
    with serve(api_app(db)) as base:
        yield base


def _versions(url: str, study_uid: str) -> dict[str, str]:
    results = httpx.get(f"{url}/api/studies/{study_uid}/results", headers=AUTH, timeout=30).json()
    return {a["id"]: a["version"] for a in results["algorithms"]}


def _values(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"Compatibility", "PropValues"}
    assert body["Compatibility"] == {"Uid": SCHEMA_UID, "Version": SCHEMA_VERSION}
    values: dict[str, Any] = body["PropValues"]
    assert all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values.values())
    return values


def test_prop_values_by_accession_number_match_the_results(
    processed: Processed, db: Database, url: str
) -> None:
    sectra = sectra_at(url)
    results = httpx.get(f"{url}/api/studies/{processed.study_uid}/results", headers=AUTH, timeout=30).json()
    response = sectra.get_structured_data(
        patient_ids=["OTHER-ID", processed.patient_id.lower()],  # Sectra may list several ids
        login="jdoe",
        domain="HOSP",
        name="Doe",
        exam_no="1",
        acc_no=processed.accession,
    )
    values = _values(response)

    assert set(values) == set(prop_keys(values["finding_count"]))
    category = results["density"]["category"]
    assert (values["density_category"], values["density_ai_category"]) == (category, category)
    assert values["density_sentence"] == DENSITY_SENTENCES[category]
    assert values["density_status"] == "draft" and values["birads_status"] == "draft"
    assert values["report_status"] == "draft" and values["confirmed_by"] == ""
    assert values["disclaimer"] == DRAFT_LABEL
    assert values["suspicion_score"] == round(results["assessment"]["suspicion_score"])
    assert values["triage_priority"] == results["triage"]["priority"]
    assert values["triage_flags"] == ", ".join(results["triage"]["flags"])
    assert values["positioning_verdict"] == results["quality"]["verdict"]
    for algorithm in ALGORITHMS:
        assert algorithm in values["algorithms"]
    shown = [f for f in results["findings"] if f["shown"]]
    assert values["finding_count"] == len(shown) >= 1
    first = next(f for f in shown if f["id"] == values["finding1_id"])
    assert values["finding1_kind"] == first["kind"] == "calcification_cluster"
    assert values["finding1_laterality"] == first["laterality"]
    assert values["finding1_clock"] == first["location"]["clock"]
    assert values["finding1_score"] == round(first["score"], 2)
    assert values["finding1_status"] == "draft" and values["finding1_sentence"]
    # The BI-RADS draft is the report draft's (a finding at the operating point: 0, recall).
    report = httpx.get(f"{url}/api/studies/{processed.study_uid}/report", headers=AUTH, timeout=30).json()
    assert values["birads_category"] == values["birads_ai_category"] == report["birads"] == "0"
    assert values["recommendation"].startswith("Recall for additional imaging")

    with db.session() as s:
        event = audit.for_study(s, processed.study_uid)[-1]
    assert (event.kind, event.actor) == ("result.viewed", "sectra:jdoe")
    assert event.data["destination"] == "report" and event.data["lookup"] == "accession_number"
    assert set(event.data["algorithms"]) == {f"{a['id']}@{a['version']}" for a in results["algorithms"]}


def test_study_uid_lookup_and_the_path_without_slash(processed: Processed, url: str) -> None:
    sectra = sectra_at(url)
    by_accession = _values(sectra.get_structured_data(login="jdoe", acc_no=processed.accession))
    by_uid = _values(sectra.get_structured_data(login="jdoe", study_uid=processed.study_uid))
    assert by_uid == by_accession
    no_slash = sectra.get_structured_data(
        "/v1/getstructureddata", login="jdoe", study_uid=processed.study_uid
    )
    assert _values(no_slash) == by_uid
    compatibility = sectra.get_compatibility()
    assert compatibility.status_code == 200
    assert compatibility.json() == {"Uid": SCHEMA_UID, "Version": SCHEMA_VERSION}


def test_unknown_exam_is_a_500_without_identifiers(url: str) -> None:
    sectra = sectra_at(url)
    for exam in ({"acc_no": "NOSUCHACC"}, {"study_uid": "1.2.3.999"}, {}):
        response = sectra.get_structured_data(login="jdoe", **exam)
        assert response.status_code == 500
        assert "NOSUCHACC" not in response.text and "1.2.3.999" not in response.text


def test_a_silent_algorithm_is_never_served(processed: Processed, db: Database, url: str) -> None:
    version = _versions(url, processed.study_uid)["breastgate.density"]
    with db.session() as s:
        for destination in Destination:
            governance_store.set_mode(
                s,
                algorithm_id="breastgate.density",
                version=version,
                destination=destination,
                mode=Mode.SILENT,
                actor="test",
                reason="silent validation",
            )
    values = _values(sectra_at(url).get_structured_data(login="jdoe", acc_no=processed.accession))
    assert values["density_category"] == values["density_ai_category"] == ""
    assert values["density_sentence"] == values["percent_dense"] == values["density_status"] == ""
    assert "breastgate.density" not in values["algorithms"]
    assert "dense_breast" not in values["triage_flags"]
    assert values["finding_count"] >= 1  # the integrated calcification detector still is


def test_assistive_is_not_enough_for_report_prefill(processed: Processed, db: Database, url: str) -> None:
    versions = _versions(url, processed.study_uid)
    with db.session() as s:
        for algorithm, version in versions.items():
            governance_store.set_mode(
                s,
                algorithm_id=algorithm,
                version=version,
                destination=Destination.REPORT,
                mode=Mode.ASSISTIVE,
                actor="test",
                reason="assistive only",
            )
    values = _values(sectra_at(url).get_structured_data(login="jdoe", acc_no=processed.accession))
    ai_keys = ("density_category", "suspicion_score", "triage_priority", "algorithms", "finding1_kind")
    assert [values[k] for k in ai_keys] == [""] * len(ai_keys)
    assert values["finding_count"] == "" and values["recommendation"] == ""
    assert values["report_status"] == "draft"  # the stored draft exists; its AI values are not served


def test_basic_auth_when_configured(processed: Processed, db: Database) -> None:
    with serve(api_app(db, provider=BasicCredentials("ids7", "s3cret-provider"))) as base:
        for auth in (None, ("ids7", "wrong"), ("other", "s3cret-provider")):
            sectra = SectraHealthcareServer(base, auth=auth)
            for response in (
                sectra.get_structured_data(acc_no=processed.accession),
                sectra.get_compatibility(),
            ):
                assert response.status_code == 401
                assert response.headers["www-authenticate"].startswith("Basic ")
        sectra = SectraHealthcareServer(base, auth=("ids7", "s3cret-provider"))
        assert (
            _values(sectra.get_structured_data(login="jdoe", acc_no=processed.accession))["finding_count"]
            >= 1
        )
        assert sectra.get_compatibility().status_code == 200


def test_confirmed_values_override_the_draft(processed: Processed, url: str) -> None:
    sectra = sectra_at(url)
    before = _values(sectra.get_structured_data(login="jdoe", acc_no=processed.accession))
    confirmation = {"birads": "4", "density": "d"}  # in the signed-in radiologist's name
    response = httpx.post(
        f"{url}/api/studies/{processed.study_uid}/report/confirm",
        json=confirmation,
        headers=RADIOLOGIST,
        timeout=30,
    )
    assert response.status_code == 200, response.text

    after = _values(sectra.get_structured_data(login="jdoe", acc_no=processed.accession))
    assert after["report_status"] == "confirmed" and after["confirmed_by"] == "Dr Reader"
    assert after["confirmed_at"]
    assert (after["birads_category"], after["birads_status"], after["birads_name"]) == (
        "4",
        "confirmed",
        "Suspicious",
    )
    assert after["recommendation"] == "Tissue diagnosis."
    assert (after["density_category"], after["density_status"]) == ("d", "confirmed")
    assert after["density_sentence"] == DENSITY_SENTENCES["d"]
    # The AI's own values stay beside the radiologist's.
    assert after["birads_ai_category"] == before["birads_category"]
    assert after["density_ai_category"] == before["density_category"]
    assert after["finding1_id"] == before["finding1_id"]


def test_the_example_template_binds_values_of_a_processed_study(processed: Processed, url: str) -> None:
    template = Path(__file__).parents[2] / "docs" / "integrations" / "sectra-breast-template.html"
    bound = set(re.findall(r'data-merge-identifier="breastgate\.([A-Za-z0-9_]+)"', template.read_text()))
    sectra = sectra_at(url)
    values = _values(sectra.get_structured_data(login="jdoe", acc_no=processed.accession))
    assert bound and bound <= set(values)


def test_an_exam_of_another_patient_than_the_request_names_is_refused(
    processed: Processed, db: Database, url: str
) -> None:
    """Wrong-patient safety: the Healthcare Server names the patient open in IDS7; when the exam
    found by accession number belongs to someone else, no values are served (500, no identifiers)."""
    sectra = sectra_at(url)
    response = sectra.get_structured_data(patient_ids=["SOMEONE-ELSE"], acc_no=processed.accession)
    assert response.status_code == 500
    assert processed.patient_id not in response.text and processed.accession not in response.text
    with db.session() as s:
        assert not [e for e in audit.for_study(s, processed.study_uid) if e.actor.startswith("sectra:")]
    # The same request without patient ids (some templates send none) is answered.
    assert sectra.get_structured_data(acc_no=processed.accession).status_code == 200


def test_the_patient_check_can_be_switched_off(processed: Processed, db: Database) -> None:
    with serve(api_app(db, match_patient=False)) as base:
        response = sectra_at(base).get_structured_data(
            patient_ids=["SOMEONE-ELSE"], acc_no=processed.accession
        )
    assert response.status_code == 200
