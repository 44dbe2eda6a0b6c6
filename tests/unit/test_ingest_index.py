"""Study/instance index: idempotency, re-open of stable studies, readiness rules, listing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from breastgate.store.db import Database
from breastgate.store.studies import (
    InstanceInfo,
    get_study_ref,
    list_studies,
    mark_stable,
    record_instance,
    studies_ready,
)
from breastgate.store.tables import Instance, Study
from tests.support.db import upgrade

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def info(study: str, sop: str, lat: str | None = "L", view: str | None = "CC", **kw: object) -> InstanceInfo:
    base: dict[str, object] = dict(
        study_instance_uid=study,
        series_instance_uid=f"{study}.1",
        sop_instance_uid=sop,
        sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2",
        path=f"/store/{sop}.dcm",
        modality="MG",
        laterality=lat,
        view=view,
        presentation_intent="FOR PRESENTATION",
        patient_id="P1",
        patient_name="Doe^Jane",
        accession_number="A1",
        study_date="20260101",
    )
    base.update(kw)
    return InstanceInfo(**base)  # type: ignore[arg-type]


def screening(db: Database, study: str, now: datetime = T0, **kw: object) -> None:
    with db.session() as s:
        for i, (lat, view) in enumerate([("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]):
            record_instance(s, info(study, f"{study}.9.{i}", lat, view, **kw), now=now)


def test_first_instance_creates_the_study(db: Database) -> None:
    with db.session() as s:
        out = record_instance(s, info("1.1", "1.1.1"), now=T0)
    assert (out.duplicate, out.study_created, out.reopened, out.generation, out.instance_count) == (
        False,
        True,
        False,
        1,
        1,
    )
    with db.session() as s:
        study = s.get(Study, "1.1")
        assert study is not None
        assert (study.patient_id, study.accession_number, study.state) == ("P1", "A1", "receiving")


def test_same_sop_twice_is_a_duplicate_and_changes_nothing(db: Database) -> None:
    with db.session() as s:
        record_instance(s, info("1.1", "1.1.1"), now=T0)
    with db.session() as s:
        mark_stable(s, "1.1")
    with db.session() as s:
        out = record_instance(s, info("1.1", "1.1.1"), now=T0 + timedelta(hours=1))
    assert out.duplicate and not out.reopened
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Instance)) == 1
        study = s.get(Study, "1.1")
        assert study is not None
        assert (study.state, study.generation, study.instance_count) == ("stable", 1, 1)


def test_new_instance_reopens_a_stable_study(db: Database) -> None:
    with db.session() as s:
        record_instance(s, info("1.1", "1.1.1"), now=T0)
        mark_stable(s, "1.1", now=T0)
    with db.session() as s:
        out = record_instance(s, info("1.1", "1.1.2", "R"), now=T0 + timedelta(minutes=5))
    assert out.reopened and out.generation == 2 and out.instance_count == 2
    with db.session() as s:
        study = s.get(Study, "1.1")
        assert study is not None
        assert (study.state, study.generation, study.stable_at) == ("receiving", 2, None)


def test_all_four_views_make_a_study_ready_at_once(db: Database) -> None:
    screening(db, "2.1")
    with db.session() as s:
        assert studies_ready(s, T0, stable_seconds=10) == ["2.1"]


def test_three_views_wait_for_the_quiet_period(db: Database) -> None:
    with db.session() as s:
        for i, (lat, view) in enumerate([("R", "CC"), ("L", "CC"), ("R", "MLO")]):
            record_instance(s, info("3.1", f"3.1.{i}", lat, view), now=T0)
    with db.session() as s:
        assert studies_ready(s, T0 + timedelta(seconds=5), stable_seconds=10) == []
        assert studies_ready(s, T0 + timedelta(seconds=11), stable_seconds=10) == ["3.1"]


def test_for_processing_views_do_not_count(db: Database) -> None:
    screening(db, "4.1", presentation_intent="FOR PROCESSING")
    with db.session() as s:
        assert studies_ready(s, T0, stable_seconds=10) == []


def test_stable_studies_are_not_ready_again(db: Database) -> None:
    screening(db, "5.1")
    with db.session() as s:
        mark_stable(s, "5.1")
    with db.session() as s:
        assert studies_ready(s, T0 + timedelta(days=1), stable_seconds=10) == []


def test_get_study_ref_and_views_present(db: Database) -> None:
    screening(db, "6.1")
    with db.session() as s:
        ref = get_study_ref(s, "6.1")
        assert get_study_ref(s, "nope") is None
    assert ref is not None
    assert len(ref.instances) == 4 and ref.generation == 1 and ref.accession_number == "A1"
    assert ref.views_present() == {("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")}


def test_list_studies_newest_first_with_counts(db: Database) -> None:
    screening(db, "7.1", now=T0)
    with db.session() as s:
        record_instance(s, info("7.2", "7.2.1", modality="US"), now=T0 + timedelta(minutes=1))
    with db.session() as s:
        rows = list_studies(s, limit=10, offset=0)
        assert [r.study_instance_uid for r in list_studies(s, limit=1, offset=1)] == ["7.1"]
    assert [r.study_instance_uid for r in rows] == ["7.2", "7.1"]
    assert rows[1].instance_count == 4 and rows[1].series_count == 1 and rows[1].modalities == ("MG",)
    assert rows[0].modalities == ("US",)
    assert rows[0].last_received_at == T0 + timedelta(minutes=1)


def test_sqlite_commits_are_durable_wal(db: Database) -> None:
    # Success is returned after the index commit: that commit must be on disk (synchronous=FULL,
    # PRAGMA value 2), not only in the OS cache (NORMAL, 1), and the journal must be WAL.
    with db.session() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_device_and_age_are_stored_and_age_is_kept_when_a_later_instance_lacks_it(db: Database) -> None:
    with db.session() as s:
        record_instance(
            s, info("1.1", "1.1.1", manufacturer="FUJIFILM", model="AMULET", patient_age=48), now=T0
        )
        record_instance(s, info("1.1", "1.1.2", manufacturer="X" * 80), now=T0)
    with db.session() as s:
        study = s.get(Study, "1.1")
        first, second = s.get(Instance, "1.1.1"), s.get(Instance, "1.1.2")
        assert study is not None and first is not None and second is not None
        assert study.patient_age == 48
        assert (first.manufacturer, first.model) == ("FUJIFILM", "AMULET")
        assert (second.manufacturer, second.model) == ("X" * 64, None)
