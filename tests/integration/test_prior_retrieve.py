"""Priors for a current study against a real Orthanc, by each retrieve path: C-FIND + C-MOVE to our
own SCP, C-FIND + C-GET (no inbound port), QIDO-RS + WADO-RS (Orthanc's DICOMweb plugin). The
current study arriving (no order) owes the pre-fetch; the worker selects by patient, modality,
count and age, stores the priors through the ingest path, and does not fetch them again. Then the
failures: a PACS that is down (retryable), one that refuses (permanent, with the reason), one
that never answers (bounded by the timeouts), one whose sub-operations partly fail (logged)."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from breastgate.domain.model import DicomNode
from breastgate.ingest.scp import StorageSCP
from breastgate.ingest.service import IngestService
from breastgate.routing.assembly import StudyAssembler
from breastgate.routing.attach import PriorPolicy
from breastgate.routing.prefetch import PrefetchWorker
from breastgate.routing.qr import PriorFetcher
from breastgate.routing.retrieve import Intake, RetrieveMethod, RetrieveSpec, build_source, parse_retrieve
from breastgate.routing.rules import Rule
from breastgate.store import prefetch, studies
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.prefetch import FetchState
from tests.support import orthanc as orthanc_support
from tests.support.db import upgrade
from tests.support.orthanc import OrthancServer, free_port
from tests.support.priors import PriorEcho, prior_study, restamp, retrieve_setting, upload

pytestmark = [pytest.mark.peers]

orthanc_factory = orthanc_support.orthanc_factory

PATIENT = "PRIORRET01"
CURRENT_DATE = "20261120"
#: 2025 and 2024 are the two most recent priors; 2019 is older than BG_PRIOR_YEARS (5).
DATES = {"2025": "20250110", "2024": "20240110", "2019": "20190110"}
ECHO = PriorEcho.manifest.id


@pytest.fixture(scope="module")
def phantoms() -> dict[str, list[pydicom.Dataset]]:
    base = prior_study(700, PATIENT, CURRENT_DATE, shrink=8)
    out = {key: restamp(base, PATIENT, day, f"PR{key}") for key, day in DATES.items()}
    out["other-patient"] = restamp(base, "SOMEONEELSE", "20250301", "PROTHER")
    out["current"] = restamp(base, PATIENT, CURRENT_DATE, "CURRENT")
    out["second"] = restamp(base, PATIENT, "20261121", "SECOND")
    return out


@dataclass
class Site:
    db: Database
    blobs: BlobStore
    ingest: IngestService
    scp: StorageSCP
    incoming: Path

    def receive(self, datasets: list[pydicom.Dataset]) -> None:
        for ds in datasets:
            path = self.incoming / f"{ds.SOPInstanceUID}.dcm"
            ds.save_as(path, enforce_file_format=True)
            assert self.ingest.store_received(path, calling_ae="MODALITY", command_sop_instance_uid=None) == 0

    def arrive(self, datasets: list[pydicom.Dataset]) -> None:
        """The current study comes in and is routed to the prior-reading algorithm (owes a pre-fetch)."""
        self.receive(datasets)
        policy = PriorPolicy(wanted={ECHO: ("MG",)}, count=2, years=5, fetching=True)
        assembler = StudyAssembler(self.db, [Rule(ECHO, modalities=("MG",))], 10, lambda _id: None, policy)
        assert len(assembler.tick()) == 1

    def worker(self, pacs: OrthancServer, method: str, **timeouts: float) -> PrefetchWorker:
        (spec,) = parse_retrieve(retrieve_setting(pacs, method)).values()
        return self.worker_for(spec, DicomNode.parse(pacs.dicom_node), **timeouts)

    def worker_for(self, spec: RetrieveSpec, node: DicomNode, **timeouts: float) -> PrefetchWorker:
        fetcher = PriorFetcher("BREASTGATE", **timeouts)
        intake = Intake(self.db, self.blobs, self.incoming / "priors")
        source = build_source(spec, node, fetcher, intake, timeout=timeouts.get("dimse_timeout", 30.0))
        return PrefetchWorker(self.db, source, count=2, years=5)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    blobs = BlobStore(tmp_path / "store")
    ingest = IngestService(db, blobs)
    scp = StorageSCP(ingest, ae_title="BREASTGATE", host="127.0.0.1", port=0, temp_dir=tmp_path / "tmp")
    scp.start()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    yield Site(db, blobs, ingest, scp, incoming)
    scp.stop()
    db.dispose()


def _uid(datasets: list[pydicom.Dataset]) -> str:
    return str(datasets[0].StudyInstanceUID)


def _fetch(site: Site, phantoms: dict[str, list[pydicom.Dataset]]) -> prefetch.FetchEntry:
    with site.db.session() as s:
        entry = prefetch.for_study(s, _uid(phantoms["current"]))
    assert entry is not None
    return entry


@pytest.mark.parametrize("method", ["move", "get", "dicomweb"])
def test_a_current_study_fetches_its_priors_by_each_path(
    method: str,
    site: Site,
    orthanc_factory: Callable[..., OrthancServer],
    phantoms: dict[str, list[pydicom.Dataset]],
) -> None:
    known = {"BREASTGATE": ["BREASTGATE", "127.0.0.1", site.scp.port]} if method == "move" else {}
    pacs = orthanc_factory(modalities=known, dicomweb=method == "dicomweb")
    for key in ("2025", "2024", "2019", "other-patient"):
        upload(pacs, phantoms[key])
    site.arrive(phantoms["current"])
    worker = site.worker(pacs, method, dimse_timeout=30)

    assert worker.run_once() == 1
    entry = _fetch(site, phantoms)
    assert (entry.state, entry.studies_found, entry.studies_moved) == (FetchState.DONE, 2, 2)
    wanted = {_uid(phantoms["2025"]), _uid(phantoms["2024"])}
    with site.db.session() as s:
        for uid in wanted:
            ref = studies.get_study_ref(s, uid)
            assert ref is not None and len(ref.instances) == 4 and ref.patient_id == PATIENT
            assert all(Path(i.path).is_file() for i in ref.instances)  # on disk, where the index says
            assert prefetch.is_prior(s, uid)
        for key in ("2019", "other-patient"):
            assert studies.get_study_ref(s, _uid(phantoms[key])) is None
        assert prefetch.counts(s)["done"] == 1

    # Held priors are not fetched again (a second current study of the same patient).
    second = phantoms["second"]
    site.arrive(second)
    assert worker.run_once() == 1
    with site.db.session() as s:
        again = prefetch.for_study(s, _uid(second))
    assert again is not None and (again.state, again.studies_found, again.studies_moved) == (
        FetchState.DONE,
        2,
        0,
    )


def test_pacs_down_is_retried_with_backoff_for_get_and_dicomweb(
    site: Site, orthanc_factory: Callable[..., OrthancServer], phantoms: dict[str, list[pydicom.Dataset]]
) -> None:
    pacs = orthanc_factory(dicomweb=True)
    upload(pacs, phantoms["2025"])
    site.arrive(phantoms["current"])
    pacs.stop(kill=True)
    for method in ("get", "dicomweb"):
        worker = site.worker(pacs, method, connect_timeout=2)
        with site.db.session() as s:  # due again at once, to try the next path
            row = prefetch.for_study(s, _uid(phantoms["current"]))
        assert row is not None
        assert worker.run_once(now=row.next_attempt_at) == 1
        entry = _fetch(site, phantoms)
        assert entry.state == FetchState.PENDING and entry.next_attempt_at > row.next_attempt_at
        assert "PeerUnavailableError" in (entry.last_error or "")
    pacs.start()
    assert site.worker(pacs, "get").run_once(now=_fetch(site, phantoms).next_attempt_at) == 1
    assert _fetch(site, phantoms).state == FetchState.DONE


class _Refusing:
    """A tiny PACS that finds the prior but answers its C-GET with a failure status (PS3.4 C.4.3.1.4)."""

    def __init__(self, study_uid: str, status: int) -> None:
        self.study_uid, self.status = study_uid, status

    def handle_find(self, event: Any) -> Iterator[tuple[int, Any]]:
        match = pydicom.Dataset()
        match.QueryRetrieveLevel = "STUDY"
        match.StudyInstanceUID = self.study_uid
        match.StudyDate = DATES["2025"]
        match.ModalitiesInStudy = "MG"
        yield 0xFF00, match
        yield 0x0000, None

    def handle_get(self, event: Any) -> Iterator[Any]:
        yield 1  # one sub-operation, refused before it starts
        yield self.status, None


@pytest.mark.parametrize("status", [0xC001, 0xA900])
def test_a_refused_c_get_is_permanent_with_the_reason(
    status: int, site: Site, phantoms: dict[str, list[pydicom.Dataset]]
) -> None:
    pacs = _Refusing(_uid(phantoms["2025"]), status)
    ae = AE(ae_title="REFUSING")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port),
        block=False,
        evt_handlers=[(evt.EVT_C_FIND, pacs.handle_find), (evt.EVT_C_GET, pacs.handle_get)],
    )
    try:
        site.arrive(phantoms["current"])
        site.worker_for(RetrieveSpec(RetrieveMethod.GET), DicomNode("REFUSING", "127.0.0.1", port)).run_once()
    finally:
        server.shutdown()
    entry = _fetch(site, phantoms)
    assert entry.state == FetchState.FAILED
    assert f"C-GET status 0x{status:04X}" in (entry.last_error or "")


def test_a_dicomweb_404_is_permanent(
    site: Site, orthanc_factory: Callable[..., OrthancServer], phantoms: dict[str, list[pydicom.Dataset]]
) -> None:
    pacs = orthanc_factory()  # no DICOMweb plugin: /dicom-web answers 404
    site.arrive(phantoms["current"])
    site.worker(pacs, "dicomweb").run_once()
    entry = _fetch(site, phantoms)
    assert entry.state == FetchState.FAILED and "HTTP 404" in (entry.last_error or "")


class _Silent:
    """A PACS that accepts the association (or the HTTP connection) and then never answers, until
    released at teardown: slowness is bounded by our timeouts, not by waiting."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def handle_find(self, event: Any) -> Iterator[tuple[int, Any]]:
        self.release.wait(30)
        yield 0x0000, None


def test_a_pacs_that_never_answers_is_bounded_by_the_timeouts(
    site: Site, phantoms: dict[str, list[pydicom.Dataset]]
) -> None:
    silent = _Silent()
    ae = AE(ae_title="SLOWPACS")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_FIND, silent.handle_find)]
    )

    class Hang(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            silent.release.wait(30)

        def log_message(self, *_args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        site.arrive(phantoms["current"])
        node = DicomNode("SLOWPACS", "127.0.0.1", port)
        for spec in (RetrieveSpec(), RetrieveSpec(RetrieveMethod.GET)):
            site.worker_for(spec, node, dimse_timeout=1).run_once(now=_fetch(site, phantoms).next_attempt_at)
            entry = _fetch(site, phantoms)
            assert entry.state == FetchState.PENDING and "C-FIND" in (entry.last_error or "")
        web = parse_retrieve(f"X=dicomweb:http://127.0.0.1:{http.server_address[1]}/dicom-web")["X"]
        site.worker_for(web, node, dimse_timeout=1).run_once(now=_fetch(site, phantoms).next_attempt_at)
        entry = _fetch(site, phantoms)
        assert entry.state == FetchState.PENDING and "QIDO-RS" in (entry.last_error or "")
    finally:
        silent.release.set()
        http.shutdown()
        http.server_close()
        server.shutdown()


@pytest.mark.parametrize(("method", "logger", "expected"), [
    ("get", "breastgate.routing.qr", "C-GET of study"),
    ("dicomweb", "breastgate.routing.dicomweb", "WADO-RS of study"),
])  # fmt: skip
def test_partial_sub_operation_failures_are_logged(
    method: str,
    logger: str,
    expected: str,
    site: Site,
    orthanc_factory: Callable[..., OrthancServer],
    phantoms: dict[str, list[pydicom.Dataset]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pacs = orthanc_factory(dicomweb=method == "dicomweb")
    prior = phantoms["2025"]
    broken = copy.deepcopy(prior[0])  # pixel data shorter than Rows x Columns: we refuse it (0xC210)
    broken.SOPInstanceUID = broken.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    broken.PixelData = bytes(broken.PixelData)[:1024]
    upload(pacs, [*prior, broken])
    site.arrive(phantoms["current"])
    with caplog.at_level(logging.WARNING, logger=logger):
        site.worker(pacs, method).run_once()
    assert _fetch(site, phantoms).state == FetchState.DONE
    assert expected in caplog.text
    assert (
        "1 sub-operation(s) failed, 4 completed" in caplog.text
        or "1 instance(s) not kept, 4 kept" in caplog.text
    )
    with site.db.session() as s:
        ref = studies.get_study_ref(s, _uid(prior))
    assert ref is not None and len(ref.instances) == 4


def test_a_pacs_that_does_not_know_the_called_ae_refuses_for_good(
    site: Site, orthanc_factory: Callable[..., OrthancServer], phantoms: dict[str, list[pydicom.Dataset]]
) -> None:
    pacs = orthanc_factory(extra_config={"DicomCheckCalledAet": True})
    site.arrive(phantoms["current"])
    wrong = replace(DicomNode.parse(pacs.dicom_node), ae_title="NOTORTHANC")
    worker = site.worker_for(RetrieveSpec(RetrieveMethod.GET), wrong)
    worker.run_once()
    entry = _fetch(site, phantoms)
    # Orthanc sends A-ASSOCIATE-RJ and closes the connection at once; on a loaded machine
    # pynetdicom can see the close before the PDU and report an abort (a retryable failure, seen
    # once in CI). The rejection must still end the fetch on a later attempt, never loop forever.
    for _ in range(3):
        if entry.state != FetchState.PENDING or "aborted or timed out" not in (entry.last_error or ""):
            break
        worker.run_once(now=entry.next_attempt_at)
        entry = _fetch(site, phantoms)
    assert entry.state == FetchState.FAILED
    assert "RejectedError: association rejected by NOTORTHANC" in (entry.last_error or "")
