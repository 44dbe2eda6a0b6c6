"""End-to-end latency: last C-STORE of a 4-view study → its CAD SR stored in Orthanc.

Orthanc is the PACS, ``breastgate serve`` runs on embedded defaults (in-process workers, default
quiet period; a complete 4-view study is stable without waiting), dcmtk ``storescu`` sends each
study. Prints p50/p95 latency, density seconds per image (from the gateway log) and peak RSS.

    python bench/e2e_latency.py [--count 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.support

from tests.support.gateway import GatewayProcess, storescu
from tests.support.orthanc import OrthancServer

from bench._common import median, percentile
from breastgate.phantoms import write_phantoms


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bg-bench-e2e-") as tmp:
        work = Path(tmp)
        studies = write_phantoms(work / "data", args.count, seed=500)
        gateway = GatewayProcess(work / "gw", BG_STABLE_SECONDS="10", BG_SWEEP_INTERVAL_SECONDS="1")
        pacs = OrthancServer(
            work / "orthanc", modalities={"BREASTGATE": ("BREASTGATE", "127.0.0.1", gateway.dicom_port)}
        )
        gateway.env["BG_PACS"] = pacs.dicom_node
        pacs.start()
        gateway.start()
        latencies: list[float] = []
        try:
            for folder in studies:
                uid = json.loads((folder / "truth.json").read_text())["study_instance_uid"]
                storescu(gateway.dicom_port, sorted(folder.glob("*.dcm")))
                sent = time.perf_counter()
                while not pacs.find_instances(uid, modality="SR"):
                    if time.perf_counter() - sent > 120:
                        raise TimeoutError(f"no SR for study {uid}")
                    time.sleep(0.05)
                latencies.append(time.perf_counter() - sent)
                print(f"study {len(latencies):>3}: {latencies[-1]:.2f} s")
            assert gateway.serve_proc is not None
            rss = peak_rss_mb(gateway.serve_proc.pid)
            children = psutil.Process(gateway.serve_proc.pid).children(recursive=True)
        finally:
            gateway.stop()
            pacs.stop()
        seconds = [
            r["measurements"]["seconds"]
            for r in _density_images(gateway)
            if "seconds" in r.get("measurements", {})
        ]
        print(
            f"studies: {len(latencies)}; latency p50 {percentile(latencies, 50):.2f} s, "
            f"p95 {percentile(latencies, 95):.2f} s, max {max(latencies):.2f} s (goal p95 <= 15 s)"
        )
        if seconds:
            print(f"density: {median(seconds):.2f} s per image (median of {len(seconds)})")
        print(f"gateway peak RSS: {rss:.0f} MB ({len(children)} child processes)")


def _density_images(gateway: GatewayProcess) -> list[dict]:
    db = gateway.home / "breastgate.db"
    if not db.exists():
        return []
    import sqlite3

    rows = sqlite3.connect(db).execute("SELECT payload FROM result").fetchall()
    images: list[dict] = []
    for (payload,) in rows:
        images += json.loads(payload).get("images", [])
    return images


if __name__ == "__main__":
    main()
