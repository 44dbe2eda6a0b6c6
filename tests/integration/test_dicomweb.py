"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) over a real socket, checked with ``dicomweb-client`` and
against Orthanc's DICOMweb plugin serving the same files: the same studies, series and instances
found by the same queries, the same key attributes in metadata, identical frame bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import RLELossless

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Mode
from breastgate.ingest.service import SUCCESS, IngestService
from breastgate.store import audit
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app
from tests.support import dicom_factory as factory
from tests.support.db import upgrade
from tests.support.http_server import serve
from tests.support.identity import bearer
from tests.support.orthanc import OrthancServer, orthanc_available

TOMO = "1.2.840.10008.5.1.4.1.1.13.1.3"


def tomo(study_uid: str, frames: int = 5, seed: int = 9) -> Dataset:
    """A small multi-frame Breast Tomosynthesis Image (the frames a viewer scrolls)."""
    ds = factory.make_mg("R", "CC", study_uid=study_uid, seed=seed, patient_id="DW-1", accession="DWACC1")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = TOMO
    ds.SeriesInstanceUID = factory.new_uid()
    ds.SeriesNumber = 2
    ds.NumberOfFrames = frames
    rng = np.random.default_rng(seed)
    ds.PixelData = rng.integers(0, 4096, size=(frames, ds.Rows, ds.Columns), dtype=np.uint16).tobytes()
    return ds


@dataclass
class Site:
    """breastgate serving a store with two studies, and the files it holds."""

    url: str
    db: Database
    blobs: BlobStore
    results: Path
    files: dict[str, Path]  # SOP Instance UID -> source file
    screening: list[Dataset]
    tomo: Dataset
    compressed: Dataset
    headers: dict[str, str]

    def client(self, **headers: str) -> DICOMwebClient:
        session = requests.Session()
        session.headers.update(headers or self.headers)
        return DICOMwebClient(f"{self.url}/dicomweb", session=session)


def _ingest(service: IngestService, ds: Dataset, folder: Path) -> Path:
    source = factory.write(ds, folder / f"{ds.SOPInstanceUID}.dcm")
    temp = folder / "incoming.dcm"
    temp.write_bytes(source.read_bytes())
    assert service.store_received(temp, calling_ae="MODALITY", command_sop_instance_uid=None) == SUCCESS
    return source


def _app(db: Database, blobs: BlobStore, results: Path, mode: Mode = Mode.INTEGRATED) -> Any:
    context = AppContext(
        db=db,
        version="test",
        ae_title="BREASTGATE",
        dicom_port=None,
        workers_in_process=False,
        blobs=blobs,
        results_path=results,
        initial_mode=mode,
    )
    return create_app(context)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("dicomweb")
    url = f"sqlite:///{home / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    blobs = BlobStore(home / "store")
    service = IngestService(db, blobs)
    screening = factory.make_screening_study(patient_id="DW-1", accession="DWACC1")
    multi = tomo(screening[0].StudyInstanceUID)
    other = factory.make_mg("L", "CC", patient_id="DW-2", accession="DWACC2", seed=7)
    other.StudyDate = "20250601"
    compressed = factory.make_mg(
        "R", "MLO", study_uid=other.StudyInstanceUID, patient_id="DW-2", accession="DWACC2", seed=8
    )
    compressed.StudyDate = "20250601"
    compressed.SeriesInstanceUID = other.SeriesInstanceUID
    compressed.compress(RLELossless)
    sources = home / "sources"
    files = {
        ds.SOPInstanceUID: _ingest(service, ds, sources) for ds in [*screening, multi, other, compressed]
    }
    with serve(_app(db, blobs, home / "results")) as base:
        yield Site(base, db, blobs, home / "results", files, screening, multi, compressed, bearer(db))
    db.dispose()


@pytest.fixture(scope="module")
def orthanc(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DICOMwebClient]:
    if not orthanc_available():
        pytest.fail("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb; make test does)")
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-dw"), dicomweb=True).start()
    try:
        for path in site.files.values():
            httpx.post(f"{server.url}/instances", content=path.read_bytes(), timeout=30).raise_for_status()
        yield DICOMwebClient(server.dicomweb_url)
    finally:
        server.stop(kill=True)


def _values(items: list[dict[str, Any]], tag: str) -> list[Any]:
    return sorted(str(i[tag]["Value"][0]) for i in items if i.get(tag, {}).get("Value"))


QUERIES: list[dict[str, str]] = [
    {},
    {"PatientID": "DW-1"},
    {"AccessionNumber": "DWACC2"},
    {"StudyDate": "20251201-20260201"},
    {"StudyDate": "-20251231"},
    {"ModalitiesInStudy": "MG"},
]  # PatientName is left out: this Orthanc (1.x, DICOMweb plugin) matches no PatientName at all


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: ",".join(f"{k}={v}" for k, v in q.items()) or "all")
def test_study_search_finds_what_orthanc_finds(
    site: Site, orthanc: DICOMwebClient, query: dict[str, str]
) -> None:
    ours = site.client().search_for_studies(search_filters=query)
    theirs = orthanc.search_for_studies(search_filters=query)
    assert _values(ours, "0020000D") == _values(theirs, "0020000D"), json.dumps([ours, theirs])
    for tag in ("00201206", "00201208", "00100020", "00080050", "00080020"):
        assert _values(ours, tag) == _values(theirs, tag), tag
    by_uid = {i["0020000D"]["Value"][0]: i for i in theirs}
    for item in ours:
        assert sorted(item["00080061"]["Value"]) == sorted(
            by_uid[item["0020000D"]["Value"][0]]["00080061"]["Value"]
        )


def test_series_and_instance_searches_match_orthanc(site: Site, orthanc: DICOMwebClient) -> None:
    study = site.screening[0].StudyInstanceUID
    ours, theirs = site.client().search_for_series(study), orthanc.search_for_series(study)
    assert _values(ours, "0020000E") == _values(theirs, "0020000E")
    assert _values(ours, "00201209") == _values(theirs, "00201209")
    assert _values(ours, "00080060") == _values(theirs, "00080060")
    for query in ({}, {"Modality": "MG"}, {"SOPInstanceUID": site.tomo.SOPInstanceUID}):
        ours = site.client().search_for_instances(study, search_filters=query)
        theirs = orthanc.search_for_instances(study, search_filters=query)
        assert _values(ours, "00080018") == _values(theirs, "00080018"), query
        assert _values(ours, "00080016") == _values(theirs, "00080016"), query
    every = site.client().search_for_instances(search_filters={"PatientID": "DW-2"})
    first_study = {d.SOPInstanceUID for d in [*site.screening, site.tomo]}
    assert {i["00080018"]["Value"][0] for i in every} == set(site.files) - first_study


def test_no_match_is_204_and_limit_offset_page(site: Site) -> None:
    headers = site.headers
    none = httpx.get(f"{site.url}/dicomweb/studies", params={"PatientID": "NOBODY"}, headers=headers)
    assert none.status_code == 204
    first = httpx.get(f"{site.url}/dicomweb/studies", params={"limit": 1}, headers=headers).json()
    second = httpx.get(
        f"{site.url}/dicomweb/studies", params={"limit": 1, "offset": 1}, headers=headers
    ).json()
    assert len(first) == len(second) == 1 and first[0]["0020000D"] != second[0]["0020000D"]
    included = httpx.get(
        f"{site.url}/dicomweb/studies",
        params={"PatientID": "DW-1", "includefield": "PatientBirthDate,00080090"},
        headers=headers,
    ).json()
    assert included[0]["00100030"]["Value"] == ["19700101"]
    wildcard = httpx.get(
        f"{site.url}/dicomweb/studies", params={"PatientName": "synth*jan?"}, headers=headers
    )
    assert len(wildcard.json()) == 2
    bad = httpx.get(f"{site.url}/dicomweb/studies", params={"StudyDate": "last year"}, headers=headers)
    assert bad.status_code == 400


KEYS = ("00080016", "00080018", "0020000D", "0020000E", "00100020", "00280010", "00280011", "00280100",
        "00280101", "00280002", "00280004", "00200062", "00080060", "00080050")  # fmt: skip


def test_metadata_key_attributes_match_orthanc(site: Site, orthanc: DICOMwebClient) -> None:
    study = site.screening[0].StudyInstanceUID
    ours = {i["00080018"]["Value"][0]: i for i in site.client().retrieve_study_metadata(study)}
    theirs = {i["00080018"]["Value"][0]: i for i in orthanc.retrieve_study_metadata(study)}
    assert set(ours) == set(theirs) == {d.SOPInstanceUID for d in [*site.screening, site.tomo]}
    for uid, item in ours.items():
        for tag in KEYS:
            assert item.get(tag, {}).get("Value") == theirs[uid].get(tag, {}).get("Value"), tag
        assert "InlineBinary" not in json.dumps(item.get("7FE00010", {}))
        # dicomweb-client sends Host without the port: compare the path
        assert f"/dicomweb/studies/{study}/series/" in item["7FE00010"]["BulkDataURI"]
    assert ours[site.tomo.SOPInstanceUID]["00280008"]["Value"] == [5]


RAW = (("application/octet-stream", "1.2.840.10008.1.2.1"),)


def test_frames_are_byte_identical_to_orthanc_and_the_file(site: Site, orthanc: DICOMwebClient) -> None:
    for ds in [*site.screening, site.tomo]:
        frames = int(ds.get("NumberOfFrames") or 1)
        numbers = list(range(1, frames + 1))
        key = (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
        ours = site.client().retrieve_instance_frames(*key, frame_numbers=numbers, media_types=RAW)
        theirs = orthanc.retrieve_instance_frames(*key, frame_numbers=numbers, media_types=RAW)
        size = len(ds.PixelData) // frames
        assert ours == theirs == [ds.PixelData[i * size : (i + 1) * size] for i in range(frames)]
    one = site.client().retrieve_instance_frames(
        site.tomo.StudyInstanceUID,
        site.tomo.SeriesInstanceUID,
        site.tomo.SOPInstanceUID,
        frame_numbers=[4, 2],
    )
    size = len(site.tomo.PixelData) // 5
    assert one == [site.tomo.PixelData[3 * size : 4 * size], site.tomo.PixelData[size : 2 * size]]


def _instance_url(site: Site, ds: Dataset) -> str:
    series = f"{site.url}/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
    return f"{series}/instances/{ds.SOPInstanceUID}"


def test_compressed_frames_as_stored_or_decoded(site: Site) -> None:
    ds = site.compressed
    key = f"{_instance_url(site, ds)}/frames/1"
    as_stored = httpx.get(
        key,
        headers={
            **site.headers,
            "Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
        },
    )
    assert as_stored.status_code == 200
    assert f"transfer-syntax={RLELossless}" in as_stored.text[:300]
    raw = site.client().retrieve_instance_frames(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, frame_numbers=[1]
    )
    assert raw[0] == ds.pixel_array.astype("<u2").tobytes()
    refused = httpx.get(key, headers={**site.headers, "Accept": 'multipart/related; type="image/jp2"'})
    assert refused.status_code == 406


def test_retrieve_instance_and_study_are_the_stored_files(site: Site) -> None:
    ds = site.screening[1]
    got = site.client().retrieve_instance(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert got.SOPInstanceUID == ds.SOPInstanceUID and got.PixelData == ds.PixelData
    single = httpx.get(
        _instance_url(site, ds), headers={**site.headers, "Accept": "application/dicom; transfer-syntax=*"}
    )
    assert single.headers["content-type"] == "application/dicom"
    assert single.content == site.files[ds.SOPInstanceUID].read_bytes()
    study = site.client().retrieve_study(ds.StudyInstanceUID)
    assert {d.SOPInstanceUID for d in study} == {d.SOPInstanceUID for d in [*site.screening, site.tomo]}
    missing = httpx.get(
        f"{site.url}/dicomweb/studies/1.2.3.4/series/1.2/instances/1.2.3/metadata", headers=site.headers
    )
    assert missing.status_code == 404


def test_rendered_is_a_windowed_image(site: Site) -> None:
    ds = site.tomo
    base = _instance_url(site, ds)
    jpeg = httpx.get(f"{base}/frames/3/rendered", headers={**site.headers, "Accept": "image/jpeg"})
    assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
    assert Image.open(BytesIO(jpeg.content)).size == (ds.Columns, ds.Rows)
    png = httpx.get(
        f"{base}/rendered", params={"window": "2048,4096"}, headers={**site.headers, "Accept": "image/png"}
    )
    pixels = np.asarray(Image.open(BytesIO(png.content)))
    expected = np.clip(ds.pixel_array[0] / 4096.0 * 255.0, 0, 255).astype(np.uint8)
    assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 1


def _phi_events(db: Database, study: str) -> list[Any]:
    with db.session() as session:
        return [e for e in audit.for_study(session, study) if e.kind == AuditKind.PHI_ACCESSED.value]


def test_reads_are_audited_once_per_request_and_frames_once(site: Site) -> None:
    ds = site.screening[2]
    client = site.client(**bearer(site.db, "radiologist", name="reader-audit"))
    before = len(_phi_events(site.db, ds.StudyInstanceUID))
    client.retrieve_study_metadata(ds.StudyInstanceUID)
    for _ in range(3):
        client.retrieve_instance_frames(
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, frame_numbers=[1]
        )
    events = _phi_events(site.db, ds.StudyInstanceUID)[before:]
    assert [(e.actor, e.subject) for e in events] == [
        ("user:reader-audit", "dicomweb metadata"),
        ("user:reader-audit", "dicomweb frames"),
    ]
