"""Prior pre-fetch: selection, the durable queue, the worker (fake fetcher at its seam), the
assembler keeping priors out of routing, and the HL7 use-case owing a pre-fetch with the order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pydicom
import pytest

from breastgate.dicomnet.status import check_query_status
from breastgate.domain.errors import PeerUnavailableError, RejectedError, RetryableDeliveryError
from breastgate.domain.model import DicomNode
from breastgate.ingest.messages import Hl7Service
from breastgate.ingest.service import IngestService
from breastgate.jobs import ledger
from breastgate.phantoms import generate_mg_study
from breastgate.routing.assembly import StudyAssembler
from breastgate.routing.prefetch import PrefetchWorker
from breastgate.routing.priors import StudyMatch, select_priors
from breastgate.routing.qr import _match
from breastgate.routing.rules import Rule
from breastgate.store import prefetch
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.prefetch import FetchState
from tests.support.hl7_messages import ack_code, orm

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
PACS = DicomNode("ORTHANC", "127.0.0.1", 4242)


def m(uid: str, day: str | None, *modalities: str, accession: str | None = None) -> StudyMatch:
    return StudyMatch(uid, day, tuple(modalities or ("MG",)), accession)


# Selection ---------------------------------------------------------------------------------------
def test_selects_the_most_recent_mg_studies_before_the_order_date() -> None:
    matches = [
        m("old", "20200110"),
        m("us", "20250601", "US"),
        m("newest", "20250110", "MG", "SR"),
        m("mid", "20230110"),
        m("same-day", "20261129"),
        m("after", "20261201"),
    ]
    chosen = select_priors(matches, "20261129", limit=2)
    assert [p.study_instance_uid for p in chosen] == ["newest", "mid"]
    assert [p.study_instance_uid for p in select_priors(matches, "20261129", limit=5)] == [
        "newest",
        "mid",
        "old",
    ]


def test_without_an_order_date_priors_are_dated_before_today() -> None:
    matches = [m("yesterday", "20261129"), m("today", "20261130")]
    chosen = select_priors(matches, None, today=date(2026, 11, 30))
    assert [p.study_instance_uid for p in chosen] == ["yesterday"]
    assert [p.study_instance_uid for p in select_priors(matches, "garbage", today=date(2026, 11, 30))] == [
        "yesterday"
    ]


def test_undated_unknown_modality_duplicates_and_the_current_exam_are_left_out() -> None:
    matches = [
        m("no-date", None),
        m("bad-date", "20251341"),
        StudyMatch("no-modalities", "20250101", ()),
        m("dup", "20240101"),
        m("dup", "20240101"),
        m("current-acc", "20251001", accession="ACC9"),
        m("current-uid", "20250901"),
        m("ok", "20230101", "mg"),
    ]
    current = StudyMatch("current-uid", None, (), "ACC9")
    chosen = select_priors(matches, "20261129", limit=5, current=current)
    assert [p.study_instance_uid for p in chosen] == ["dup", "ok"]
    assert select_priors(matches, "20261129", limit=0) == []
    assert [p.study_instance_uid for p in select_priors(matches, "20261129", modalities=("DX",))] == []


def test_c_find_identifiers_are_read_tolerantly() -> None:
    ds = pydicom.Dataset()
    ds.StudyInstanceUID = "1.2.3"
    ds.StudyDate = "20250101"
    ds.ModalitiesInStudy = ["MG", "SR"]
    ds.AccessionNumber = ""
    assert _match(ds) == StudyMatch("1.2.3", "20250101", ("MG", "SR"), None)
    ds.ModalitiesInStudy = "MG"
    assert _match(ds) == StudyMatch("1.2.3", "20250101", ("MG",), None)
    assert _match(pydicom.Dataset()) is None
    assert _match(None) is None


def test_status_mapping() -> None:
    check_query_status("C-MOVE", 0x0000, "x")
    check_query_status("C-MOVE", 0xB000, "x")  # partial: finished, logged
    with pytest.raises(RetryableDeliveryError):
        check_query_status("C-MOVE", 0xA701, "x")
    with pytest.raises(RejectedError, match="destination unknown"):
        check_query_status("C-MOVE", 0xA801, "x")
    with pytest.raises(RejectedError, match="unable to process"):
        check_query_status("C-FIND", 0xC001, "x")


# Queue ---------------------------------------------------------------------------------------------
def _order(db: Database, message: str, *, prefetch_priors: bool = True) -> None:
    service = Hl7Service(db, prefetch_priors=prefetch_priors, clock=lambda: T0)
    (ack,) = [service.handle(message.encode())]
    assert ack_code(ack.decode())[0] == "AA", ack


def _fetch(db: Database, order_id: int = 1) -> prefetch.FetchEntry:
    with db.session() as s:
        entry = prefetch.for_order(s, order_id)
    assert entry is not None
    return entry


def test_an_unmatched_order_owes_a_pre_fetch_in_its_own_transaction(db: Database) -> None:
    _order(db, orm("C1", patient_id="P1", accession="A1", placer="O1", scheduled="20261129"))
    entry = _fetch(db)
    assert (entry.patient_id, entry.before_date, entry.state) == ("P1", "20261129", FetchState.PENDING)
    assert entry.accession_number == "A1"  # the current exam: never taken for a prior


def test_cancelled_or_disabled_orders_owe_nothing(db: Database) -> None:
    _order(db, orm("C1", patient_id="P1", accession="A1", placer="O1", control="CA"))
    _order(db, orm("C2", patient_id="P2", accession="A2", placer="O2"), prefetch_priors=False)
    with db.session() as s:
        assert prefetch.counts(s) == {"pending": 0, "done": 0, "failed": 0}


def test_a_finished_pre_fetch_is_rearmed_only_when_the_question_changes(db: Database) -> None:
    _order(db, orm("C1", patient_id="P1", accession="A1", placer="O1", scheduled="20261129"))
    with db.session() as s:
        (claimed,) = prefetch.claim_due(s, owner="w", now=T0 + timedelta(days=1))
        assert claimed.accession_number == "A1"
        assert prefetch.mark_done(s, claimed.id, owner="w", found=2, moved=2)
    _order(db, orm("C2", patient_id="P1", accession="A1", placer="O1", control="SC", scheduled="20261129"))
    assert _fetch(db).state == FetchState.DONE  # a status update asks nothing new
    _order(db, orm("C3", patient_id="P1", accession="A1", placer="O1", control="XO", scheduled="20261203"))
    rearmed = _fetch(db)
    assert (rearmed.state, rearmed.before_date, rearmed.attempts) == (FetchState.PENDING, "20261203", 0)


def test_claim_retry_and_fail_follow_the_lease(db: Database) -> None:
    _order(db, orm("C1", patient_id="P1", accession="A1", placer="O1"))
    now = T0 + timedelta(minutes=1)
    with db.session() as s:
        (entry,) = prefetch.claim_due(s, owner="a", now=now)
        assert prefetch.claim_due(s, owner="b", now=now) == []  # leased
        assert not prefetch.mark_retry(s, entry.id, owner="b", error="x", next_attempt_at=now)
        assert prefetch.mark_retry(
            s, entry.id, owner="a", error="down", next_attempt_at=now + timedelta(seconds=60)
        )
        assert prefetch.claim_due(s, owner="b", now=now) == []  # not due yet
        (again,) = prefetch.claim_due(s, owner="b", now=now + timedelta(seconds=61))
        assert again.attempts == 1 and again.last_error == "down"
        assert prefetch.mark_failed(s, again.id, owner="b", error="refused")
    assert _fetch(db).state == FetchState.FAILED


# Worker ----------------------------------------------------------------------------------------------
class FakeSource:
    """Answers from a list; ``retrieve`` checks the study was flagged as a prior before it was asked for."""

    label = "ORTHANC"

    def __init__(self, db: Database, matches: list[StudyMatch], fail: Exception | None = None) -> None:
        self.db, self.matches, self.fail = db, matches, fail
        self.moved: list[str] = []
        self.asked: list[tuple[str, str | None]] = []

    def query(self, patient_id: str, issuer: str | None) -> list[StudyMatch]:
        self.asked.append((patient_id, issuer))
        if self.fail is not None:
            raise self.fail
        return list(self.matches)

    def retrieve(self, study_uid: str) -> int:
        with self.db.session() as s:
            assert prefetch.is_prior(s, study_uid), "flag before the retrieval"
        self.moved.append(study_uid)
        return 0


def test_worker_retrieves_the_most_recent_priors_it_does_not_have(db: Database, tmp_path: Path) -> None:
    have = generate_mg_study(7, patient_id="P1")
    ingest = IngestService(db, BlobStore(tmp_path / "store"))
    for ds in have.datasets:
        path = tmp_path / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        ingest.store_received(path, calling_ae="PACS", command_sop_instance_uid=ds.SOPInstanceUID)
    _order(db, orm("C1", patient_id="P1", accession="A1", placer="O1", scheduled="20261129"))
    fetcher = FakeSource(
        db,
        [
            m("p2024", "20240101"),
            m(have.study_instance_uid, "20250101"),
            m("p2020", "20200101"),
            m("own-exam", "20250601", accession="A1"),  # the order's own exam is never a prior
        ],
    )
    worker = PrefetchWorker(db, fetcher, count=2)
    assert worker.run_once() == 1
    assert fetcher.asked == [("P1", None)]
    assert fetcher.moved == ["p2024"]  # the 2025 study is here already
    entry = _fetch(db)
    assert (entry.state, entry.studies_found, entry.studies_moved) == (FetchState.DONE, 2, 1)
    with db.session() as s:
        assert prefetch.prior_uids(s, ["p2024", have.study_instance_uid, "p2020"]) == {"p2024"}


def test_pacs_down_is_retried_later_and_a_refusal_fails(db: Database) -> None:
    _order(db, orm("C1", patient_id="P1", accession="A1", placer="O1"))
    fetcher = FakeSource(db, [m("p1", "20240101")], fail=PeerUnavailableError("connection refused"))
    worker = PrefetchWorker(db, fetcher)
    worker.run_once()
    entry = _fetch(db)
    assert (entry.state, entry.attempts) == (FetchState.PENDING, 1)
    assert entry.last_error is not None and "connection refused" in entry.last_error
    assert entry.next_attempt_at > datetime.now(UTC)
    assert worker.run_once() == 0  # backing off
    fetcher.fail = None
    assert worker.run_once(now=entry.next_attempt_at + timedelta(seconds=1)) == 1
    assert fetcher.moved == ["p1"] and _fetch(db).state == FetchState.DONE

    _order(db, orm("C2", patient_id="P2", accession="A2", placer="O2"))
    fetcher.fail = RejectedError("C-MOVE status 0xA801 (move destination unknown)")
    worker.run_once()
    refused = _fetch(db, 2)
    assert refused.state == FetchState.FAILED and "0xA801" in (refused.last_error or "")


# Routing -----------------------------------------------------------------------------------------------
def test_the_assembler_does_not_route_a_prior(db: Database, tmp_path: Path) -> None:
    ingest = IngestService(db, BlobStore(tmp_path / "store"))
    prior, new = generate_mg_study(11, patient_id="P1"), generate_mg_study(12, patient_id="P1")
    _order(db, orm("C1", patient_id="P1", accession="A1", placer="O1"))
    with db.session() as s:
        prefetch.flag_priors(s, 1, [(prior.study_instance_uid, "20240101")])
    for ds in [*prior.datasets, *new.datasets]:
        path = tmp_path / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        assert ingest.store_received(path, calling_ae="PACS", command_sop_instance_uid=ds.SOPInstanceUID) == 0
    queued: list[int] = []
    assembler = StudyAssembler(db, [Rule("breastgate.density", modalities=("MG",))], 10, queued.append)
    job_ids = assembler.tick()
    assert len(job_ids) == 1 and queued == job_ids
    with db.session() as s:
        assert ledger.list_for_study(s, prior.study_instance_uid) == []
        assert [j.algorithm_id for j in ledger.list_for_study(s, new.study_instance_uid)] == [
            "breastgate.density"
        ]
