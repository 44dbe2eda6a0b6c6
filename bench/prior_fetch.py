"""Prior fetch latency per retrieve path: a current MG study's last instance stored → its priors on
disk and indexed, against a real Orthanc, by C-MOVE (to our own Storage SCP), C-GET and DICOMweb
(QIDO-RS + WADO-RS through Orthanc's DICOMweb plugin).

In one process, as the gateway chains it: the current study's four views are ingested (the clock
starts after the last one is committed), the assembler routes it to an algorithm that wants MG
priors (it owes a pre-fetch), and the pre-fetch worker queries and retrieves the patient's
``--priors`` most recent priors. Each round is a new patient, so nothing is held already.
Prints each round and the median / p95 / max per path, and the MB moved per second.

    python bench/prior_fetch.py [--rounds 3] [--priors 2] [--shrink 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.support

from tests.support.orthanc import OrthancServer
from tests.support.priors import PriorEcho, prior_study, restamp, retrieve_setting, upload

from bench._common import median, percentile
from breastgate.domain.model import DicomNode
from breastgate.ingest.scp import StorageSCP
from breastgate.ingest.service import IngestService
from breastgate.routing.assembly import StudyAssembler
from breastgate.routing.attach import PriorPolicy
from breastgate.routing.prefetch import PrefetchWorker
from breastgate.routing.qr import PriorFetcher
from breastgate.routing.retrieve import Intake, build_source, parse_retrieve
from breastgate.routing.rules import Rule
from breastgate.store import prefetch, studies
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.migrate import upgrade

PATHS = ("move", "get", "dicomweb")
ECHO = PriorEcho.manifest.id


def run_path(path: str, work: Path, base: list, rounds: int, priors: int) -> list[tuple[float, int]]:
    """(seconds, bytes of priors) per round for one retrieve path, on a fresh gateway and PACS."""
    url = f"sqlite:///{work / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    blobs = BlobStore(work / "store")
    ingest = IngestService(db, blobs)
    scp = StorageSCP(ingest, ae_title="BREASTGATE", host="127.0.0.1", port=0, temp_dir=work / "tmp")
    scp.start()
    known = {"BREASTGATE": ["BREASTGATE", "127.0.0.1", scp.port]} if path == "move" else {}
    pacs = OrthancServer(work / "orthanc", modalities=known, dicomweb=path == "dicomweb").start()
    (spec,) = parse_retrieve(retrieve_setting(pacs, path)).values()
    source = build_source(
        spec, DicomNode.parse(pacs.dicom_node), PriorFetcher("BREASTGATE"), Intake(db, blobs, work / "tmp")
    )
    policy = PriorPolicy(wanted={ECHO: ("MG",)}, count=priors, years=10, fetching=True)
    assembler = StudyAssembler(db, [Rule(ECHO, modalities=("MG",))], 10, lambda _id: None, policy)
    worker = PrefetchWorker(db, source, count=priors, years=10)
    out: list[tuple[float, int]] = []
    try:
        for n in range(rounds):
            patient = f"BENCH{path.upper()}{n:03d}"
            prior_uids = []
            for k in range(priors):
                study = restamp(base, patient, f"20{24 - k}0301", f"P{n}{k}")
                upload(pacs, study)
                prior_uids.append(str(study[0].StudyInstanceUID))
            current = restamp(base, patient, "20261120", f"C{n}")
            for ds in current:
                file = work / "in.dcm"
                ds.save_as(file, enforce_file_format=True)
                ingest.store_received(file, calling_ae="MODALITY", command_sop_instance_uid=None)
            start = time.perf_counter()  # the current study's last instance is committed
            assembler.tick()
            while not worker.run_once():
                pass
            seconds = time.perf_counter() - start
            with db.session() as s:
                entry = prefetch.for_study(s, str(current[0].StudyInstanceUID))
                refs = [studies.get_study_ref(s, uid) for uid in prior_uids]
            assert entry is not None and entry.state == "done", entry
            held = [i for r in refs if r is not None for i in r.instances if Path(i.path).is_file()]
            assert len(held) == priors * len(base), f"{len(held)} prior instances on disk"
            size = sum(Path(i.path).stat().st_size for i in held)
            out.append((seconds, size))
            print(f"{path:>8} round {n + 1}: {seconds:6.2f} s for {priors} prior(s), {size / 1e6:.0f} MB")
    finally:
        pacs.stop()
        scp.stop()
        db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--priors", type=int, default=2, help="priors per current study (BG_PRIOR_COUNT)")
    parser.add_argument(
        "--shrink", type=int, default=1, help="keep every n-th pixel row/column (1: full size)"
    )
    parser.add_argument("--paths", default=",".join(PATHS))
    args = parser.parse_args()
    base = prior_study(600, "BENCH", "20261120", shrink=args.shrink)
    summary = []
    for path in args.paths.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bg-bench-prior-{path}-") as tmp:
            rounds = run_path(path, Path(tmp), base, args.rounds, args.priors)
        seconds = [s for s, _ in rounds]
        rate = sum(b for _, b in rounds) / sum(seconds) / 1e6
        summary.append(
            f"{path:>8}: median {median(seconds):.2f} s, p95 {percentile(seconds, 95):.2f} s, "
            f"max {max(seconds):.2f} s, {rate:.0f} MB/s"
        )
    print(f"last instance of the current study -> {args.priors} prior(s) on disk ({len(base)} images each):")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
