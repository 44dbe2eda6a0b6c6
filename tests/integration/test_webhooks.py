"""Webhooks through the outbox to a real HTTP receiver: the status decides sent / retried / failed,
every attempt is signed and carries the same delivery id; a receiver that is down is retried."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from breastgate.delivery.service import OutboxWorker
from breastgate.delivery.webhooks import WebhookSender, verify_signature, webhook_body, webhook_key
from breastgate.jobs.retry import RetryPolicy
from breastgate.store import outbox
from breastgate.store.db import Database
from breastgate.store.outbox import OutboxState
from tests.support.ports import free_port

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
SECRET = "integration-secret-0123456789abcdef"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP webhook receiver on loopback: answers the next queued status (then ``default``)
    and keeps every request it got."""

    def __init__(self, port: int = 0, statuses: tuple[int, ...] = (), default: int = 200) -> None:
        self.statuses = list(statuses)
        self.default = default
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                answer = b'{"error":"schema mismatch"}' if status >= 300 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hooks/in"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _owe(db: Database, tmp_path: Path, destination: str) -> tuple[int, str, bytes]:
    key = webhook_key("study.triaged", "1.2.3", 1)
    body = webhook_body("study.triaged", {"study_instance_uid": "1.2.3", "priority": "stat"}, occurred_at=T0)
    path = tmp_path / f"{key}.json"
    path.write_bytes(body)
    with db.session() as s:
        outbox.enqueue(
            s, destination=destination, kind="webhook", sop_instance_uid=key, study_instance_uid="1.2.3",
            path=str(path), now=T0,
        )  # fmt: skip
        item = next(e.id for e in outbox.list_items(s) if e.sop_instance_uid == key)
    return item, key, body


def _state(db: Database, item_id: int) -> outbox.OutboxEntry:
    with db.session() as s:
        entry = outbox.get(s, item_id)
    assert entry is not None
    return entry


def _worker(db: Database) -> OutboxWorker:
    return OutboxWorker(
        db, {"webhook": WebhookSender(secret=SECRET, timeout=5)}, RetryPolicy(1, 4), owner_id="t"
    )


def _verified(request: Received) -> bool:
    h = request.headers
    return verify_signature(SECRET, h["x-breastgate-timestamp"], request.body, h["x-breastgate-signature"])


def test_200_is_sent_and_the_receiver_verifies_the_signature(db: Database, tmp_path: Path) -> None:
    with Receiver() as rx:
        item, key, body = _owe(db, tmp_path, rx.url)
        assert _worker(db).run_once(now=T0) == 1
    entry = _state(db, item)
    assert entry.state == OutboxState.SENT and entry.attempts == 1 and entry.last_error is None
    (request,) = rx.received
    assert request.path == "/hooks/in" and request.body == body
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-breastgate-event"] == "study.triaged"
    assert request.headers["x-breastgate-delivery"] == key
    assert _verified(request)
    h = request.headers
    other = "another-secret-0123456789abcdef0123"
    assert not verify_signature(other, h["x-breastgate-timestamp"], request.body, h["x-breastgate-signature"])


def test_503_then_200_is_retried_then_sent_under_the_same_delivery_id(db: Database, tmp_path: Path) -> None:
    with Receiver(statuses=(503,)) as rx:
        item, key, body = _owe(db, tmp_path, rx.url)
        worker = _worker(db)
        worker.run_once(now=T0)
        entry = _state(db, item)
        assert entry.state == OutboxState.PENDING and entry.attempts == 1
        assert "HTTP 503" in (entry.last_error or "") and "PeerBusyError" in (entry.last_error or "")
        assert worker.run_once(now=T0) == 0  # backoff: not due yet
        worker.run_once(now=T0 + timedelta(seconds=5))
        assert _state(db, item).state == OutboxState.SENT
        worker.run_once(now=T0 + timedelta(seconds=60))
    assert len(rx.received) == 2  # sent once, never again
    first, second = rx.received
    assert first.headers["x-breastgate-delivery"] == second.headers["x-breastgate-delivery"] == key
    assert first.body == second.body == body
    assert _verified(first) and _verified(second)


def test_400_fails_permanently_with_the_status(db: Database, tmp_path: Path) -> None:
    with Receiver(default=400) as rx:
        item, _, _ = _owe(db, tmp_path, rx.url)
        worker = _worker(db)
        worker.run_once(now=T0)
        worker.run_once(now=T0 + timedelta(minutes=10))
    entry = _state(db, item)
    assert entry.state == OutboxState.FAILED and entry.attempts == 1
    assert "HTTP 400" in (entry.last_error or "") and "schema mismatch" in (entry.last_error or "")
    assert SECRET not in (entry.last_error or "")
    assert len(rx.received) == 1


def test_a_receiver_that_is_down_is_retried_until_delivered(db: Database, tmp_path: Path) -> None:
    port = free_port()
    item, key, _ = _owe(db, tmp_path, f"http://127.0.0.1:{port}/hooks/in")
    worker = _worker(db)
    worker.run_once(now=T0)  # nobody listens
    entry = _state(db, item)
    assert entry.state == OutboxState.PENDING and entry.attempts == 1
    assert "PeerUnavailableError" in (entry.last_error or "") and "127.0.0.1" in (entry.last_error or "")
    worker.run_once(now=T0 + timedelta(seconds=5))  # still down
    assert _state(db, item).attempts == 2
    with Receiver(port=port) as rx:
        worker.run_once(now=T0 + timedelta(seconds=30))
    assert _state(db, item).state == OutboxState.SENT
    (request,) = rx.received
    assert request.headers["x-breastgate-delivery"] == key and _verified(request)
