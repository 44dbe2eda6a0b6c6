"""Monitoring per algorithm version (governance.monitoring), drift alerts (pipeline.drift_watch)
and the /api/monitoring routes, on the real SQLite schema, with data written by the real store."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from sqlalchemy import func, inspect, select

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import ConfigurationError
from breastgate.domain.governance import Mode
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    DensityAssessment,
    Finding,
    FindingKind,
    Mark,
)
from breastgate.domain.outcomes import OutcomeRecord
from breastgate.domain.payload import result_to_payload
from breastgate.governance import outcomes
from breastgate.governance.audit import verify_database
from breastgate.governance.metrics import age_band
from breastgate.governance.monitoring import algorithm_report, drift_report, version_counts
from breastgate.pipeline.drift_watch import DriftWatch
from breastgate.runtime.settings import load_settings
from breastgate.store import governance as governance_store
from breastgate.store import results as result_store
from breastgate.store import tables as t
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.migrate import alembic_config
from breastgate.store.studies import InstanceInfo, record_instance
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MG = "1.2.840.10008.5.1.4.1.1.1.2"
LESION, LESION_VERSION = "acme.masses", "1.2.0"
DENSITY, DENSITY_VERSION = "acme.density", "2.0.0"
HOLOGIC, GE, FUJI = (
    ("HOLOGIC, Inc.", "Selenia Dimensions"),
    ("GE MEDICAL SYSTEMS", "Pristina"),
    ("FUJIFILM", "AMULET"),
)
HOOK = "https://receiver.example/hooks"


# Builders ------------------------------------------------------------------------------------
def add_study(
    s: Any,
    uid: str,
    device: tuple[str, str] = HOLOGIC,
    age: int | None = 55,
    accession: str | None = None,
    stray: tuple[str, str] | None = None,
) -> None:
    """Four MG views on ``device`` (plus one image from ``stray``, outnumbered)."""
    images = [device] * 4 + ([stray] if stray else [])
    for k, (manufacturer, model) in enumerate(images):
        record_instance(
            s,
            InstanceInfo(
                study_instance_uid=uid, series_instance_uid=f"{uid}.1", sop_instance_uid=f"{uid}.1.{k}",
                sop_class_uid=MG, path=f"/nowhere/{uid}.{k}.dcm", modality="MG", laterality="LR"[k % 2],
                view="CC", manufacturer=manufacturer, model=model, patient_age=age,
                accession_number=accession,
            ),
            now=T0,
        )  # fmt: skip


def lesion_payload(uid: str, scores: Sequence[float], version: str = LESION_VERSION) -> dict[str, Any]:
    findings = tuple(
        Finding(
            f"f{i}", FindingKind.MASS, "L", s, (Mark(f"{uid}.1.0", (10.0, 10.0), (5.0, 5.0, 15.0, 15.0), s),)
        )
        for i, s in enumerate(scores)
    )
    result = AlgorithmResult(
        LESION, version, uid, AlgorithmStatus.OK, findings=findings, operating_threshold=0.4
    )
    return result_to_payload(result)


def density_payload(uid: str, category: str, percent: float) -> dict[str, Any]:
    result = AlgorithmResult(
        DENSITY, DENSITY_VERSION, uid, AlgorithmStatus.OK, density=DensityAssessment(category, percent)
    )
    return result_to_payload(result)


def save(s: Any, payload: dict[str, Any], status: str = "ok", now: datetime = T0) -> None:
    result_store.save(
        s, study_instance_uid=payload["study_instance_uid"], algorithm_id=payload["algorithm_id"],
        algorithm_version=payload["algorithm_version"], status=status, generation=1, payload=payload, now=now,
    )  # fmt: skip


def outcome(s: Any, **kw: Any) -> None:
    outcomes.record(s, OutcomeRecord(source=kw.pop("source", "api"), **kw), actor="test")


# The cohort ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    uid: str
    score: float
    cancer: bool
    device: str
    age: int | None
    density: str  # radiologist's, else the AI's: what the density subgroup uses
    radiologist_density: str | None
    ai_density: str


AGES = (38, 45, 52, 63, 71, None)


def build_cohort(db: Database) -> list[Case]:
    """48 studies with known truth (12 cancers), 5 with unknown truth, one failed result, one
    result of another version. Truth arrives in every form truth_of reads: pathology and explicit
    outcomes, BI-RADS 1/2/6, by Study Instance UID or only by accession number."""
    rng = np.random.default_rng(7)
    cases = []
    with db.session() as s:
        for i in range(48):
            uid = f"1.2.3.{i}"
            cancer = i % 4 == 0
            device = GE if i % 3 == 0 else HOLOGIC
            accession = f"ACC{i}"
            add_study(s, uid, device, AGES[i % 6], accession, stray=FUJI if i % 5 == 0 else None)
            no_findings = not cancer and i % 5 == 1
            score = round(float(rng.uniform(0.3, 1.0) if cancer else rng.uniform(0.0, 0.7)), 3)
            save(s, lesion_payload(uid, [] if no_findings else [score, round(score / 2, 3)]))
            by = {"accession_number": accession} if i % 7 == 3 else {"study_instance_uid": uid}
            if cancer:
                kind = {"outcome": "cancer", "source": "pathology"} if i % 8 == 0 else {"final_birads": "6"}
            else:
                kind = [
                    {"outcome": "normal"},
                    {"outcome": "benign"},
                    {"final_birads": "1"},
                    {"final_birads": "2"},
                ][i % 4]
            radiologist = "abcd"[i % 4] if i % 2 == 0 else None
            outcome(s, **by, **kind, **({"density": radiologist} if radiologist else {}))
            ai = "abcd"[(i + (i % 3 == 0)) % 4]  # one category off for a third of the studies
            save(s, density_payload(uid, ai, 10.0 + 20 * "abcd".index(ai)))
            cases.append(
                Case(uid, 0.0 if no_findings else score, cancer, "{} / {}".format(*device), AGES[i % 6],
                     radiologist or ai, radiologist, ai)
            )  # fmt: skip
        for j, truth in enumerate(
            [None, None, {"final_birads": "0"}, {"final_birads": "0"}, {"final_birads": "4"}]
        ):
            uid = f"1.2.4.{j}"
            add_study(s, uid, HOLOGIC, 50)
            save(s, lesion_payload(uid, [0.9]))
            if truth:
                outcome(s, study_instance_uid=uid, **truth)
        add_study(s, "1.2.5.0")
        failed = AlgorithmResult(LESION, LESION_VERSION, "1.2.5.0", AlgorithmStatus.FAILED, message="boom")
        save(s, result_to_payload(failed), status="failed")
        add_study(s, "1.2.5.1")
        save(s, lesion_payload("1.2.5.1", [0.99], version="1.1.0"))
        outcome(s, study_instance_uid="1.2.5.1", outcome="cancer")
    return cases


@pytest.fixture
def cohort(db: Database) -> list[Case]:
    return build_cohort(db)


def test_report_counts_unknown_truth_and_excludes_other_versions_and_failures(
    db: Database, cohort: list[Case]
) -> None:
    with db.session() as s:
        report = algorithm_report(s, LESION, LESION_VERSION, bootstrap=200)
    assert report["kind"] == "lesion"
    assert report["counts"] == {
        "results": 54, "ok": 53, "failed": 1, "skipped": 0, "with_truth": 48, "n_unknown": 5,
        "cancer": 12, "not_cancer": 36,
    }  # fmt: skip
    assert report["auc"]["n_positive"] + report["auc"]["n_negative"] == 48
    json.dumps(report, allow_nan=False)  # JSON-able, NaN as null


def test_auc_and_operating_point_match_an_independent_computation(db: Database, cohort: list[Case]) -> None:
    with db.session() as s:
        report = algorithm_report(s, LESION, LESION_VERSION, bootstrap=500, seed=3)
    scores = np.array([c.score for c in cohort])
    labels = np.array([c.cancer for c in cohort])
    auc = report["auc"]
    assert auc["value"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-6)
    assert auc["ci_low"] <= auc["value"] <= auc["ci_high"] and auc["n_resamples"] == 500
    assert report["operating_points_source"] == "results"
    [point] = report["operating_points"]
    called = scores >= 0.4
    tp, fp = int((called & labels).sum()), int((called & ~labels).sum())
    fn, tn = int((~called & labels).sum()), int((~called & ~labels).sum())
    assert (point["threshold"], point["tp"], point["fp"], point["fn"], point["tn"]) == (0.4, tp, fp, fn, tn)
    assert point["sensitivity"] == pytest.approx(tp / (tp + fn), abs=1e-6)
    assert point["specificity"] == pytest.approx(tn / (tn + fp), abs=1e-6)
    assert point["recall_rate"] == pytest.approx((tp + fp) / 48, abs=1e-6)
    assert point["ppv"] == pytest.approx(tp / (tp + fp), abs=1e-6)
    assert point["cdr_per_1000"] == pytest.approx(1000 * tp / 48, abs=1e-4)
    with db.session() as s:
        given = algorithm_report(s, LESION, LESION_VERSION, operating_points=[0.2, 0.8], bootstrap=0)
    assert [p["threshold"] for p in given["operating_points"]] == [0.2, 0.8]
    assert given["operating_points_source"] == "given" and given["subgroup_threshold"] == 0.2


def test_subgroups_by_device_age_band_and_density(db: Database, cohort: list[Case]) -> None:
    with db.session() as s:
        report = algorithm_report(s, LESION, LESION_VERSION, bootstrap=200)
    devices = {row["group"]: row for row in report["subgroups"]["device"]}
    # the FUJI image in some studies is outnumbered by their four HOLOGIC/GE views
    assert sorted(devices) == ["GE MEDICAL SYSTEMS / Pristina", "HOLOGIC, Inc. / Selenia Dimensions"]
    for name, row in devices.items():
        members = [c for c in cohort if c.device == name]
        assert (row["n"], row["positives"]) == (len(members), sum(c.cancer for c in members))
        expected = roc_auc_score([c.cancer for c in members], [c.score for c in members])
        assert row["auc"]["value"] == pytest.approx(expected, abs=1e-6)
    bands = [(row["group"], row["n"]) for row in report["subgroups"]["age_band"]]
    assert bands == [
        (band, sum(1 for c in cohort if age_band(c.age) == band))
        for band in ("<40", "40-49", "50-59", "60-69", "70+", "unknown")
    ]
    assert all(n == 8 for _, n in bands)
    densities = {row["group"]: row["n"] for row in report["subgroups"]["density"]}
    assert densities == {d: sum(1 for c in cohort if c.density == d) for d in "abcd"}


def test_density_agreement_matches_sklearn_kappa(db: Database, cohort: list[Case]) -> None:
    with db.session() as s:
        report = algorithm_report(s, DENSITY, DENSITY_VERSION)
    assert report["kind"] == "density" and "auc" not in report
    agreement = report["density_agreement"]
    rated = [c for c in cohort if c.radiologist_density is not None]
    ai, radiologist = [c.ai_density for c in rated], [c.radiologist_density for c in rated]
    assert (agreement["n"], agreement["n_unknown"]) == (24, 24)
    assert agreement["kappa_linear"] == pytest.approx(
        cohen_kappa_score(ai, radiologist, weights="linear"), abs=1e-6
    )
    assert agreement["kappa_quadratic"] == pytest.approx(
        cohen_kappa_score(ai, radiologist, weights="quadratic"), abs=1e-6
    )
    assert agreement["exact_agreement"] == pytest.approx(
        np.mean([a == r for a, r in zip(ai, radiologist, strict=True)])
    )
    assert sum(map(sum, agreement["confusion_ai_rows_radiologist_columns"])) == 24
    assert {row["group"]: row["n"] for row in agreement["by_device"]} == {
        "GE MEDICAL SYSTEMS / Pristina": sum(1 for c in rated if c.device.startswith("GE")),
        "HOLOGIC, Inc. / Selenia Dimensions": sum(1 for c in rated if c.device.startswith("HOLOGIC")),
    }
    assert report["counts"]["n_unknown"] == 48 - report["counts"]["with_truth"]


def test_for_studies_equals_for_study(db: Database, cohort: list[Case]) -> None:
    with db.session() as s:
        wanted = {c.uid: f"ACC{c.uid.rsplit('.', 1)[1]}" for c in cohort} | {"1.2.4.0": None, "9.9": None}
        bulk = outcomes.for_studies(s, wanted)
        assert bulk == {uid: outcomes.for_study(s, uid, acc) for uid, acc in wanted.items()}
        assert bulk["9.9"] == [] and len(bulk["1.2.3.3"]) == 1


# Drift ---------------------------------------------------------------------------------------
def quantiles(n: int, shift: float = 0.0) -> list[float]:
    """``n`` evenly spread quantiles of one score distribution, shifted by ``shift`` (clipped)."""
    return [min(1.0, ((k + 0.5) / n) ** 2 + shift) for k in range(n)]


def register(s: Any) -> None:
    governance_store.register_version(
        s, algorithm_id=LESION, version=LESION_VERSION, name="masses", manifest={"outputs": ["findings"]},
        available=True, availability="", initial_mode=Mode.SILENT,
    )  # fmt: skip


def populate_drift(db: Database, *, shift: float, device: tuple[str, str] = HOLOGIC) -> list[str]:
    """60 results over the baseline window (T0-30d .. T0-7d), 40 over the current one (T0-7d ..
    T0), on one device; returns the current window's study UIDs."""
    current = []
    with db.session() as s:
        register(s)
        for k, score in enumerate(quantiles(60)):
            uid = f"1.5.1.{k}"
            add_study(s, uid, device)
            save(s, lesion_payload(uid, [score]), now=T0 - timedelta(days=29) + timedelta(hours=8 * k))
        for k, score in enumerate(quantiles(40, shift)):
            uid = f"1.5.2.{k}"
            add_study(s, uid, device)
            save(s, lesion_payload(uid, [score]), now=T0 - timedelta(days=6) + timedelta(hours=3 * k))
            current.append(uid)
    return current


def rescore(db: Database, uids: Sequence[str], shift: float) -> None:
    """Replace the current window's results (same times) with scores shifted by ``shift``."""
    with db.session() as s:
        for k, (uid, score) in enumerate(zip(uids, quantiles(len(uids), shift), strict=True)):
            save(s, lesion_payload(uid, [score]), now=T0 - timedelta(days=6) + timedelta(hours=3 * k))


def drift_events(db: Database) -> list[t.AuditEventRow]:
    with db.session() as s:
        return list(
            s.scalars(select(t.AuditEventRow).where(t.AuditEventRow.kind == AuditKind.DRIFT_ALERT.value))
        )


def webhook_rows(db: Database) -> list[t.OutboxItem]:
    with db.session() as s:
        return list(
            s.scalars(select(t.OutboxItem).where(t.OutboxItem.kind == "webhook").order_by(t.OutboxItem.id))
        )


def watch(db: Database, tmp_path: Path, webhooks: Sequence[str] = (HOOK,)) -> DriftWatch:
    return DriftWatch(db, BlobStore(tmp_path / "store"), results_path=tmp_path / "results", webhooks=webhooks)


def test_drift_report_per_device(db: Database) -> None:
    populate_drift(db, shift=0.3)
    with db.session() as s:
        report = drift_report(s, LESION, LESION_VERSION, baseline_days=30, current_days=7, now=T0)
    assert report["quantity"] == "case_score"
    assert (report["baseline"]["n"], report["current"]["n"]) == (60, 40)
    [check] = report["checks"]
    assert check["device"] == "HOLOGIC, Inc. / Selenia Dimensions"
    assert check["evaluated"] and check["crossed"] and check["psi"] >= 0.25
    json.dumps(report, allow_nan=False)
    with db.session() as s:  # windows too short for 30 scores each: evaluated neither way
        short = drift_report(s, LESION, LESION_VERSION, baseline_days=1, current_days=1, now=T0)
    assert all(not c["evaluated"] and not c["crossed"] and c["note"] for c in short["checks"])


def test_shift_alerts_once_then_again_after_recovery(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    current = populate_drift(db, shift=0.3)
    watcher = watch(db, tmp_path)
    with caplog.at_level(logging.WARNING, logger="breastgate.pipeline.drift_watch"):
        [alert] = watcher.tick(now=T0)
    assert (alert.algorithm_id, alert.version, alert.number) == (LESION, LESION_VERSION, 1)
    assert alert.device == "HOLOGIC, Inc. / Selenia Dimensions" and alert.webhook_key is not None
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "drift alert" in record.getMessage() and "1.5." not in record.getMessage()  # no study UIDs
    [event] = drift_events(db)
    data = json.loads(event.data)
    assert event.subject == f"{LESION}@{LESION_VERSION}" and data["device"] == alert.device
    assert data["psi"] >= 0.25 and data["n_current"] == 40
    report = verify_database(db)
    assert report.ok, report.lines()
    [hook] = webhook_rows(db)
    assert (hook.destination, hook.sop_instance_uid) == (HOOK, alert.webhook_key)
    body = json.loads(Path(hook.path).read_text())
    assert body["event"] == "drift.alert" and body["data"]["alert"] == 1

    assert watcher.tick(now=T0 + timedelta(hours=1)) == []  # still drifted: no second alert
    assert watch(db, tmp_path).tick(now=T0 + timedelta(hours=2)) == []  # nor after a "restart"
    assert len(drift_events(db)) == 1 and len(webhook_rows(db)) == 1

    rescore(db, current, shift=0.0)  # recovery
    assert watcher.tick(now=T0 + timedelta(hours=3)) == []
    with db.session() as s:
        state = s.get(t.DriftState, (LESION, LESION_VERSION, alert.device))
        assert state is not None and (state.crossed, state.alerts) == (False, 1)

    rescore(db, current, shift=0.3)  # drifts again
    [again] = watcher.tick(now=T0 + timedelta(hours=4))
    assert again.number == 2 and again.webhook_key != alert.webhook_key
    assert len(drift_events(db)) == 2 and len(webhook_rows(db)) == 2
    assert verify_database(db).ok


def test_no_alert_without_shift(db: Database, tmp_path: Path) -> None:
    populate_drift(db, shift=0.0)
    assert watch(db, tmp_path).tick(now=T0) == []
    assert drift_events(db) == [] and webhook_rows(db) == []
    with db.session() as s:
        [state] = s.scalars(select(t.DriftState)).all()
        assert state.crossed is False and state.psi is not None and state.psi < 0.1


def test_alert_without_webhooks_configured_is_audited_only(db: Database, tmp_path: Path) -> None:
    populate_drift(db, shift=0.3)
    [alert] = watch(db, tmp_path, webhooks=()).tick(now=T0)
    assert alert.webhook_key is None
    assert len(drift_events(db)) == 1 and webhook_rows(db) == []


# API -----------------------------------------------------------------------------------------
def test_api_lists_versions_and_serves_reports(db: Database, cohort: list[Case]) -> None:
    client = TestClient(
        create_app(
            AppContext(
                db=db, version="test", ae_title="BREASTGATE", dicom_port=None, workers_in_process=False
            )
        )
    )
    assert client.get("/api/monitoring/algorithms").status_code == 401
    with db.session() as s:
        governance_store.add_user(s, "committee", "auditor", "t" * 40, actor="test")
    client.headers["Authorization"] = "Bearer " + "t" * 40
    listing = client.get("/api/monitoring/algorithms").json()["versions"]
    by_key = {(v["algorithm_id"], v["version"]): v for v in listing}
    assert by_key[(LESION, LESION_VERSION)]["by_status"] == {"failed": 1, "ok": 53}
    assert by_key[(LESION, "1.1.0")]["results"] == 1 and by_key[(DENSITY, DENSITY_VERSION)]["results"] == 48
    url = f"/api/monitoring/algorithms/{LESION}/versions/{LESION_VERSION}"
    report = client.get(url, params={"bootstrap": 100, "threshold": [0.3, 0.6]}).json()
    assert report["counts"]["n_unknown"] == 5
    assert [p["threshold"] for p in report["operating_points"]] == [0.3, 0.6]
    with db.session() as s:  # registered: the kind comes from the manifest, whatever the windows hold
        register(s)
    drift = client.get(url + "/drift", params={"baseline_days": 10, "current_days": 1}).json()
    assert drift["schema"] == "breastgate.drift/1" and drift["quantity"] == "case_score"
    assert client.get(url + "/drift", params={"current_days": 0}).status_code == 422
    assert client.get(f"/api/monitoring/algorithms/{LESION}/versions/9.9.9").status_code == 404
    assert client.get(url, params={"bootstrap": -1}).status_code == 422
    assert client.get(url, params={"threshold": [0.5, 1.5]}).status_code == 422
    listing = client.get("/api/monitoring/algorithms").json()["versions"]
    with db.session() as s:
        assert version_counts(s) == listing
    assert [v["registered"] for v in listing if v["algorithm_id"] == LESION] == [False, True]


# Migration -----------------------------------------------------------------------------------
def test_migration_0008_adds_columns_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0008")
    database = Database(url)
    try:
        columns = inspect(database.engine).get_columns
        assert {"manufacturer", "model"} <= {c["name"] for c in columns("instance")}
        assert "patient_age" in {c["name"] for c in columns("study")}
        assert inspect(database.engine).has_table("drift_state")
        command.downgrade(config, "0007")
        assert not inspect(database.engine).has_table("drift_state")
        assert "patient_age" not in {c["name"] for c in inspect(database.engine).get_columns("study")}
        command.upgrade(config, "head")
        with database.session() as s:
            assert s.scalar(select(func.count()).select_from(t.DriftState)) == 0
    finally:
        database.dispose()


def test_nan_free_report_for_a_version_without_results(db: Database) -> None:
    with db.session() as s:
        report = algorithm_report(s, "acme.none", "0.0.1")
    assert report["kind"] == "other" and report["counts"]["results"] == 0
    assert not any(isinstance(v, float) and math.isnan(v) for v in report["counts"].values())


# Settings ------------------------------------------------------------------------------------
def test_drift_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("BG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BG_CONFIG", str(tmp_path / "absent.toml"))
    s = load_settings()
    assert (s.drift_check_seconds, s.drift_baseline_days, s.drift_current_days) == (3600.0, 30.0, 7.0)
    monkeypatch.setenv("BG_DRIFT_CHECK_SECONDS", "0")
    monkeypatch.setenv("BG_DRIFT_CURRENT_DAYS", "14")
    s = load_settings()
    assert (s.drift_check_seconds, s.drift_current_days) == (0.0, 14.0)
    monkeypatch.setenv("BG_DRIFT_BASELINE_DAYS", "0")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value) == "BG_DRIFT_BASELINE_DAYS: '0': expected greater than 0"


def test_gateway_wires_the_drift_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from breastgate.runtime.app import Gateway

    for name in list(os.environ):
        if name.startswith("BG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BG_CONFIG", str(tmp_path / "absent.toml"))
    gateway = Gateway(load_settings(home=tmp_path / "var", dicom_port=0, hl7_port=0))
    try:
        assert gateway.drift_ticker is not None
        assert gateway.drift.tick() == []  # the built-in versions are registered, none has results
        with gateway.core.db.session() as s:
            registered = s.scalar(select(func.count()).select_from(t.AlgorithmVersionRow))
            states = s.scalar(select(func.count()).select_from(t.DriftState))
        assert registered and states == 0
    finally:
        gateway.core.close()
    off = Gateway(load_settings(home=tmp_path / "var", dicom_port=0, hl7_port=0, drift_check_seconds=0))
    try:
        assert off.drift_ticker is None
    finally:
        off.core.close()
