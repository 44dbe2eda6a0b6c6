"""The MLLP listener on a real socket: framing faults never cost the next message, and python-hl7's
own ``mllp_send`` (a separate process) is answered like any RIS interface engine."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from breastgate.hl7.mllp import frame
from breastgate.ingest.messages import Hl7Service
from breastgate.ingest.mllp import MllpServer
from breastgate.store.db import Database
from breastgate.store.tables import Hl7Message, ImagingOrder
from tests.support.db import upgrade
from tests.support.hl7_messages import orm

MAX_FRAME = 64 * 1024


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[MllpServer, Database]]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    service = Hl7Service(db, max_frame_bytes=MAX_FRAME)
    server = MllpServer(service.handle, service.oversize, host="127.0.0.1", port=0, max_frame_bytes=MAX_FRAME)
    server.start()
    yield server, db
    server.stop()
    db.dispose()


class Client:
    """A minimal MLLP client that reads one ACK frame per call."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def ack(self) -> str:
        while b"\x1c\x0d" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed before the ACK"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\x1c\x0d", 1)
        assert head.startswith(b"\x0b")
        return head[1:].decode()

    def close(self) -> None:
        self.sock.close()


def msa(ack: str) -> tuple[str, str]:
    seg = next(s for s in ack.split("\r") if s.startswith("MSA|")).split("|")
    return seg[1], seg[2]


def test_garbage_then_a_good_message_on_the_same_connection(listener: tuple[MllpServer, Database]) -> None:
    server, db = listener
    client = Client(server.port)
    client.send_raw(frame(b"this is not HL7"))
    assert msa(client.ack()) == ("AR", "")
    client.send_raw(frame(orm("G2").encode()))
    assert msa(client.ack()) == ("AA", "G2")
    client.close()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ImagingOrder)) == 1


def test_bytes_outside_frames_a_missing_cr_and_two_frames_in_one_write(
    listener: tuple[MllpServer, Database],
) -> None:
    server, _ = listener
    client = Client(server.port)
    client.send_raw(b"\r\nnoise before the frame" + frame(orm("J1").encode()))
    assert msa(client.ack()) == ("AA", "J1")
    client.send_raw(b"\x0b" + orm("J2").encode() + b"\x1c")  # no trailing CR
    client.send_raw(frame(orm("J3").encode()) + frame(orm("J4").encode()))
    assert [msa(client.ack()) for _ in range(3)] == [("AA", "J2"), ("AA", "J3"), ("AA", "J4")]
    client.close()


def test_a_frame_split_across_writes_is_reassembled(listener: tuple[MllpServer, Database]) -> None:
    server, _ = listener
    client = Client(server.port)
    data = frame(orm("S1").encode())
    for i in range(0, len(data), 7):
        client.send_raw(data[i : i + 7])
    assert msa(client.ack()) == ("AA", "S1")
    client.close()


def test_oversize_frame_is_refused_and_the_connection_goes_on(listener: tuple[MllpServer, Database]) -> None:
    server, db = listener
    client = Client(server.port)
    big = orm("BIG").encode() + b"NTE|1||" + b"x" * (MAX_FRAME + 10) + b"\r"
    client.send_raw(frame(big))
    ack = client.ack()
    assert msa(ack)[0] == "AR" and "larger than" in ack
    client.send_raw(frame(orm("AFTER").encode()))
    assert msa(client.ack()) == ("AA", "AFTER")
    client.close()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Hl7Message)) == 2


def test_a_truncated_frame_costs_only_itself(listener: tuple[MllpServer, Database]) -> None:
    server, db = listener
    client = Client(server.port)
    client.send_raw(b"\x0b" + orm("T1").encode()[:40])
    client.close()  # closes inside the frame: no ACK owed, nothing stored
    other = Client(server.port)
    other.send_raw(frame(orm("T2").encode()))
    assert msa(other.ack()) == ("AA", "T2")
    # an abandoned frame followed by a new one on the same connection
    other.send_raw(b"\x0b" + orm("T3").encode()[:40] + frame(orm("T4").encode()))
    assert msa(other.ack()) == ("AA", "T4")
    other.close()
    with db.session() as s:
        ids = s.scalars(select(Hl7Message.control_id)).all()
        assert ids == ["T2", "T4"]


def test_concurrent_connections_are_all_answered(listener: tuple[MllpServer, Database]) -> None:
    server, db = listener

    def one_connection(k: int) -> list[tuple[str, str]]:
        client = Client(server.port)
        out = []
        for i in range(20):
            client.send_raw(frame(orm(f"K{k}-{i}", placer=f"P{k}-{i}", accession=f"A{k}-{i}").encode()))
            out.append(msa(client.ack()))
        client.close()
        return out

    with ThreadPoolExecutor(6) as pool:
        results = [r for batch in pool.map(one_connection, range(6)) for r in batch]
    assert len(results) == 120 and all(code == "AA" for code, _ in results)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ImagingOrder)) == 120


def test_python_hl7_mllp_send_is_answered(listener: tuple[MllpServer, Database], tmp_path: Path) -> None:
    server, db = listener
    exe = shutil.which("mllp_send", path=str(Path(sys.executable).parent))
    assert exe, "python-hl7's mllp_send is installed with the package"
    messages = tmp_path / "batch.hl7"
    messages.write_bytes(
        (orm("M1", placer="PM1") + orm("M2", placer="PM2") + orm("M3", version="9.9"))
        .replace("\r", "\r\n")
        .encode()
    )
    proc = subprocess.run(
        [exe, "--port", str(server.port), "--file", str(messages), "--loose", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    acks = [line for line in proc.stdout.replace("\r", "\n").split("\n") if line.startswith("MSA|")]
    assert [a.split("|")[1:3] for a in acks] == [["AA", "M1"], ["AA", "M2"], ["AR", "M3"]]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ImagingOrder)) == 2
