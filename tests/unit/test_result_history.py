"""``result_history``: every version's result is kept; ``result`` still holds only the latest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from breastgate.store import results as result_store
from breastgate.store import studies
from breastgate.store import tables as t
from breastgate.store.db import Database
from tests.support.db import upgrade

STUDY = "1.2.826.0.1.3680043.8.498.101"
OTHER = "1.2.826.0.1.3680043.8.498.102"
MASSES = "breastgate.masses"


def add_study(db: Database, uid: str, accession: str | None = None) -> None:
    with db.session() as s:
        studies.record_instance(
            s,
            studies.InstanceInfo(
                study_instance_uid=uid,
                series_instance_uid=uid + ".1",
                sop_instance_uid=uid + ".1.1",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2",
                path="/nowhere/1.dcm",
                modality="MG",
                laterality="R",
                view="CC",
                presentation_intent="FOR PRESENTATION",
                accession_number=accession,
            ),
        )


def save(
    db: Database, uid: str, version: str, payload: dict[str, Any], status: str = "ok", generation: int = 1
) -> None:
    with db.session() as s:
        result_store.save(
            s,
            study_instance_uid=uid,
            algorithm_id=MASSES,
            algorithm_version=version,
            status=status,
            generation=generation,
            payload=payload,
        )


def test_a_new_version_replaces_the_latest_and_keeps_the_old_one_in_history(db: Database) -> None:
    add_study(db, STUDY)
    save(db, STUDY, "1.0.0", {"findings": [{"score": 0.3}]})
    save(db, STUDY, "2.0.0", {"findings": [{"score": 0.7}]})

    with db.session() as s:
        (latest,) = result_store.for_study(s, STUDY)
        assert (latest.algorithm_version, latest.payload) == ("2.0.0", {"findings": [{"score": 0.7}]})
        (v1,) = result_store.history(s, MASSES, "1.0.0")
        (v2,) = result_store.history(s, MASSES, "2.0.0")
    assert (v1.study_instance_uid, v1.algorithm_version, v1.status) == (STUDY, "1.0.0", "ok")
    assert v1.payload == {"findings": [{"score": 0.3}]}
    assert v2.payload == {"findings": [{"score": 0.7}]}
    assert v1.created_at.tzinfo is not None


def test_saving_the_same_version_again_updates_its_history_row_only(db: Database) -> None:
    add_study(db, STUDY)
    save(db, STUDY, "1.0.0", {"findings": []})
    save(db, STUDY, "1.0.0", {"findings": []})
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(t.ResultHistory)) == 1
        assert s.scalar(select(func.count()).select_from(t.Result)) == 1
    # A re-run of the same version (re-opened study, next generation) replaces that version's row.
    save(db, STUDY, "1.0.0", {"findings": [{"score": 0.9}]}, generation=2)
    with db.session() as s:
        (row,) = result_store.history(s, MASSES, "1.0.0")
        assert s.scalar(select(func.count()).select_from(t.ResultHistory)) == 1
    assert (row.generation, row.payload) == (2, {"findings": [{"score": 0.9}]})


def test_history_filters_by_status_and_common_studies_need_ok_on_both_sides(db: Database) -> None:
    add_study(db, STUDY)
    add_study(db, OTHER)
    save(db, OTHER, "1.0.0", {"findings": []})
    save(db, STUDY, "1.0.0", {"findings": []})
    save(db, STUDY, "2.0.0", {"findings": []})
    save(db, OTHER, "2.0.0", {"findings": []}, status="failed")
    with db.session() as s:
        assert [r.study_instance_uid for r in result_store.history(s, MASSES, "1.0.0")] == [STUDY, OTHER]
        assert [r.study_instance_uid for r in result_store.history(s, MASSES, "2.0.0", status="ok")] == [
            STUDY
        ]
        assert result_store.common_ok_studies(s, (MASSES, "1.0.0"), (MASSES, "2.0.0")) == [STUDY]
        assert result_store.common_ok_studies(s, (MASSES, "2.0.0"), (MASSES, "1.0.0")) == [STUDY]
        assert result_store.common_ok_studies(s, (MASSES, "1.0.0"), (MASSES, "9.9.9")) == []
        assert result_store.history(s, "nobody.nothing", "1.0.0") == []


def test_the_migration_backfills_history_from_existing_results(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0007")
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO study (study_instance_uid, state, generation, instance_count,"
                " first_received_at, last_received_at) VALUES (:u, 'stable', 1, 1, :at, :at)"
            ),
            {"u": STUDY, "at": "2026-01-01 00:00:00"},
        )
        c.execute(
            text(
                "INSERT INTO result (study_instance_uid, algorithm_id, algorithm_version, status,"
                " generation, payload, created_at) VALUES (:u, :a, '1.0.0', 'ok', 1, '{}', :at)"
            ),
            {"u": STUDY, "a": MASSES, "at": "2026-01-01 00:00:00"},
        )
    engine.dispose()
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as s:
            (row,) = result_store.history(s, MASSES, "1.0.0")
        assert (row.study_instance_uid, row.status, row.payload) == (STUDY, "ok", {})
    finally:
        db.dispose()
