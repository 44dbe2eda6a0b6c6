"""Two algorithm versions side by side (``governance.compare``), through the real store on SQLite:
figures against scikit-learn and SciPy, the API route, and ``breastgate compare`` as a process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import Mode
from breastgate.governance import outcomes
from breastgate.governance.compare import (
    Outputs,
    StudyPair,
    VersionRef,
    compare_versions,
    comparison_document,
    summary_lines,
)
from breastgate.store import governance as governance_store
from breastgate.store import results as result_store
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from tests.support.db import upgrade
from tests.support.gateway import BREASTGATE
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture
from tests.unit.test_result_history import add_study

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

MASSES, DENSITY = "breastgate.masses", "breastgate.density"
A, B = VersionRef(MASSES, "1.0.0"), VersionRef(MASSES, "2.0.0")
DA, DB = VersionRef(DENSITY, "1.0.0"), VersionRef(DENSITY, "1.1.0")
SRC = Path(__file__).resolve().parents[2] / "src"


def uid(i: int) -> str:
    return f"1.2.826.0.1.3680043.8.498.2{i:02d}"


# Case scores (highest finding score) of A and B on studies 0-11; study 11 has no finding under A.
SCORES_A = [0.9, 0.25, 0.3, 0.2, 0.6, 0.1, 0.4, 0.7, 0.5, 0.05, 0.35, 0.0]
SCORES_B = [0.95, 0.3, 0.5, 0.1, 0.65, 0.45, 0.2, 0.9, 0.45, 0.05, 0.8, 0.1]
# Truth: True cancer, False not cancer, None unknown (BI-RADS 0) or no outcome (study 10).
CANCER: list[bool | None] = [True, True, False, False, True, False, False, True, None, False, None, False]
DENSITY_A = ["a", "b", "b", "c", "d", "c", "b", "a", "c", "d", "b", "c"]
DENSITY_B = ["a", "b", "c", "c", "c", "c", "b", "b", "c", "d", "d", "c"]
RADIOLOGIST = ["a", "b", "c", "c", "d", None, "b", "b", "c", "d", None, "c"]


def findings(*scores: float) -> dict[str, Any]:
    return {"findings": [{"id": f"f{k}", "kind": "mass", "score": s} for k, s in enumerate(scores)]}


def save(db: Database, study: str, ref: VersionRef, payload: dict[str, Any], status: str = "ok") -> None:
    with db.session() as s:
        result_store.save(
            s,
            study_instance_uid=study,
            algorithm_id=ref.algorithm_id,
            algorithm_version=ref.version,
            status=status,
            generation=1,
            payload=payload,
        )


def populate(db: Database) -> None:
    """Twelve studies with both versions of masses and density, outcomes, and three decoys."""
    with db.session() as s:
        for ref in (A, B):
            governance_store.register_version(
                s,
                algorithm_id=MASSES,
                version=ref.version,
                name="Masses",
                manifest={"outputs": ["findings", "mass"]},
                available=True,
                availability="",
                initial_mode=Mode.SILENT,
            )
    for i in range(14):
        add_study(db, uid(i), accession=f"ACC{i}")
    for i in range(12):
        a_scores = () if i == 11 else (SCORES_A[i], SCORES_A[i] / 2)
        b_scores = (SCORES_B[i], SCORES_B[i] / 2) if i in (9, 10) else (SCORES_B[i],)
        save(db, uid(i), A, findings(*a_scores))
        save(db, uid(i), B, findings(*b_scores))
        save(db, uid(i), DA, {"density": {"category": DENSITY_A[i]}, "findings": []})
        save(db, uid(i), DB, {"density": {"category": DENSITY_B[i]}, "findings": []})
    save(db, uid(12), A, findings(0.99))  # only A ran
    save(db, uid(13), A, findings(0.99))
    save(db, uid(13), B, {"findings": []}, status="failed")  # B failed: not in common
    with db.session() as s:
        for i in range(12):
            if i == 10:
                continue
            by_accession = i == 7  # this outcome carries only the accession number
            birads = {True: "6", False: "1", None: "0"}[CANCER[i]]
            outcomes.record(
                s,
                outcomes.OutcomeRecord(
                    source="api",
                    study_instance_uid=None if by_accession else uid(i),
                    accession_number=f"ACC{i}" if by_accession else None,
                    final_birads=birads,
                    density=RADIOLOGIST[i],
                ),
                actor="test",
            )


def test_version_refs_parse_and_reject_bad_text() -> None:
    assert VersionRef.parse(" breastgate.masses@1.0.0 ") == A
    assert str(VersionRef.parse("vendor.x@2@beta")) == "vendor.x@2@beta"  # version after the last @
    for bad in ("breastgate.masses", "@1.0.0", "breastgate.masses@", ""):
        with pytest.raises(InvalidInputError):
            VersionRef.parse(bad)


def test_lesion_versions_match_sklearn_and_scipy(db: Database) -> None:
    populate(db)
    with db.session() as s:
        doc = compare_versions(s, A, B, n_resamples=500, seed=3, top=5)

    assert doc["schema"] == "breastgate.comparison/1"
    assert doc["n_common"] == 12
    assert (doc["a"]["n_ok"], doc["b"]["n_ok"]) == (14, 12)
    assert doc["a"]["lesion"] and not doc["a"]["density"]
    assert [row["study_instance_uid"] for row in doc["studies"]] == [uid(i) for i in range(12)]
    assert [row["score_a"] for row in doc["studies"]] == SCORES_A
    assert [row["score_b"] for row in doc["studies"]] == SCORES_B

    known = [i for i, c in enumerate(CANCER) if c is not None]
    labels = [bool(CANCER[i]) for i in known]
    scores = doc["scores"]
    assert (scores["n_with_truth"], scores["n_cancer"]) == (10, 4)
    auc_a = roc_auc_score(labels, [SCORES_A[i] for i in known])
    auc_b = roc_auc_score(labels, [SCORES_B[i] for i in known])
    assert scores["auc_a"]["value"] == pytest.approx(auc_a, abs=1e-6)
    assert scores["auc_b"]["value"] == pytest.approx(auc_b, abs=1e-6)
    assert scores["auc_a"]["ci_low"] <= scores["auc_a"]["value"] <= scores["auc_a"]["ci_high"]
    assert auc_a < 1.0 and auc_b < 1.0 and auc_a != auc_b
    diff = scores["auc_difference"]
    assert diff["value"] == pytest.approx(auc_b - auc_a, abs=1e-6)
    assert diff["ci_low"] <= diff["value"] <= diff["ci_high"]
    rho = spearmanr(SCORES_A, SCORES_B)
    assert scores["spearman"]["rho"] == pytest.approx(rho.statistic, abs=1e-6)
    assert scores["spearman"]["p_value"] == pytest.approx(rho.pvalue, rel=1e-5)

    assert doc["findings"] == {
        "mean_a": pytest.approx(22 / 12, abs=1e-6),
        "mean_b": pytest.approx(14 / 12, abs=1e-6),
        "mean_difference": pytest.approx(-8 / 12, abs=1e-6),
        "more_in_a": 9,
        "more_in_b": 1,
        "equal": 2,
    }
    assert doc["density"] is None  # lesion algorithms: no density section


def test_disagreements_are_ordered_most_different_first(db: Database) -> None:
    populate(db)
    with db.session() as s:
        doc = compare_versions(s, A, B, n_resamples=100, top=12)
    listed = doc["disagreements"]
    # Study 9 has the same score and finding count under both versions: not a disagreement.
    assert uid(9) not in [d["study_instance_uid"] for d in listed]
    assert len(listed) == 11
    assert listed[0]["study_instance_uid"] == uid(10)
    assert listed[0]["score_difference"] == pytest.approx(0.45)
    gaps = [round(abs(SCORES_B[i] - SCORES_A[i]), 9) for i in range(12)]
    finding_gaps = [1] * 9 + [0, 0, 1]  # A: two findings on 0-10, none on 11; B: one, two on 9-10
    expected = sorted((i for i in range(12) if i != 9), key=lambda i: (-gaps[i], -finding_gaps[i], uid(i)))
    assert [d["study_instance_uid"] for d in listed] == [uid(i) for i in expected]
    with db.session() as s:
        assert len(compare_versions(s, A, B, n_resamples=100, top=3)["disagreements"]) == 3


def test_density_versions_agree_as_sklearn_kappa(db: Database) -> None:
    populate(db)
    with db.session() as s:
        doc = compare_versions(s, DA, DB, n_resamples=100)
    assert doc["scores"] is None and doc["case_score"] is None
    assert doc["a"]["density"] and not doc["a"]["lesion"]  # inferred from results (not registered)
    density = doc["density"]
    cats = ["a", "b", "c", "d"]
    assert density["n"] == 12
    assert density["exact_agreement"] == pytest.approx(8 / 12, abs=1e-6)
    for weights in ("linear", "quadratic"):
        expected = cohen_kappa_score(DENSITY_A, DENSITY_B, weights=weights, labels=cats)
        assert density[f"kappa_{weights}"] == pytest.approx(expected, abs=1e-6)
    assert sum(map(sum, density["confusion"]["counts"])) == 12
    assert density["confusion"]["counts"][3][2] == 1  # d under A, c under B (study 4)
    rated = [i for i, d in enumerate(RADIOLOGIST) if d is not None]
    assert density["vs_radiologist"]["n"] == len(rated)
    expected_b = cohen_kappa_score(
        [DENSITY_B[i] for i in rated], [RADIOLOGIST[i] for i in rated], weights="linear", labels=cats
    )
    assert density["vs_radiologist"]["kappa_linear_b"] == pytest.approx(expected_b, abs=1e-6)
    listed = doc["disagreements"]
    assert [d["study_instance_uid"] for d in listed] == [uid(10), uid(2), uid(4), uid(7)]
    assert [d["density_steps"] for d in listed] == [2, 1, 1, 1]


def test_paired_difference_of_identical_scores_is_exactly_zero() -> None:
    pairs = [
        StudyPair(uid(i), s, s, 1, 1, None, None, cancer=c)
        for i, (s, c) in enumerate(zip(SCORES_A, CANCER, strict=True))
    ]
    lesion = Outputs(lesion=True, density=False)
    doc = comparison_document(
        A, VersionRef("other.masses", "1.0.0"), lesion, lesion, pairs, n_ok_a=12, n_ok_b=12, n_resamples=200
    )
    assert doc["scores"]["auc_difference"] == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    assert doc["scores"]["spearman"]["rho"] == pytest.approx(1.0)
    assert doc["disagreements"] == []
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc  # JSON-safe: no NaN


def test_nothing_in_common_and_the_same_version_twice(db: Database) -> None:
    populate(db)
    with db.session() as s:
        doc = compare_versions(s, A, VersionRef(MASSES, "9.9.9"))
        with pytest.raises(InvalidInputError):
            compare_versions(s, A, A)
    assert doc["n_common"] == 0 and doc["scores"] is None and doc["disagreements"] == []
    assert summary_lines(doc)[1] == "studies in common: 0"


def test_api_route_returns_the_document_and_rejects_bad_specs(db: Database) -> None:
    populate(db)
    context = AppContext(
        db=db, version="test", ae_title="BREASTGATE", dicom_port=None, workers_in_process=False
    )
    client = TestClient(create_app(context))
    assert client.get("/api/algorithms/compare", params={"a": str(A), "b": str(B)}).status_code == 401
    with db.session() as s:
        governance_store.add_user(s, "committee", "ai_admin", "k" * 40, actor="test")
    client.headers["Authorization"] = "Bearer " + "k" * 40
    got = client.get("/api/algorithms/compare", params={"a": str(A), "b": str(B), "bootstrap": 100})
    assert got.status_code == 200, got.text
    with db.session() as s:
        assert got.json() == compare_versions(s, A, B, n_resamples=100)
    bad = client.get("/api/algorithms/compare", params={"a": "no-version", "b": str(B)})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "ALGORITHM_ID@VERSION" in bad.json()["title"]


def test_cli_compare_prints_and_writes_the_report(tmp_path: Path) -> None:
    home = tmp_path / "var"
    home.mkdir()
    url = f"sqlite:///{home / 'breastgate.db'}"
    upgrade(url)
    db = Database(url)
    populate(db)
    db.dispose()
    env = {
        "BG_HOME": str(home),
        "BG_CONFIG": str(tmp_path / "none.toml"),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(SRC),
    }

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BREASTGATE, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    done = run(["compare", str(A), str(B), "--bootstrap", "200", "--out", "report.json"])
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n_common"] == 12
    assert "studies in common: 12" in done.stdout
    assert f"  {uid(10)}: score 0.350 -> 0.800\n" in done.stdout
    assert f"  {uid(11)}: score 0.000 -> 0.100, findings +1\n" in done.stdout
    db = Database(url)
    with db.session() as s:
        assert report == compare_versions(s, A, B, n_resamples=200)
    db.dispose()

    nothing = run(["compare", str(A), f"{MASSES}@9.9.9"])
    assert nothing.returncode == 1 and "no study has an ok result" in nothing.stderr
    bad = run(["compare", "nonsense", str(B)])
    assert bad.returncode == 2 and "ALGORITHM_ID@VERSION" in bad.stderr
    env["BG_HOME"] = str(tmp_path / "empty")
    missing = run(["compare", str(A), str(B)])
    assert missing.returncode == 1 and "no database at" in missing.stderr
    assert not (tmp_path / "empty" / "breastgate.db").exists()
