"""STOW-RS with the SCP's rules (nothing acknowledged before it is on disk and indexed; the same
refusals), PS3.18 §10.5 status codes, who may call DICOMweb, and breastgate's own result objects
listed and retrieved as far as their algorithm version's mode allows."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite

from breastgate.domain.audit import AuditKind
from breastgate.domain.governance import Mode
from breastgate.governance.accounts import hash_password
from breastgate.store import audit, studies
from breastgate.store import governance as users
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.web.api.access import routes
from breastgate.web.api.deps import AppContext
from breastgate.web.api.dicomweb_stow import INCOMING
from breastgate.web.app import create_app
from tests.support import dicom_factory as factory
from tests.support.db import upgrade
from tests.support.http_server import serve
from tests.support.identity import bearer

DICOM = 'multipart/related; type="application/dicom"; boundary=xyzzy'


@dataclass
class Server:
    url: str
    db: Database
    blobs: BlobStore
    results: Path
    app: Any

    def post(self, parts: list[bytes], path: str = "/dicomweb/studies", **headers: str) -> httpx.Response:
        body = b"".join(b"--xyzzy\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts)
        headers = {"Content-Type": DICOM, **(headers or bearer(self.db, "integration"))}
        return httpx.post(f"{self.url}{path}", content=body + b"--xyzzy--\r\n", headers=headers, timeout=30)


def _context(db: Database, blobs: BlobStore, results: Path, mode: Mode) -> AppContext:
    return AppContext(
        db=db, version="test", ae_title="BREASTGATE", dicom_port=None, workers_in_process=False,
        blobs=blobs, results_path=results, initial_mode=mode,
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("stow")
    url = f"sqlite:///{home / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    blobs = BlobStore(home / "store")
    app = create_app(_context(db, blobs, home / "results", Mode.ASSISTIVE))
    with serve(app) as base:
        yield Server(base, db, blobs, home / "results", app)
    db.dispose()


def _bytes(ds: Dataset) -> bytes:
    buffer = DicomBytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _failures(body: dict[str, Any]) -> list[tuple[str | None, int]]:
    return [
        ((i.get("00081155", {}).get("Value") or [None])[0], i["00081197"]["Value"][0])
        for i in body.get("00081198", {}).get("Value", [])
    ]


def test_stow_with_dicomweb_client_is_indexed_and_on_disk_when_answered(server: Server) -> None:
    views = factory.make_screening_study(patient_id="STOW-1", accession="STOW1")
    session = requests.Session()
    session.headers.update(bearer(server.db, "technologist", name="tech-stow"))
    client = DICOMwebClient(f"{server.url}/dicomweb", session=session)
    answer = client.store_instances(views)
    assert [i.ReferencedSOPInstanceUID for i in answer.ReferencedSOPSequence] == [
        v.SOPInstanceUID for v in views
    ]
    with server.db.session() as s:  # right after the 200, nothing waited for
        assert all(studies.instance_exists(s, v.SOPInstanceUID) for v in views)
        events = [
            e for e in audit.for_study(s, views[0].StudyInstanceUID) if e.kind == AuditKind.INSTANCE_RECEIVED
        ]
        # the four screening views are in: assembly takes the study on as it would a C-STORE'd one
        assert views[0].StudyInstanceUID in studies.studies_ready(s, datetime.now(UTC), 3600)
    assert {e.actor for e in events} == {"user:tech-stow"} and len(events) == 4
    for v in views:
        stored = server.blobs.path_for(v.StudyInstanceUID, v.SeriesInstanceUID, v.SOPInstanceUID)
        copy = dcmread(stored)  # a Part 10 file (preamble added where the client left it out)
        assert copy.SOPInstanceUID == v.SOPInstanceUID and copy.PixelData == v.PixelData
    again = server.post([_bytes(views[0])])  # a duplicate is a success, as over DICOM
    assert again.status_code == 200
    assert not list((server.blobs.root / INCOMING).iterdir())


def test_bad_parts_give_202_and_keep_the_good_ones(server: Server, tmp_path: Path) -> None:
    good = factory.make_mg("L", "MLO", patient_id="STOW-2")
    ct = factory.make_ct()
    source = factory.write(factory.make_mg("R", "CC", patient_id="STOW-2"), tmp_path / "whole.dcm")
    truncated = factory.truncated_copy(source, tmp_path / "cut.dcm").read_bytes()
    response = server.post([_bytes(good), _bytes(ct), b"not dicom at all", truncated])
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/dicom+json"
    body = response.json()
    assert [i["00081155"]["Value"][0] for i in body["00081199"]["Value"]] == [good.SOPInstanceUID]
    # SOP class not supported (the SCP refuses it in negotiation); undecodable and truncated: 0xC000
    assert _failures(body) == [(ct.SOPInstanceUID, 0x0122), (None, 0xC000), (None, 0xC000)]
    with server.db.session() as s:
        assert studies.instance_exists(s, good.SOPInstanceUID)
        assert not studies.instance_exists(s, ct.SOPInstanceUID)


def test_all_failed_is_409_wrong_study_and_wrong_type(server: Server) -> None:
    assert server.post([_bytes(factory.make_ct())]).status_code == 409
    mg = factory.make_mg(patient_id="STOW-3")
    wrong = server.post([_bytes(mg)], path="/dicomweb/studies/1.2.3.999")
    assert wrong.status_code == 409 and _failures(wrong.json()) == [(mg.SOPInstanceUID, 0xA900)]
    headers = {**bearer(server.db, "integration"), "Content-Type": "application/json"}
    assert httpx.post(f"{server.url}/dicomweb/studies", content=b"{}", headers=headers).status_code == 415
    right = server.post([_bytes(mg)], path=f"/dicomweb/studies/{mg.StudyInstanceUID}")
    assert right.status_code == 200


def test_a_store_that_cannot_write_acknowledges_nothing(server: Server) -> None:
    mg = factory.make_mg(patient_id="STOW-4")
    blocker = server.blobs.root / mg.StudyInstanceUID
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"a file where the study folder must go")
    response = server.post([_bytes(mg)])
    assert response.status_code == 409
    assert _failures(response.json()) == [(mg.SOPInstanceUID, 0xA700)]
    with server.db.session() as s:
        assert not studies.instance_exists(s, mg.SOPInstanceUID)
    assert not list((server.blobs.root / INCOMING).iterdir())


def test_every_dicomweb_route_needs_an_identity(server: Server) -> None:
    paths = sorted({p for p, _, _ in routes(server.app) if p.startswith("/dicomweb")})
    assert len(paths) >= 15
    for path in paths:
        url = server.url + path.replace("{frames}", "1").replace("{frame}", "1").replace("{tag}", "00091001")
        for method in (
            ("GET", "POST") if path in ("/dicomweb/studies", "/dicomweb/studies/{study}") else ("GET",)
        ):
            response = httpx.request(method, url.replace("{", "").replace("}", ""))
            assert response.status_code == 401, (method, path)
            assert "Basic" in response.headers["www-authenticate"]


def test_who_may_store_and_read(server: Server) -> None:
    mg = _bytes(factory.make_mg(patient_id="STOW-5"))
    assert server.post([mg], **bearer(server.db, "radiologist")).status_code == 403
    assert server.post([mg], **bearer(server.db, "ai_admin,auditor")).status_code == 403
    search = f"{server.url}/dicomweb/studies?PatientID=STOW-5"
    assert (
        httpx.get(search, headers=bearer(server.db, "ai_admin")).status_code == 204
    )  # may read; nothing yet
    password = secrets.token_urlsafe(12)
    with server.db.session() as s:
        users.add_user(s, "modality-box", "integration", actor="test", password_hash=hash_password(password))
    assert (
        server.post([mg], Authorization=httpx.BasicAuth("modality-box", password)._auth_header).status_code
        == 200
    )
    found = httpx.get(search, auth=("modality-box", password))
    assert found.status_code == 200 and found.json()[0]["00100020"]["Value"] == ["STOW-5"]


def _result_object(server: Server, study: Dataset, algorithm: str) -> Dataset:
    sr = factory.make_mg(study_uid=study.StudyInstanceUID, patient_id=study.PatientID)
    sr.SOPClassUID = sr.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.50"
    sr.Modality = "SR"
    sr.SeriesInstanceUID = factory.new_uid()
    del sr.PixelData, sr.Rows, sr.Columns
    factory.write(sr, server.results / study.StudyInstanceUID / f"cad-sr-{sr.SOPInstanceUID}.dcm")
    with server.db.session() as s:
        audit.append(
            s, AuditKind.INFERENCE, actor=f"algorithm:{algorithm}", study_instance_uid=study.StudyInstanceUID,
            subject=f"{algorithm}@1.0.0",
            data={"algorithm_id": algorithm, "version": "1.0.0", "outputs": [sr.SOPInstanceUID]},
        )  # fmt: skip
    return sr


def test_result_objects_are_listed_and_retrieved_unless_silent(server: Server) -> None:
    image = factory.make_mg(patient_id="STOW-6")
    assert server.post([_bytes(image)]).status_code == 200
    shown = _result_object(server, image, "test.shown")
    headers = bearer(server.db, "radiologist")
    base = f"{server.url}/dicomweb/studies/{image.StudyInstanceUID}"
    instances = httpx.get(f"{base}/instances", headers=headers).json()
    assert {i["00080018"]["Value"][0] for i in instances} == {image.SOPInstanceUID, shown.SOPInstanceUID}
    study = httpx.get(f"{server.url}/dicomweb/studies?PatientID=STOW-6", headers=headers).json()[0]
    assert study["00080061"]["Value"] == ["MG", "SR"] and study["00201208"]["Value"] == [2]
    sop = f"{base}/series/{shown.SeriesInstanceUID}/instances/{shown.SOPInstanceUID}"
    assert httpx.get(f"{sop}/metadata", headers=headers).json()[0]["00080016"]["Value"] == [shown.SOPClassUID]
    with serve(create_app(_context(server.db, server.blobs, server.results, Mode.SILENT))) as silent:
        hidden = silent + f"/dicomweb/studies/{image.StudyInstanceUID}"
        listed = httpx.get(f"{hidden}/instances", headers=headers).json()
        assert {i["00080018"]["Value"][0] for i in listed} == {image.SOPInstanceUID}
        missing = f"{hidden}/series/{shown.SeriesInstanceUID}/instances/{shown.SOPInstanceUID}/metadata"
        assert httpx.get(missing, headers=headers).status_code == 404
