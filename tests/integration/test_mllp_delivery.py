"""HL7 out through the outbox to a real MLLP receiver: the receiver's ACK decides sent / retried /
failed; a receiver that is down is retried until it is up; nothing is dropped."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from breastgate.delivery.mllp import MllpSender
from breastgate.delivery.service import OutboxWorker
from breastgate.hl7.ack import build_ack
from breastgate.hl7.codec import Hl7Refused, read_message
from breastgate.hl7.vocab import AckCode, Hl7ErrorCode
from breastgate.ingest.mllp import MllpServer
from breastgate.jobs.retry import RetryPolicy
from breastgate.store import outbox
from breastgate.store.db import Database
from breastgate.store.outbox import OutboxState
from tests.support.hl7_messages import orm
from tests.support.ports import free_port

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


class Receiver:
    """A RIS-side MLLP receiver answering with a chosen ACK code and keeping what it got."""

    def __init__(self, port: int = 0, answer: str = "AA") -> None:
        self.answer = answer
        self.received: list[str] = []
        self.lock = threading.Lock()
        self.server = MllpServer(self._handle, lambda: b"", host="127.0.0.1", port=port)

    def _handle(self, data: bytes) -> bytes:
        text = data.decode()
        with self.lock:
            self.received.append(text)
        try:
            header = read_message(data).header
        except Hl7Refused as refused:  # an ORU: a RIS takes it, our own listener does not
            header = refused.header
        if self.answer == "AA":
            return build_ack(header, AckCode.ACCEPT, control_id="R1").encode()
        code = AckCode(self.answer)
        err = Hl7Refused(code, Hl7ErrorCode.REQUIRED_FIELD_MISSING, "OBX-5 missing", header)
        return build_ack(header, code, control_id="R1", error=err).encode()

    def __enter__(self) -> Receiver:
        self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop()


def _owe(db: Database, tmp_path: Path, destination: str, key: str = "oru-1") -> int:
    path = tmp_path / f"{key}.hl7"
    path.write_text(orm(key[-8:], placer=key))
    with db.session() as s:
        outbox.enqueue(
            s, destination=destination, kind="hl7", sop_instance_uid=key, study_instance_uid="1.2.3",
            path=str(path), now=T0,
        )  # fmt: skip
        return next(e.id for e in outbox.list_items(s) if e.sop_instance_uid == key)


def _state(db: Database, item_id: int) -> outbox.OutboxEntry:
    with db.session() as s:
        entry = outbox.get(s, item_id)
    assert entry is not None
    return entry


def _worker(db: Database) -> OutboxWorker:
    return OutboxWorker(db, {"hl7": MllpSender(timeout=5)}, RetryPolicy(1, 4), owner_id="t")


@pytest.mark.parametrize(("answer", "state"), [("AA", OutboxState.SENT), ("AE", OutboxState.FAILED)])
def test_the_ack_decides(db: Database, tmp_path: Path, answer: str, state: OutboxState) -> None:
    with Receiver(answer=answer) as rx:
        item = _owe(db, tmp_path, f"mllp://127.0.0.1:{rx.server.port}")
        _worker(db).run_once(now=T0)
    entry = _state(db, item)
    assert entry.state == state and len(rx.received) == 1
    if answer == "AE":
        assert "AE" in (entry.last_error or "") and "OBX-5 missing" in (entry.last_error or "")


def test_ar_and_a_receiver_that_is_down_are_retried_until_delivered(db: Database, tmp_path: Path) -> None:
    port = free_port()
    item = _owe(db, tmp_path, f"mllp://127.0.0.1:{port}")
    worker = _worker(db)
    worker.run_once(now=T0)  # nobody listens
    entry = _state(db, item)
    assert entry.state == OutboxState.PENDING and entry.attempts == 1 and "MLLP" in (entry.last_error or "")
    with Receiver(port=port, answer="AR") as rx:
        worker.run_once(now=T0 + timedelta(seconds=5))  # rejected: may resend
        assert _state(db, item).state == OutboxState.PENDING and len(rx.received) == 1
        rx.answer = "AA"
        worker.run_once(now=T0 + timedelta(seconds=30))
        assert _state(db, item).state == OutboxState.SENT and len(rx.received) == 2
        worker.run_once(now=T0 + timedelta(seconds=60))
    assert len(rx.received) == 2  # sent once, never again


def test_an_ack_for_another_message_is_not_taken(db: Database, tmp_path: Path) -> None:
    with Receiver() as rx:
        rx._handle = lambda data: build_ack(  # type: ignore[method-assign]
            read_message(orm("OTHER").encode()).header, AckCode.ACCEPT, control_id="R"
        ).encode()
        rx.server.stop()
        rx.server = MllpServer(rx._handle, lambda: b"", host="127.0.0.1", port=0)
        rx.server.start()
        item = _owe(db, tmp_path, f"mllp://127.0.0.1:{rx.server.port}")
        _worker(db).run_once(now=T0)
    entry = _state(db, item)
    assert entry.state == OutboxState.PENDING and "ACK names message" in (entry.last_error or "")
