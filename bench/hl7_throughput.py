"""HL7 ingest: ORM^O01 → ACK latency and sustained throughput over loopback MLLP.

breastgate runs as deployed (``breastgate serve``: parse, validate, store the order, the patient
and the raw message in SQLite with a synchronous (FULL) commit, match the order to a study, then
ACK). Side by side, python-hl7's own asyncio MLLP server (``hl7.mllp``) parses each message and
answers AA without storing anything: the transport-and-parse floor. Both run as separate
processes; the client is this process.

Latency: one connection, messages sent one after the other (each waits for its ACK), p50 / p99.
Throughput: for each of ``--connections`` (default 1, 4 and 8 connections in parallel), messages
per second over ``--seconds``; concurrent messages share a commit, so more connections go faster.
Targets (issue 4): p99 < 50 ms and ≥ 500 messages/s.

    python bench/hl7_throughput.py [--messages 2000] [--connections 1,4,8] [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.support

from tests.support.gateway import GatewayProcess
from tests.support.hl7_messages import orm
from tests.support.ports import free_port

FLOOR_SERVER = """
import asyncio, sys
import hl7.mllp

async def handle(reader, writer):
    try:
        while not writer.is_closing():
            message = await reader.readmessage()
            writer.writemessage(message.create_ack())
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()

async def main(port):
    server = await hl7.mllp.start_hl7_server(handle, host="127.0.0.1", port=port)
    async with server:
        await server.serve_forever()

asyncio.run(main(int(sys.argv[1])))
"""


class Connection:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def exchange(self, message: bytes) -> bytes:
        self.sock.sendall(b"\x0b" + message + b"\x1c\x0d")
        while b"\x1c\x0d" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the ACK")
            self.buf += chunk
        ack, self.buf = self.buf.split(b"\x1c\x0d", 1)
        return ack

    def close(self) -> None:
        self.sock.close()


def _message(tag: str, i: int) -> bytes:
    return orm(
        f"{tag}{i}", placer=f"{tag}P{i}", accession=f"{tag}A{i}", patient_id=f"{tag}PAT{i % 500}"
    ).encode()


def latency(port: int, count: int, tag: str) -> list[float]:
    conn = Connection(port)
    out = []
    for i in range(count):
        start = time.perf_counter()
        ack = conn.exchange(_message(tag, i))
        out.append(time.perf_counter() - start)
        if b"MSA|AA|" not in ack:
            raise RuntimeError(f"not accepted: {ack[:200]!r}")
    conn.close()
    return out


def throughput(port: int, connections: int, seconds: float, tag: str) -> tuple[float, int]:
    counts = [0] * connections
    deadline = time.perf_counter() + seconds

    def run(k: int) -> None:
        conn = Connection(port)
        i = 0
        while time.perf_counter() < deadline:
            ack = conn.exchange(_message(f"{tag}c{k}-", i))
            if b"MSA|AA|" not in ack:
                raise RuntimeError(f"not accepted: {ack[:200]!r}")
            i += 1
        counts[k] = i
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return sum(counts) / elapsed, sum(counts)


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument(
        "--connections", type=str, default="1,4,8", help="comma-separated connection counts for throughput"
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    counts = [int(c) for c in args.connections.split(",") if c.strip()]

    with tempfile.TemporaryDirectory() as tmp:
        gateway = GatewayProcess(Path(tmp) / "gw", BG_WORKERS="0", BG_LOG_LEVEL="WARNING")
        gateway.start()
        floor_port = free_port()
        floor = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER, str(floor_port)])
        rows: list[tuple[str, float, float, float, dict[int, float]]] = []
        try:
            wait_port(floor_port)
            for name, port in (
                ("breastgate serve", gateway.hl7_port),
                ("python-hl7 asyncio (no store)", floor_port),
            ):
                latency(port, 50, f"W{name[:2]}")  # warm-up
                lat = latency(port, args.messages, f"L{name[:2]}")
                rates = {k: throughput(port, k, args.seconds, f"T{name[:2]}{k}-")[0] for k in counts}
                rows.append(
                    (name, statistics.median(lat) * 1000, pct(lat, 0.99) * 1000, max(lat) * 1000, rates)
                )
        finally:
            floor.terminate()
            floor.wait(10)
            gateway.stop()
            db = Path(tmp) / "gw" / "breastgate.db"
            stored = None
            if db.exists():
                import sqlite3

                with sqlite3.connect(db) as conn:
                    stored = conn.execute("SELECT count(*) FROM hl7_message").fetchone()[0]

    print(
        f"HL7 ORM^O01 → ACK over loopback MLLP; latency: {args.messages} sequential on one connection; "
        f"throughput: {args.seconds:.0f} s per connection count; cpus={os.cpu_count()}"
    )
    rate_heads = "".join(f"{f'msg/s x{k}':>11s}" for k in counts)
    print(f"{'receiver':32s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}{rate_heads}")
    for name, p50, p99, worst, rates in rows:
        print(f"{name:32s} {p50:8.2f} {p99:8.2f} {worst:8.2f}" + "".join(f"{rates[k]:11.0f}" for k in counts))
    ours, floor_row = rows
    ratios = ", ".join(f"x{k} {ours[4][k] / floor_row[4][k]:.2f}" for k in counts)
    print(f"ratios breastgate/floor: p99 {ours[2] / floor_row[2]:.1f}x; throughput {ratios}")
    p99_ok = "MET" if ours[2] < 50 else "MISSED"
    rate_ok = ", ".join(f"x{k} {'MET' if ours[4][k] >= 500 else 'MISSED'}" for k in counts)
    print(f"targets: p99 < 50 ms: {p99_ok}; ≥ 500 msg/s: {rate_ok}; messages stored: {stored}")


if __name__ == "__main__":
    main()
