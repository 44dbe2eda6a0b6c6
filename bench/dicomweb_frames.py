"""WADO-RS frames and metadata: breastgate vs Orthanc's DICOMweb plugin, same files, same run.

breastgate runs as deployed (``breastgate serve --no-workers``: the study is C-STORE'd into it by
dcmtk ``storescu``, indexed in SQLite; no algorithm runs during the measurement), Orthanc with its
DICOMweb plugin holds the same files (REST upload). The data: one 4-view phantom MG study (3328 x
2560, 16 bit) and one phantom tomosynthesis volume (58 frames of 2330 x 1792, 16 bit, ~480 MB).

Measured over loopback HTTP with keep-alive, rounds interleaved (each round asks both servers),
frames asked for one by one as a viewer does
(``Accept: multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1``),
first with one client, then with four concurrent clients (a browser's parallel requests): the
4-view MG frames (``--mg-repeat`` times per round) and ``--dbt-frames`` frames spread over the
tomosynthesis volume (Orthanc takes seconds per DBT frame, so not all 58 every round). The
frames of both servers are checked byte-identical. Metadata: ``GET /studies/{uid}/metadata`` of
the 4-view study, median and p95 over ``--metadata`` requests each.

    python bench/dicomweb_frames.py [--rounds 3] [--metadata 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydicom import dcmread

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.support

from tests.support.gateway import BREASTGATE, GatewayProcess, storescu
from tests.support.orthanc import OrthancServer

from bench._common import percentile
from breastgate.phantoms import write_phantoms

RAW = 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1'


@dataclass(frozen=True)
class Frame:
    path: str  # /studies/.../frames/n (after the DICOMweb root)
    size: int
    tomo: bool  # a frame of a multi-frame (tomosynthesis) object


def _frames(files: list[Path]) -> tuple[list[Frame], str]:
    found, study = [], ""
    for file in files:
        ds = dcmread(file, stop_before_pixels=True)
        count = int(ds.get("NumberOfFrames") or 1)
        size = int(ds.Rows) * int(ds.Columns) * int(ds.BitsAllocated) // 8
        base = f"/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
        found += [Frame(f"{base}/frames/{n}", size, count > 1) for n in range(1, count + 1)]
        if ds.Modality == "MG" and not study:
            study = str(ds.StudyInstanceUID)
    return found, study


def _token(gateway: GatewayProcess) -> str:
    out = subprocess.run(
        [BREASTGATE, "users", "add", "bench", "--role", "radiologist"],
        env=gateway.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(w for line in out.splitlines() for w in line.split() if len(w) > 30)


def _fetch(client: httpx.Client, root: str, frames: list[Frame]) -> int:
    total = 0
    for frame in frames:
        response = client.get(root + frame.path, headers={"Accept": RAW})
        response.raise_for_status()
        total += len(response.content)
    return total


def _run(make: Callable[[], httpx.Client], root: str, frames: list[Frame], clients: int) -> tuple[float, int]:
    shares = [frames[i::clients] for i in range(clients)]
    pool = [make() for _ in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as executor:
        total = sum(executor.map(lambda pair: _fetch(pair[0], root, pair[1]), zip(pool, shares, strict=True)))
    elapsed = time.perf_counter() - start
    for client in pool:
        client.close()
    return elapsed, total


def _same_frames(
    ours: httpx.Client, theirs: httpx.Client, roots: tuple[str, str], frames: list[Frame]
) -> None:
    for frame in frames[:: max(1, len(frames) // 12)]:
        a = ours.get(roots[0] + frame.path, headers={"Accept": RAW}).content
        b = theirs.get(roots[1] + frame.path, headers={"Accept": RAW}).content
        body_a = a[a.index(b"\r\n\r\n") + 4 : a.rindex(b"\r\n--")]
        body_b = b[b.index(b"\r\n\r\n") + 4 : b.rindex(b"\r\n--")]
        if body_a != body_b or len(body_a) != frame.size:
            raise SystemExit(f"frame bytes differ at {frame.path}")


def _compare(
    label: str,
    frames: list[Frame],
    clients: int,
    rounds: int,
    makers: tuple[Callable[[], httpx.Client], Callable[[], httpx.Client]],
    roots: tuple[str, str],
) -> None:
    runs: dict[str, list[tuple[float, int]]] = {"breastgate": [], "orthanc": []}
    for _ in range(rounds):  # interleaved: a slow spell of the machine hits both
        runs["breastgate"].append(_run(makers[0], roots[0], frames, clients))
        runs["orthanc"].append(_run(makers[1], roots[1], frames, clients))
    rates = {}
    print(f"{label}: {len(frames)} frame requests ({sum(f.size for f in frames) / 1e6:.0f} MB) per round")
    for name, results in runs.items():
        seconds = statistics.median(t for t, _ in results)
        rates[name] = len(frames) / seconds
        print(
            f"  {clients} client(s) {name:10s} {len(frames) / seconds:8.2f} frames/s "
            f"{results[0][1] / 1e6 / seconds:8.1f} MB/s (median of {len(results)} rounds, "
            f"range {min(t for t, _ in results):.2f}-{max(t for t, _ in results):.2f} s)"
        )
    print(f"  {clients} client(s) ratio breastgate/orthanc: {rates['breastgate'] / rates['orthanc']:.1f}")


def _latency(client: httpx.Client, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        client.get(url).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--metadata", type=int, default=50)
    parser.add_argument("--mg-repeat", type=int, default=5, help="times the 4 MG frames are asked per round")
    parser.add_argument(
        "--dbt-frames", type=int, default=10, help="DBT frames asked per round, spread over the volume"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bg-dicomweb-bench-"))
    gateway = orthanc = None
    try:
        mg = sorted(write_phantoms(work / "mg", 1, 7000)[0].glob("*.dcm"))
        dbt_folder = write_phantoms(work / "dbt", 1, 7000, kind="dbt")[0]
        dbt = [dbt_folder / "R_CC_DBT.dcm"]
        for other in dbt_folder.glob("*.dcm"):
            if other not in dbt:
                other.unlink()  # 2 GB for the whole DBT study; one volume is enough
        files = [*mg, *dbt]
        gateway = GatewayProcess(work / "home", BG_INITIAL_MODE="silent")
        gateway.start("--no-workers")
        storescu(gateway.dicom_port, files)
        token = _token(gateway)
        orthanc = OrthancServer(work / "orthanc", dicomweb=True).start()
        for file in files:
            httpx.post(f"{orthanc.url}/instances", content=file.read_bytes(), timeout=120).raise_for_status()
        frames, study = _frames(files)
        roots = (f"{gateway.url}/dicomweb", orthanc.dicomweb_url)
        headers = {"Authorization": f"Bearer {token}"}

        def ours() -> httpx.Client:
            return httpx.Client(headers=headers, timeout=120)

        def theirs() -> httpx.Client:
            return httpx.Client(timeout=120)

        with ours() as a, theirs() as b:
            _same_frames(a, b, roots, frames)
        mg_frames = [f for f in frames if not f.tomo] * args.mg_repeat
        dbt_all = [f for f in frames if f.tomo]
        step = max(1, len(dbt_all) // args.dbt_frames)
        sets = {
            f"MG 4-view x{args.mg_repeat}": mg_frames,
            f"DBT {min(args.dbt_frames, len(dbt_all))} of {len(dbt_all)} frames": dbt_all[::step][
                : args.dbt_frames
            ],
        }
        for label, chosen in sets.items():
            for clients in (1, 4):
                _compare(label, chosen, clients, args.rounds, (ours, theirs), roots)
        with ours() as a, theirs() as b:
            for name, client, root in (("breastgate", a, roots[0]), ("orthanc", b, roots[1])):
                times = _latency(client, f"{root}/studies/{study}/metadata", args.metadata)
                print(
                    f"  metadata 4-view {name:10s} median {statistics.median(times):6.1f} ms "
                    f"p95 {percentile(times, 95):6.1f} ms ({len(times)} requests)"
                )
    finally:
        if gateway is not None:
            gateway.stop()
        if orthanc is not None:
            orthanc.stop(kill=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on a timeout too
    main()
