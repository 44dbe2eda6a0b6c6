"""The audit chain: appended in the caller's transaction, and every tampering is found and located."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from breastgate.domain.audit import GENESIS, AuditKind, canonical_data, event_hash
from breastgate.governance.audit import export, verify_database, verify_export
from breastgate.store import audit
from breastgate.store.db import Database


def fill(db: Database, n: int = 10) -> None:
    with db.session() as s:
        for i in range(1, n + 1):
            audit.append(
                s,
                AuditKind.RESULT_VIEWED,
                actor=f"user{i % 3}",
                study_instance_uid=f"1.2.3.{i}",
                data={"i": i, "note": "ü"},
            )


def test_empty_chain_verifies(db: Database) -> None:
    report = verify_database(db)
    assert report.ok and report.count == 0


def test_append_links_events_and_moves_the_head(db: Database) -> None:
    fill(db, 5)
    with db.session() as s:
        events = list(audit.iter_events(s, batch=2))
        head = audit.head(s)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert head == (5, events[-1].hash)
    assert verify_database(db).ok


def test_event_rolls_back_with_the_change_it_records(db: Database) -> None:
    fill(db, 2)
    with pytest.raises(RuntimeError), db.session() as s:
        audit.append(s, AuditKind.MODE_CHANGED, actor="x", data={})
        raise RuntimeError("the change failed")
    with db.session() as s:
        assert audit.head(s)[0] == 2
    fill(db, 1)
    assert verify_database(db).ok


def sql(db: Database, statement: str) -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql(statement)


def problems(db: Database) -> list[tuple[int, str]]:
    report = verify_database(db)
    assert not report.ok
    return [(p.seq, p.problem) for p in report.problems]


def test_edited_event_is_found_at_its_sequence(db: Database) -> None:
    fill(db)
    sql(db, """UPDATE audit_event SET data = '{"i":4,"note":"changed"}' WHERE seq = 4""")
    found = problems(db)
    assert found[0][0] == 4 and "edited" in found[0][1]


def test_edited_actor_is_found(db: Database) -> None:
    fill(db)
    sql(db, "UPDATE audit_event SET actor = 'someone else' WHERE seq = 7")
    assert problems(db)[0][0] == 7


def test_edit_with_rehash_breaks_the_next_link(db: Database) -> None:
    """Even recomputing the edited event's own hash is caught: the next event points at the old hash."""
    fill(db)
    with db.session() as s:
        event = next(e for e in audit.iter_events(s) if e.seq == 3)
    forged_data = canonical_data({"i": 3, "note": "forged"})
    forged = event_hash(
        seq=3,
        at=event.at,
        kind=event.kind,
        actor=event.actor,
        study_instance_uid=event.study_instance_uid,
        subject=event.subject,
        data_text=forged_data,
        prev_hash=event.prev_hash,
    )
    sql(db, f"UPDATE audit_event SET data = '{forged_data}', hash = '{forged}' WHERE seq = 3")
    found = problems(db)
    assert found[0][0] == 4 and "link" in found[0][1]


def test_deleted_event_is_found(db: Database) -> None:
    fill(db)
    sql(db, "DELETE FROM audit_event WHERE seq = 5")
    found = problems(db)
    assert found[0][0] == 6 and "5 missing" in found[0][1]


def test_deleted_tail_is_found_against_the_head(db: Database) -> None:
    fill(db)
    sql(db, "DELETE FROM audit_event WHERE seq >= 9")
    found = problems(db)
    assert found == [(10, found[0][1])] and "ends at event 8" in found[0][1]


def test_inserted_event_is_found(db: Database) -> None:
    fill(db)
    sql(
        db,
        "INSERT INTO audit_event (seq, at, kind, actor, study_instance_uid, subject, data, prev_hash, hash) "
        "VALUES (11, '2026-11-29T00:00:00.000000Z', 'result.viewed', 'intruder', NULL, NULL, '{}', "
        f"'{'0' * 64}', '{'1' * 64}')",
    )
    found = problems(db)
    assert {seq for seq, _ in found} >= {11}


def test_inserted_event_in_the_middle_is_found(db: Database) -> None:
    fill(db)
    # make room: shift events 6..10 up by one and put a forged one at 6
    sql(db, "UPDATE audit_event SET seq = seq + 100 WHERE seq >= 6")
    sql(db, "UPDATE audit_event SET seq = seq - 99 WHERE seq >= 106")
    sql(
        db,
        "INSERT INTO audit_event (seq, at, kind, actor, study_instance_uid, subject, data, prev_hash, hash) "
        "SELECT 6, at, kind, 'intruder', study_instance_uid, subject, data, hash, hash FROM audit_event "
        "WHERE seq = 5",
    )
    found = problems(db)
    assert found[0][0] == 6


def test_reordered_events_are_found(db: Database) -> None:
    fill(db)
    sql(db, "UPDATE audit_event SET seq = -1 WHERE seq = 3")
    sql(db, "UPDATE audit_event SET seq = 3 WHERE seq = 4")
    sql(db, "UPDATE audit_event SET seq = 4 WHERE seq = -1")
    found = problems(db)
    assert found[0][0] == 3


def test_export_round_trips_and_verifies_on_its_own(db: Database, tmp_path: Path) -> None:
    fill(db, 20)
    out = tmp_path / "audit.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        count, head_seq, head_hash = export(db, handle)
    assert (count, head_seq) == (20, 20)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["hash"] == head_hash
    assert verify_export(out).ok
    # a regulator's copy edited by hand is caught too
    raw = json.loads(lines[9])
    raw["data"]["i"] = 999
    lines[9] = json.dumps(raw)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = verify_export(out)
    assert not report.ok and report.problems[0].seq == 10
