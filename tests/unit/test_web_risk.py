"""``/api/risk`` on a real SQLite database (FastAPI TestClient, no server process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from breastgate.domain.governance import Mode
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, DensityAssessment
from breastgate.domain.payload import result_to_payload
from breastgate.risk import bcrat
from breastgate.risk.tyrer_cuzick import RULE_CONSISTENCY, RULE_RANGE
from breastgate.store import results as result_store
from breastgate.store import studies
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.api.risk import RACE_NAMES
from breastgate.web.app import create_app
from tests.support.db import upgrade
from tests.support.identity import grant
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture
from tests.unit.test_bcrat import OTHER_RACES, REFERENCE, TOL_PCT

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

STUDY = "1.2.826.0.1.3680043.8.498.7"
PROBLEM = "application/problem+json"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        studies.record_instance(
            s,
            studies.InstanceInfo(
                study_instance_uid=STUDY,
                series_instance_uid=STUDY + ".1",
                sop_instance_uid=STUDY + ".1.1",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2",
                path="/nowhere/1.dcm",
                modality="MG",
                laterality="R",
                view="CC",
                presentation_intent="FOR PRESENTATION",
            ),
        )
        density = AlgorithmResult(
            "breastgate.density", "1.0.0", STUDY, AlgorithmStatus.OK, density=DensityAssessment("b", 20.0, {})
        )
        result_store.save(
            s,
            study_instance_uid=STUDY,
            algorithm_id=density.algorithm_id,
            algorithm_version=density.algorithm_version,
            status="ok",
            generation=1,
            payload=result_to_payload(density),
        )
    context = AppContext(
        db=db,
        version="test",
        ae_title="BREASTGATE",
        dicom_port=None,
        workers_in_process=False,
        initial_mode=Mode.ASSISTIVE,  # the density result is shown; risk results are never gated
    )
    return grant(TestClient(create_app(context)), context.db, "radiologist")


def _body(
    t1: float, t2: float | None, nb: int, hp: int, am: float, af: float, nr: int, race: int
) -> dict[str, Any]:
    """The API body of a row of BCRA codes (99 = unknown, Age1st 98 = nulliparous)."""
    return {
        "current_age": t1,
        "projection_age": t2,
        "age_at_menarche": None if am == 99 else am,
        "age_at_first_live_birth": None if af in (98, 99) else af,
        "nulliparous": af == 98,
        "number_of_biopsies": None if nb == 99 else nb,
        "atypical_hyperplasia": {0: "no", 1: "yes", 99: "unknown"}[hp],
        "first_degree_relatives": None if nr == 99 else nr,
        "race": bcrat.BcratRace(race).name.lower(),
    }


def _typical(**changes: Any) -> dict[str, Any]:
    """Reference ID 1 of tests/unit/test_bcrat.py (white, 40 → 50, one biopsy, one relative)."""
    return {**_body(40, 50, 1, 99, 12, 25, 1, 1), **changes}


@pytest.mark.parametrize("row", REFERENCE, ids=[f"ID{r[0]}" for r in REFERENCE])
def test_reference_vectors_through_the_api(client: TestClient, row: tuple[Any, ...]) -> None:
    _, t1, t2, nb, hp, am, af, nr, race, rr1, rr2, abs_risk, avg_risk = row
    response = client.post("/api/risk/bcrat", json=_body(t1, t2, nb, hp, am, af, nr, race))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["projection_pct"] == pytest.approx(abs_risk, abs=TOL_PCT, rel=0)
    assert body["rr_under_50"] == pytest.approx(rr1, rel=1e-9)
    assert body["rr_50_and_over"] == pytest.approx(rr2, rel=1e-9)
    if avg_risk is not None:
        assert body["average_projection_pct"] == pytest.approx(avg_risk, abs=TOL_PCT, rel=0)
    assert body["stored"] is False and body["study_instance_uid"] is None


@pytest.mark.parametrize("row", OTHER_RACES, ids=[f"race{r[0]}-{r[1]}to{r[2]}" for r in OTHER_RACES])
def test_other_race_groups_by_name(client: TestClient, row: tuple[Any, ...]) -> None:
    race, t1, t2, nb, hp, am, af, nr, abs_risk = row
    body = client.post("/api/risk/bcrat", json=_body(t1, t2, nb, hp, am, af, nr, race)).json()
    assert body["projection_pct"] == pytest.approx(abs_risk, abs=TOL_PCT, rel=0)


def test_five_year_lifetime_average_recodings_and_model(client: TestClient) -> None:
    body = client.post("/api/risk/bcrat", json=_typical(projection_age=None)).json()
    expected = bcrat.absolute_risk(
        bcrat.BcratInputs.from_bcra_codes(
            t1=40, t2=None, n_biop=1, hyp_plas=99, age_men=12, age_1st=25, n_rels=1, race=1
        )
    )
    assert body["five_year_pct"] == pytest.approx(1.8585, abs=5e-5)  # test_bcrat: R recursion output
    assert body["five_year_pct"] == pytest.approx(expected.five_year_pct, abs=1e-12)
    assert body["lifetime_pct"] == pytest.approx(expected.lifetime_pct, abs=1e-12)
    assert body["average_five_year_pct"] == pytest.approx(expected.average_five_year_pct, abs=1e-12)
    assert body["average_lifetime_pct"] == pytest.approx(expected.average_lifetime_pct, abs=1e-12)
    assert body["projection_pct"] is None
    assert body["model"] == bcrat.MODEL
    assert (body["algorithm_id"], body["algorithm_version"]) == ("breastgate.risk.bcrat", "1.0.0")
    assert body["recodings"] == [
        {
            "field": "atypical_hyperplasia",
            "value": "unknown",
            "variable": "R_Hyp",
            "category": 1.0,
            "reason": "unknown atypical hyperplasia after a biopsy: no multiplier",
        }
    ]
    assert body["bcra_inputs"]["HypPlas"] == 99


def test_race_names_are_the_bcrat_groups() -> None:
    assert len(RACE_NAMES) == 11 and "hispanic_foreign_born" in RACE_NAMES


# (body changes, field, rule): BCRA recode.check rules and breastgate's own
ERRORS = [
    ({"current_age": 19.9, "projection_age": 25}, "current_age", bcrat.RULE_T1),
    ({"current_age": 85, "projection_age": 91}, "projection_age", bcrat.RULE_T2),
    ({"projection_age": 40}, "projection_age", bcrat.RULE_T1_T2),
    ({"age_at_menarche": 45}, "age_at_menarche", bcrat.RULE_AGEMEN),
    ({"age_at_first_live_birth": 10}, "age_at_first_live_birth", bcrat.RULE_AGE1ST_MEN),
    ({"age_at_first_live_birth": 41}, "age_at_first_live_birth", bcrat.RULE_AGE1ST_T1),
    ({"number_of_biopsies": 0, "atypical_hyperplasia": "yes"}, "atypical_hyperplasia", bcrat.RULE_A),
    ({"atypical_hyperplasia": "maybe"}, "atypical_hyperplasia", bcrat.RULE_B),
    ({"first_degree_relatives": -1}, "first_degree_relatives", bcrat.RULE_NRELS),
    ({"race": "martian"}, "race", bcrat.RULE_RACE),
    ({"number_of_biopsies": -1}, "number_of_biopsies", bcrat.RULE_RANGE),
    ({"number_of_biopsies": 99}, "number_of_biopsies", bcrat.RULE_CODE),
    ({"nulliparous": True}, "age_at_first_live_birth", bcrat.RULE_TYPE),
]


@pytest.mark.parametrize(("changes", "field", "rule"), ERRORS, ids=[e[2] + ":" + e[1] for e in ERRORS])
def test_input_errors_are_problem_json_422_naming_field_and_rule(
    client: TestClient, changes: dict[str, Any], field: str, rule: str
) -> None:
    response = client.post("/api/risk/bcrat", json=_typical(**changes))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert (problem["field"], problem["rule"]) == (field, rule)
    assert problem["status"] == 422 and field in problem["detail"] and rule in problem["detail"]


def test_missing_or_misspelt_answers_are_422(client: TestClient) -> None:
    body = _typical()
    del body["age_at_menarche"]  # unknown is an answer (null), not an omission
    response = client.post("/api/risk/bcrat", json=body)
    assert response.status_code == 422 and "age_at_menarche" in response.json()["detail"]
    response = client.post("/api/risk/bcrat", json={**_typical(), "projection_agee": 60})
    assert response.status_code == 422 and "projection_agee" in response.json()["detail"]


def test_stored_with_the_study_shows_in_the_results_document(client: TestClient) -> None:
    assert client.get(f"/api/studies/{STUDY}/results").json()["risk"] is None
    response = client.post("/api/risk/bcrat", json=_typical(study_instance_uid=STUDY, projection_age=None))
    assert response.status_code == 200
    answer = response.json()
    assert answer["stored"] is True and answer["study_instance_uid"] == STUDY

    doc = client.get(f"/api/studies/{STUDY}/results").json()
    assert doc["risk"] == {
        "model": bcrat.MODEL,
        "five_year_pct": answer["five_year_pct"],
        "lifetime_pct": answer["lifetime_pct"],
        "average_five_year_pct": answer["average_five_year_pct"],
        "average_lifetime_pct": answer["average_lifetime_pct"],
        "algorithm": "breastgate.risk.bcrat",
    }
    assert {
        "id": "breastgate.risk.bcrat",
        "version": "1.0.0",
        "status": "ok",
        "message": "",
        "model_card": None,
    } in doc["algorithms"]
    assert doc["density"]["category"] == "b"  # the images' results are untouched
    assert doc["triage"]["flags"] == []

    # a later answer replaces the earlier one (one result per study and algorithm)
    client.post(
        "/api/risk/bcrat", json=_typical(study_instance_uid=STUDY, current_age=50, projection_age=None)
    )
    again = client.get(f"/api/studies/{STUDY}/results").json()["risk"]
    assert again["lifetime_pct"] != answer["lifetime_pct"]
    assert [a["id"] for a in client.get(f"/api/studies/{STUDY}/results").json()["algorithms"]].count(
        "breastgate.risk.bcrat"
    ) == 1


def test_unknown_study_stores_nothing(client: TestClient) -> None:
    response = client.post("/api/risk/bcrat", json=_typical(study_instance_uid="9.9.9"))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert client.get(f"/api/studies/{STUDY}/results").json()["risk"] is None


def test_invalid_answers_store_nothing(client: TestClient) -> None:
    response = client.post("/api/risk/bcrat", json=_typical(study_instance_uid=STUDY, race="martian"))
    assert response.status_code == 422
    assert client.get(f"/api/studies/{STUDY}/results").json()["risk"] is None


# ---- Tyrer-Cuzick inputs: captured, never computed -----------------------------------------------

TC = {
    "age": 52,
    "height_m": 1.65,
    "weight_kg": 70,
    "age_at_menarche": 12,
    "parity": 2,
    "age_at_first_birth": 28,
    "menopause_status": "post",
    "age_at_menopause": 50,
    "hrt_use": "past",
    "ashkenazi_ancestry": "no",
    "number_of_sisters": 2,
    "family": [
        {"relation": "mother", "breast_cancer_age": 61},
        {"relation": "sister", "breast_cancer_age": 45, "bilateral": True},
    ],
}


def test_tyrer_cuzick_inputs_are_echoed_not_computed(client: TestClient) -> None:
    response = client.post("/api/risk/tyrer-cuzick-inputs", json=TC)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["computed"] is False and "five_year_pct" not in body
    inputs = body["inputs"]
    assert inputs["age"] == 52 and inputs["menopause_status"] == "post" and inputs["lcis"] == "unknown"
    assert inputs["family"][1] == {
        "relation": "sister",
        "breast_cancer_age": 45,
        "bilateral": True,
        "ovarian_cancer_age": None,
        "brca1": "not_tested",
        "brca2": "not_tested",
    }
    assert body["stored"] is False


TC_ERRORS = [
    ({"age_at_first_birth": 10}, "age_at_first_birth", RULE_CONSISTENCY),  # before menarche
    ({"menopause_status": "pre"}, "age_at_menopause", RULE_CONSISTENCY),
    ({"weight_kg": 500}, "weight_kg", RULE_RANGE),
    ({"number_of_sisters": 0}, "number_of_sisters", RULE_CONSISTENCY),
    ({"family": [{"relation": "aunt", "bilateral": True}]}, None, None),  # not a relation: pydantic
    ({"family": [{"relation": "maternal_aunt", "bilateral": True}]}, "family[0].bilateral", RULE_CONSISTENCY),
]


@pytest.mark.parametrize(("changes", "field", "rule"), TC_ERRORS, ids=[str(e[1]) for e in TC_ERRORS])
def test_tyrer_cuzick_errors_are_422(
    client: TestClient, changes: dict[str, Any], field: str | None, rule: str | None
) -> None:
    response = client.post("/api/risk/tyrer-cuzick-inputs", json={**TC, **changes})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    if field is None:
        assert "relation" in problem["detail"]
    else:
        assert (problem["field"], problem["rule"]) == (field, rule)


def test_tyrer_cuzick_inputs_stored_with_the_study(client: TestClient) -> None:
    response = client.post("/api/risk/tyrer-cuzick-inputs", json={**TC, "study_instance_uid": STUDY})
    assert response.status_code == 200 and response.json()["stored"] is True
    doc = client.get(f"/api/studies/{STUDY}/results").json()
    (entry,) = [a for a in doc["algorithms"] if a["id"] == "breastgate.risk.tyrer_cuzick_inputs"]
    assert entry["status"] == "skipped" and "no risk computed" in entry["message"]
    assert doc["risk"] is None  # nothing computed
    with client.app.state.context.db.session() as s:  # type: ignore[attr-defined]
        (row,) = [r for r in result_store.for_study(s, STUDY) if r.algorithm_id.endswith("inputs")]
    assert row.payload["tyrer_cuzick_inputs"]["family"][0]["relation"] == "mother"
    assert (
        client.post("/api/risk/tyrer-cuzick-inputs", json={**TC, "study_instance_uid": "9.9"}).status_code
        == 404
    )
