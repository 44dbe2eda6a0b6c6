"""List routes read a page in a fixed number of SQL statements: no query per row.

Each route is called over a database holding 1 and then 50 studies (each with instances, a job,
a worklist entry, an order); the statements the request runs are counted with SQLAlchemy's
``before_cursor_execute`` event and must not grow with the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from breastgate.domain.orders import Order, PatientDemographics
from breastgate.jobs import ledger
from breastgate.store import studies
from breastgate.store import worklist as worklist_store
from breastgate.store.db import Database
from breastgate.store.orders import record_order
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from tests.support.db import upgrade
from tests.support.identity import grant
from tests.support.responses import same_bodies_fixture  # noqa: F401 - fixture

#: Every typed JSON answer is the body the route built (tests.support.responses).
pytestmark = pytest.mark.usefixtures("same_bodies")

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ALGORITHMS = ("breastgate.density", "breastgate.masses")
#: List routes that return a page of rows (DICOM JSON search included).
PAGES = (
    "/api/studies",
    "/api/worklist",
    "/api/orders",
    "/ups-rs/workitems",
)


def _seed(db: Database, count: int) -> None:
    """``count`` studies with two instances, two jobs (one done), a worklist entry and an order."""
    with db.session() as s:
        for n in range(count):
            uid = f"1.2.826.0.1.3680043.8.498.{n + 1}"
            at = T0 + timedelta(minutes=n)
            for k, view in enumerate(("CC", "MLO")):
                studies.record_instance(
                    s,
                    studies.InstanceInfo(
                        study_instance_uid=uid, series_instance_uid=f"{uid}.1",
                        sop_instance_uid=f"{uid}.1.{k}", sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2",
                        path=f"/nowhere/{n}-{k}.dcm", modality="MG", laterality="R", view=view,
                        patient_id=f"P{n}", accession_number=f"A{n}",
                    ),
                    now=at,
                )  # fmt: skip
            for algorithm in ALGORITHMS:
                job_id = ledger.schedule(s, uid, algorithm, 1)
            ledger.claim(s, job_id, "w", 60)
            ledger.complete(s, job_id, "w")
            worklist_store.apply_triage(
                s, uid, priority="routine", score=5.0, flags=("dense_breast",),
                policy="breastgate.triage@1.0.0", queue="radiologist", modality="MG",
                accession_number=f"A{n}", arrived_at=at, now=at,
            )  # fmt: skip
            patient = PatientDemographics(patient_id=f"P{n}", name="DOE^JANE")
            order = Order(patient, control="NW", accession_number=f"A{n}", placer_order_number=f"O{n}")
            record_order(s, order, now=at)


@contextmanager
def _counting(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _statements(tmp_path: Path, count: int, path: str) -> tuple[int, Any]:
    url = f"sqlite:///{tmp_path / f'bg-{count}.db'}"
    upgrade(url)
    db = Database(url)
    try:
        _seed(db, count)
        context = AppContext(db=db, version="t", ae_title="BG", dicom_port=None, workers_in_process=False)
        client = grant(TestClient(create_app(context)), context.db)
        with _counting(db) as statements:
            response = client.get(path)
        assert response.status_code == 200, response.text
        return len(statements), response.json()
    finally:
        db.dispose()


def _rows(body: Any) -> list[Any]:
    rows: list[Any] = body if isinstance(body, list) else body["items"]  # UPS-RS: a DICOM JSON array
    return rows


@pytest.mark.parametrize("path", PAGES)
def test_a_page_of_50_runs_as_many_statements_as_a_page_of_1(tmp_path: Path, path: str) -> None:
    one, body_one = _statements(tmp_path, 1, path)
    fifty, body_fifty = _statements(tmp_path, 50, path)
    assert (len(_rows(body_one)), len(_rows(body_fifty))) == (1, 50)  # the pages are what we think
    assert fifty == one, f"{path}: {one} statements for 1 row, {fifty} for 50"


def test_the_studies_page_still_lists_each_studys_jobs(tmp_path: Path) -> None:
    _, body = _statements(tmp_path, 3, "/api/studies")
    for item in body["items"]:
        assert [(j["algorithm_id"], j["state"], j["attempts"]) for j in item["jobs"]] == [
            ("breastgate.density", "queued", 0),
            ("breastgate.masses", "done", 1),
        ]
