"""SCP ingest throughput: breastgate vs dcmtk storescp vs Orthanc, same data, same run.

Every receiver gets the same 4-view phantom studies from dcmtk ``storescu`` (one association per
run, TCP_NODELAY=1 for the dcmtk side), measured as wall time of the send. breastgate runs as
deployed (``breastgate serve``: fsync + rename + SQLite index before each Success) with no
algorithm routed, so only ingest is measured. storescp and Orthanc do not fsync per file. A bare
pynetdicom receiver (``bench/_bare_scp.py``: chunked receive, rename, no fsync, no index) shows
the framework's ceiling. Runs are interleaved (each round sends to every receiver once), so a
slow spell of the machine hits all receivers alike; the median round is reported with the range.

    python bench/ingest_throughput.py [--studies 8] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.support

from tests.support.gateway import GatewayProcess
from tests.support.orthanc import OrthancServer
from tests.support.ports import free_port

from breastgate.phantoms import write_phantoms

ENV = {**os.environ, "TCP_NODELAY": "1"}


def send(port: int, files: list[Path], aec: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["storescu", "-R", "-aec", aec, "127.0.0.1", str(port), *map(str, files)],
        check=True,
        capture_output=True,
        env=ENV,
    )
    return time.perf_counter() - start


def wait_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"port {port} never opened")


def _time_receiver(
    args: list[str], port: int, out: Path, files: list[Path], aec: str, env: dict[str, str] | None = None
) -> float:
    """Start a receiver process, time one send to it, stop it and remove what it wrote."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        return send(port, files, aec)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(out, ignore_errors=True)


def run_storescp(work: Path, files: list[Path], bit_preserving: bool) -> float:
    port = free_port()
    out = work / ("storescp-B" if bit_preserving else "storescp")
    out.mkdir()
    args = ["storescp", "-od", str(out), *(["+B"] if bit_preserving else []), str(port)]
    return _time_receiver(args, port, out, files, "STORESCP", env=ENV)


def run_bare_pynetdicom(work: Path, files: list[Path]) -> float:
    port = free_port()
    out = work / "bare"
    script = Path(__file__).resolve().parent / "_bare_scp.py"
    return _time_receiver([sys.executable, str(script), str(port), str(out)], port, out, files, "BARE")


def run_orthanc(work: Path, files: list[Path]) -> float:
    pacs = OrthancServer(work / "orthanc", extra_config={"MaximumPduLength": 131072})
    pacs.start()
    try:
        return send(pacs.dicom_port, files, "ORTHANC")
    finally:
        pacs.stop()
        shutil.rmtree(work / "orthanc", ignore_errors=True)


def run_breastgate(work: Path, files: list[Path]) -> float:
    gateway = GatewayProcess(work / "gw", BG_ALGORITHMS="none", BG_STABLE_SECONDS="3600")
    gateway.start()
    try:
        return send(gateway.dicom_port, files, "BREASTGATE")
    finally:
        gateway.stop()
        shutil.rmtree(work / "gw", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--studies", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bg-bench-ingest-") as tmp:
        work = Path(tmp)
        files = [
            f for d in write_phantoms(work / "data", args.studies, seed=11) for f in sorted(d.glob("*.dcm"))
        ]
        total_mb = sum(f.stat().st_size for f in files) / 1e6
        print(
            f"data: {len(files)} MG instances from {args.studies} 4-view phantom studies, {total_mb:.0f} MB"
        )
        receivers: dict[str, Callable[[], float]] = {
            "dcmtk storescp": lambda: run_storescp(work, files, False),
            "dcmtk storescp +B": lambda: run_storescp(work, files, True),
            "Orthanc (MaxPDU 128k)": lambda: run_orthanc(work, files),
            "bare pynetdicom (no fsync)": lambda: run_bare_pynetdicom(work, files),
            "breastgate serve": lambda: run_breastgate(work, files),
        }
        samples: dict[str, list[float]] = {name: [] for name in receivers}
        for _ in range(args.runs):
            for name, run in receivers.items():
                samples[name].append(total_mb / run())
        rates = {name: sorted(values)[len(values) // 2] for name, values in samples.items()}
        base = rates["dcmtk storescp"]
        print(f"{'receiver':<28}{'MB/s (median)':>15}{'range':>13}{'× storescp':>12}")
        for name, rate in rates.items():
            span = f"{min(samples[name]):.0f}-{max(samples[name]):.0f}"
            print(f"{name:<28}{rate:>15.0f}{span:>13}{rate / base:>12.2f}")


if __name__ == "__main__":
    main()
