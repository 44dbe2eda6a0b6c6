"""Outbox repository, retry policy and worker (fake sender at the Sender seam)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from breastgate.delivery.dicom import CStoreSender, check_store_status, parse_node
from breastgate.delivery.service import OutboxWorker
from breastgate.domain.errors import (
    GatewayError,
    InvalidDestinationError,
    PeerBusyError,
    PeerUnavailableError,
    PermanentDeliveryError,
    RejectedError,
    RetryableDeliveryError,
)
from breastgate.domain.model import DicomNode
from breastgate.jobs.retry import RetryPolicy
from breastgate.store import outbox
from breastgate.store.db import Database
from breastgate.store.outbox import OutboxState
from tests.support.db import upgrade

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
DEST = "PACS@127.0.0.1:104"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def add(db: Database, sop: str, *, destination: str = DEST, now: datetime = T0, kind: str = "dicom") -> bool:
    with db.session() as s:
        return outbox.enqueue(
            s,
            destination=destination,
            kind=kind,
            sop_instance_uid=sop,
            study_instance_uid="1.2.3",
            path=f"/objects/{sop}.dcm",
            now=now,
        )


def items(db: Database, **kwargs: object) -> list[outbox.OutboxEntry]:
    with db.session() as s:
        return outbox.list_items(s, **kwargs)  # type: ignore[arg-type]


# Repository -------------------------------------------------------------------------------------
def test_enqueue_is_idempotent_per_destination_and_sop(db: Database) -> None:
    assert add(db, "1.1") is True
    assert add(db, "1.1") is False
    assert add(db, "1.1", destination="OTHER@h:1") is True
    rows = items(db)
    assert [(r.destination, r.sop_instance_uid) for r in rows] == [(DEST, "1.1"), ("OTHER@h:1", "1.1")]
    assert all(r.state is OutboxState.PENDING and r.attempts == 0 for r in rows)
    assert rows[0].next_attempt_at == T0 and rows[0].next_attempt_at.tzinfo is not None


def test_enqueue_leaves_sent_alone_and_resets_failed(db: Database) -> None:
    add(db, "1.1")
    add(db, "1.2")
    with db.session() as s:
        first, second = outbox.claim_due(s, owner="w", now=T0, lease_seconds=60, limit=10)
        assert outbox.mark_sent(s, first.id, now=T0)
        assert outbox.mark_failed(s, second.id, error="refused 0xC000", owner="w")
    assert add(db, "1.1", now=T0 + timedelta(hours=1)) is False
    assert add(db, "1.2", now=T0 + timedelta(hours=1)) is True
    sent, again = items(db)
    assert sent.state is OutboxState.SENT and sent.sent_at == T0 and sent.attempts == 1
    assert again.state is OutboxState.PENDING and again.attempts == 0 and again.last_error is None
    assert again.next_attempt_at == T0 + timedelta(hours=1)


def test_claim_takes_only_due_unleased_rows(db: Database) -> None:
    add(db, "1.1", now=T0)
    add(db, "1.2", now=T0 + timedelta(seconds=30))  # not due yet at T0
    with db.session() as s:
        claimed = outbox.claim_due(s, owner="a", now=T0, lease_seconds=60, limit=10)
    assert [c.sop_instance_uid for c in claimed] == ["1.1"]
    assert claimed[0].lease_owner == "a" and claimed[0].lease_expires_at == T0 + timedelta(seconds=60)
    with db.session() as s:  # leased by a: nobody else gets it, even once 1.2 is due
        later = outbox.claim_due(s, owner="b", now=T0 + timedelta(seconds=30), lease_seconds=60, limit=10)
    assert [c.sop_instance_uid for c in later] == ["1.2"]


def test_two_claimers_never_share_a_row(db: Database, tmp_path: Path) -> None:
    for i in range(40):
        add(db, f"1.{i}")
    other = Database(db.url)  # a second engine, as a second process would have
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(2)

    def claim(owner: str, database: Database) -> None:
        barrier.wait()
        got: list[int] = []
        while True:
            with database.session() as s:
                batch = outbox.claim_due(s, owner=owner, now=T0, lease_seconds=60, limit=3)
            if not batch:
                break
            got += [e.id for e in batch]
        results[owner] = got

    threads = [threading.Thread(target=claim, args=(n, d)) for n, d in (("a", db), ("b", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    other.dispose()
    a, b = results["a"], results["b"]
    assert not set(a) & set(b)
    assert sorted(a + b) == [r.id for r in items(db)]
    owners = {r.id: r.lease_owner for r in items(db)}
    assert all(owners[i] == "a" for i in a) and all(owners[i] == "b" for i in b)


def test_conditional_update_refuses_a_live_lease(db: Database) -> None:
    """The race itself: b read the row as free before a's claim committed; b's UPDATE must not match."""
    add(db, "1.1")
    (row,) = items(db)  # b's stale read: free
    with db.session() as s:
        assert len(outbox.claim_due(s, owner="a", now=T0, lease_seconds=60, limit=1)) == 1
    with db.session() as s:
        assert (
            outbox.try_lease(s, row.id, owner="b", now=T0 + timedelta(seconds=59), lease_seconds=60) is False
        )
        assert (
            outbox.try_lease(s, row.id, owner="b", now=T0 + timedelta(seconds=60), lease_seconds=60) is True
        )
    assert items(db)[0].lease_owner == "b"


def test_expired_lease_is_claimed_again(db: Database) -> None:
    add(db, "1.1")
    with db.session() as s:
        outbox.claim_due(s, owner="dead", now=T0, lease_seconds=60, limit=1)
    with db.session() as s:
        again = outbox.claim_due(s, owner="alive", now=T0 + timedelta(seconds=61), lease_seconds=60, limit=1)
    assert [e.lease_owner for e in again] == ["alive"]
    with db.session() as s:  # the dead worker's late outcome is not recorded over the new lease
        assert outbox.mark_retry(s, again[0].id, error="x", next_attempt_at=T0, owner="dead") is False
        assert outbox.mark_failed(s, again[0].id, error="x", owner="dead") is False
    assert items(db)[0].state is OutboxState.PENDING


def test_mark_retry_and_counts_and_filters(db: Database) -> None:
    add(db, "1.1")
    add(db, "1.2")
    with db.session() as s:
        e1, e2 = outbox.claim_due(s, owner="w", now=T0, lease_seconds=60, limit=10)
        assert outbox.mark_retry(s, e1.id, error="down" * 1000, next_attempt_at=T0 + timedelta(seconds=5))
        outbox.mark_failed(s, e2.id, error="refused")
        assert outbox.counts(s) == {"pending": 1, "sent": 0, "failed": 1, "held": 0, "withheld": 0}
        r1 = outbox.get(s, e1.id)
    assert r1 is not None and r1.attempts == 1 and r1.lease_owner is None
    assert r1.last_error is not None and len(r1.last_error) == outbox.MAX_ERROR_CHARS
    assert [r.sop_instance_uid for r in items(db, state="failed")] == ["1.2"]
    assert items(db, study="9.9") == []
    with db.session() as s:  # not due before its next attempt
        assert outbox.claim_due(s, owner="w", now=T0 + timedelta(seconds=4), limit=10) == []
        assert len(outbox.claim_due(s, owner="w", now=T0 + timedelta(seconds=5), limit=10)) == 1


# Policy and error mapping -----------------------------------------------------------------------
def test_backoff_schedule_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=2, max_seconds=60)
    assert [policy.delay(n).total_seconds() for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert policy.delay(10_000).total_seconds() == 60
    assert policy.next_attempt_at(3, T0) == T0 + timedelta(seconds=8)
    with pytest.raises(ValueError):
        RetryPolicy(base_seconds=10, max_seconds=5)


@pytest.mark.parametrize("status", [0x0000, 0xB000, 0xB006, 0xB007, 0x0107])
def test_store_status_delivered(status: int) -> None:
    check_store_status(status, "x")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (0xA700, PeerBusyError),
        (0xA7FF, PeerBusyError),
        (0xA900, RejectedError),
        (0xC000, RejectedError),
        (0xC211, RejectedError),
        (0x0122, RejectedError),
    ],
)
def test_store_status_failures(status: int, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        check_store_status(status, "x")
    assert f"0x{status:04X}" in str(info.value)
    assert isinstance(info.value, GatewayError)
    expected = RetryableDeliveryError if error is PeerBusyError else PermanentDeliveryError
    assert isinstance(info.value, expected)


def test_dicom_node_parse() -> None:
    assert parse_node(" ORTHANC@127.0.0.1:4242 ") == DicomNode("ORTHANC", "127.0.0.1", 4242)
    assert str(parse_node("A@[::1]:104")) == "A@::1:104"
    for bad in ("ORTHANC", "A@host", "@h:1", "A@h:x", "A@h:0", "ABCDEFGHIJKLMNOPQ@h:1"):
        with pytest.raises(InvalidDestinationError):
            parse_node(bad)


# Worker ----------------------------------------------------------------------------------------
class FakeSender:
    """Fails ``failures`` times with ``error``, then stores; records every call."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or PeerUnavailableError("connection refused")
        self.calls: list[tuple[str, Path]] = []
        self.delivered: list[Path] = []

    def send(self, destination: str, path: Path) -> None:
        self.calls.append((destination, path))
        if len(self.calls) <= self.failures:
            raise self.error
        self.delivered.append(path)


def test_worker_retries_with_backoff_then_delivers_once(db: Database) -> None:
    sender = FakeSender(failures=3)
    worker = OutboxWorker(db, {"dicom": sender}, RetryPolicy(2, 60), owner_id="w1", lease_seconds=30)
    add(db, "1.1")
    now, schedule = T0, []
    for _ in range(10):
        worker.run_once(now=now)
        row = items(db)[0]
        if row.state is OutboxState.SENT:
            break
        assert row.last_error == "PeerUnavailableError: connection refused"
        schedule.append((row.next_attempt_at - now).total_seconds())
        assert worker.run_once(now=row.next_attempt_at - timedelta(seconds=1)) == 0  # not due yet
        now = row.next_attempt_at
    assert schedule == [2, 4, 8]
    assert sender.delivered == [Path("/objects/1.1.dcm")] and len(sender.calls) == 4
    assert row.state is OutboxState.SENT and row.attempts == 4 and row.last_error is None
    assert worker.run_once(now=now + timedelta(days=1)) == 0  # sent once, never again
    assert add(db, "1.1") is False and len(sender.calls) == 4


def test_worker_permanent_failure_is_failed_and_visible(db: Database) -> None:
    sender = FakeSender(failures=99, error=RejectedError("C-STORE status 0xC000 (cannot understand)", 0xC000))
    worker = OutboxWorker(db, {"dicom": sender}, owner_id="w1")
    add(db, "1.1")
    assert worker.run_once(now=T0) == 1
    assert worker.run_once(now=T0 + timedelta(days=1)) == 0  # no retry of a permanent failure
    (row,) = items(db, state="failed")
    assert row.attempts == 1 and row.last_error is not None and "0xC000" in row.last_error
    with db.session() as s:
        assert outbox.counts(s)["failed"] == 1


def test_worker_unknown_kind_and_sender_bug(db: Database) -> None:
    class Broken:
        def send(self, destination: str, path: Path) -> None:
            raise KeyError("bug")

    worker = OutboxWorker(db, {"dicom": Broken()}, RetryPolicy(1, 10), owner_id="w1")
    add(db, "1.1")
    add(db, "1.2", kind="mllp")
    assert worker.run_once(now=T0) == 2
    bug, unknown = items(db)
    assert bug.state is OutboxState.PENDING and bug.last_error == "KeyError: 'bug'"  # kept, retried
    assert unknown.state is OutboxState.FAILED and "no sender configured for kind 'mllp'" in str(
        unknown.last_error
    )


def test_worker_thread_delivers_and_stops(db: Database) -> None:
    sender = FakeSender(failures=1)
    worker = OutboxWorker(db, {"dicom": sender}, RetryPolicy(0.05, 0.05), owner_id="w1")
    add(db, "1.1", now=datetime.now(UTC))
    worker.start(interval=0.02)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and items(db)[0].state is not OutboxState.SENT:
            time.sleep(0.02)
    finally:
        worker.stop()
    assert not worker.running
    assert items(db)[0].state is OutboxState.SENT and len(sender.delivered) == 1


# C-STORE status mapping against an in-process pynetdicom SCP ---------------------------------
@pytest.fixture
def status_scp() -> Iterator[tuple[str, list[int], list[str]]]:
    """A Storage SCP on a free loopback port answering with the statuses queued in ``replies``."""
    from pynetdicom import AE, AllStoragePresentationContexts, evt

    replies: list[int] = []
    received: list[str] = []

    def handle_store(event: Any) -> int:
        received.append(str(event.dataset.SOPInstanceUID))
        return replies.pop(0) if replies else 0x0000

    ae = AE(ae_title="STATUSSCP")
    ae.supported_contexts = AllStoragePresentationContexts
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, handle_store)])
    port = server.socket.getsockname()[1]
    try:
        yield f"STATUSSCP@127.0.0.1:{port}", replies, received
    finally:
        server.shutdown()


def tiny_object(folder: Path) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = generate_uid(), generate_uid(), "OT"
    path = folder / "x.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (0x0000, None),
        (0xB000, None),
        (0xA700, PeerBusyError),
        (0xA900, RejectedError),
        (0xC000, RejectedError),
    ],
)
def test_cstore_sender_maps_peer_status(
    status_scp: tuple[str, list[int], list[str]], tmp_path: Path, status: int, error: type[Exception] | None
) -> None:
    node, replies, received = status_scp
    replies.append(status)
    path = tiny_object(tmp_path)
    if error is None:
        CStoreSender("BGTEST").send(node, path)
    else:
        with pytest.raises(error, match=f"0x{status:04X}"):
            CStoreSender("BGTEST").send(node, path)
    assert len(received) == 1


def test_worker_retries_busy_peer_then_delivers(
    status_scp: tuple[str, list[int], list[str]], db: Database, tmp_path: Path
) -> None:
    node, replies, received = status_scp
    replies += [0xA700, 0xA701]
    path = tiny_object(tmp_path)
    with db.session() as s:
        outbox.enqueue(
            s,
            destination=node,
            kind="dicom",
            sop_instance_uid="9.9",
            study_instance_uid="9",
            path=str(path),
            now=T0,
        )
    worker = OutboxWorker(db, {"dicom": CStoreSender("BGTEST")}, RetryPolicy(1, 10), owner_id="w1")
    now = T0
    for _ in range(3):
        worker.run_once(now=now)
        now = items(db)[0].next_attempt_at
    (row,) = items(db)
    assert row.state is OutboxState.SENT and row.attempts == 3 and len(received) == 3
