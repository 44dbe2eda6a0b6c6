"""The results JSON route answers the document ``build_results`` makes, key for key, now that it is
typed (``ResultsDocument``): a phantom study processed by the real pipeline (density,
calcifications, masses, positioning), with a stored BCRAT estimate, feedback on a finding and
Sectra launch links, compared with the document built as the route built it before the models.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from breastgate.domain.governance import Destination, Mode
from breastgate.governance import feedback
from breastgate.governance.gate import StudyResults
from breastgate.integrations.sectra.config import SectraConfig
from breastgate.integrations.sectra.launch import LaunchConfig, ids7_launcher_url, uniview_url
from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from breastgate.results.json import build_results
from breastgate.store import governance as governance_store
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.api.schemas.results import Finding, ResultsDocument
from breastgate.web.app import create_app
from breastgate.worklist.policy import triage
from tests.integration.test_pipeline import Gateway
from tests.support.identity import grant
from tests.support.responses import BodyCheck, same_bodies_fixture  # noqa: F401 - fixture

ALGORITHMS = (
    "breastgate.density", "breastgate.calcifications", "breastgate.masses", "breastgate.positioning",
)  # fmt: skip
LAUNCH = LaunchConfig(
    "shared_secret", ids7_launcher_url("pacs.example.org"), uniview_url("pacs.example.org"), secret=bytes(32)
)
TOKENS = {"radiologist": "r" * 40, "auditor": "u" * 40}
BCRAT = {
    "current_age": 52, "age_at_menarche": 12, "age_at_first_live_birth": 27, "number_of_biopsies": 1,
    "atypical_hyperplasia": "no", "first_degree_relatives": 1, "race": "white",
}  # fmt: skip
pytestmark = pytest.mark.usefixtures("same_bodies")


@dataclass(frozen=True)
class Processed:
    db_path: Path
    study_uid: str


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Processed:
    home = tmp_path_factory.mktemp("results-api")
    gateway = Gateway(home, algorithms=ALGORITHMS)
    study = generate_mg_study(
        43,
        category="c",
        lesions=[LesionRequest("calcification_cluster", shape="fine_pleomorphic"), LesionRequest("mass")],
    )
    for ds in study.datasets:
        gateway.receive(ds)
    assert len(gateway.assembler.tick()) == len(ALGORITHMS)
    gateway.run_queued()
    with gateway.db.session() as s:
        for role, token in TOKENS.items():
            governance_store.add_user(s, f"{role}-user", role, token, actor="test")
    gateway.db.dispose()
    return Processed(home / "bg.db", study.study_instance_uid)


@pytest.fixture
def db(processed: Processed, tmp_path: Path) -> Iterator[Database]:
    copy = tmp_path / "bg.db"
    with sqlite3.connect(processed.db_path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    database = Database(f"sqlite:///{copy}")
    yield database
    database.dispose()


def _context(db: Database, *, launch: bool) -> AppContext:
    return AppContext(
        db=db,
        version="test",
        ae_title="BREASTGATE",
        dicom_port=None,
        workers_in_process=False,
        initial_mode=Mode.INTEGRATED,  # as the pipeline ran (Gateway default_mode)
        sectra=SectraConfig(launch=LAUNCH if launch else None),
    )


def before_the_models(
    session: Session, uid: str, context: AppContext, include_silent: bool
) -> dict[str, Any]:
    """The body ``GET /api/studies/{uid}/results`` answered before it was typed (its code, verbatim)."""
    study = StudyResults.load(session, uid, context.initial_mode)
    gated = study.at(Destination.API)
    results = study.stored if include_silent else gated.results
    assessment, decision = triage(results, context.policy)
    body = build_results(uid, results, assessment, decision)
    feedback.attach(body, feedback.for_study(session, uid))
    refs = context.launch_refs()
    if refs is not None:
        refs.attach(body)
    body["governance"] = {"hidden": len(study.stored) - len(results), "modes": study.modes(results)}
    return body


def _as_json(body: dict[str, Any]) -> str:
    """JSON text: equal texts mean the same keys in the same order, values and JSON types."""
    return json.dumps(json.loads(json.dumps(body)), ensure_ascii=False)


def _answer(
    client: TestClient, uid: str, headers: dict[str, str] | None = None, **params: Any
) -> dict[str, Any]:
    response = client.get(f"/api/studies/{uid}/results", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_full_document_is_the_one_build_results_makes(
    processed: Processed, db: Database, same_bodies: BodyCheck
) -> None:
    uid = processed.study_uid
    context = _context(db, launch=True)
    client = grant(TestClient(create_app(context)), db)
    assert client.post("/api/risk/bcrat", json={**BCRAT, "study_instance_uid": uid}).status_code == 200
    first = client.get(f"/api/studies/{uid}/results").json()["findings"][0]["id"]
    verdict = {"action": "reject", "reason": "benign_finding", "comment": "stable calcifications"}
    headers = {"Authorization": f"Bearer {TOKENS['radiologist']}"}
    url = f"/api/studies/{uid}/findings/{first}/feedback"
    assert client.post(url, json={"action": "accept"}, headers=headers).status_code == 201
    assert client.post(url, json=verdict, headers=headers).status_code == 201

    answer = _answer(client, uid)
    with db.session() as s:
        expected = before_the_models(s, uid, context, include_silent=False)
    assert answer == json.loads(json.dumps(expected))
    assert _as_json(answer) == _as_json(expected)
    # The phantom exercises the whole contract: every part is there, typed.
    assert {a["id"] for a in answer["algorithms"]} >= set(ALGORITHMS)
    assert answer["density"] and answer["quality"] and answer["risk"] and answer["images"]
    assert answer["assessment"] and answer["triage"] and answer["launch"] and answer["governance"]
    kinds = {f["kind"] for f in answer["findings"]}
    assert {"calcification_cluster", "mass"} <= kinds
    reviewed = next(f for f in answer["findings"] if f["id"] == first)
    assert reviewed["feedback"]["action"] == "reject" and len(reviewed["feedback_history"]) == 2
    assert all("launch" in f for f in answer["findings"])
    assert same_bodies.checked >= 1


def test_absent_keys_stay_absent_and_silent_results_are_the_same_document(
    processed: Processed, db: Database
) -> None:
    uid = processed.study_uid
    context = _context(db, launch=False)
    client = grant(TestClient(create_app(context)), db)
    admin = {"Authorization": f"Bearer {TOKENS['auditor']}"}
    version = next(a["version"] for a in _answer(client, uid)["algorithms"] if a["id"] == "breastgate.masses")
    with db.session() as s:  # masses silent at api: hidden, unless an auditor asks for silent results
        governance_store.set_mode(
            s, algorithm_id="breastgate.masses", version=version, destination=Destination.API,
            mode=Mode.SILENT, actor="test", reason="test",
        )  # fmt: skip
    for include_silent in (False, True):
        params: dict[str, Any] = {"include_silent": "true"} if include_silent else {}
        answer = _answer(client, uid, admin if include_silent else None, **params)
        with db.session() as s:
            expected = before_the_models(s, uid, context, include_silent=include_silent)
        assert _as_json(answer) == _as_json(expected)
        assert "launch" not in answer and "generated_by" not in answer
        assert all("feedback" not in f and "launch" not in f for f in answer["findings"])
        assert answer["governance"]["hidden"] == (0 if include_silent else 1)


def test_every_key_of_the_document_is_a_declared_field(processed: Processed, db: Database) -> None:
    """The document and findings are open (extra keys pass through): this keeps the model complete."""
    client = grant(TestClient(create_app(_context(db, launch=True))), db)
    answer = _answer(client, processed.study_uid)
    document_fields = {f.alias or name for name, f in ResultsDocument.model_fields.items()}
    assert set(answer) <= document_fields
    for finding in answer["findings"]:
        assert set(finding) <= set(Finding.model_fields)
