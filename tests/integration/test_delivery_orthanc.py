"""Outbox delivery to a real Orthanc: delivered once, retried while the PACS is down, never dropped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, SecondaryCaptureImageStorage, generate_uid

from breastgate.delivery.dicom import CStoreSender, send_files
from breastgate.delivery.service import OutboxWorker
from breastgate.domain.errors import NoPresentationContextError, PeerUnavailableError
from breastgate.jobs.retry import RetryPolicy
from breastgate.store import outbox
from breastgate.store.db import Database
from breastgate.store.outbox import OutboxState
from tests.support import orthanc as orthanc_support
from tests.support.db import upgrade
from tests.support.orthanc import OrthancServer

pytestmark = pytest.mark.peers
orthanc_factory = orthanc_support.orthanc_factory  # the fixture, visible to this module

Factory = Callable[..., OrthancServer]


def secondary_capture(folder: Path, *, study_uid: str, sop_class: str = SecondaryCaptureImageStorage) -> Path:
    """A tiny valid Secondary Capture Image (PS3.3 A.8.1), 16 x 16 MONOCHROME2, Part 10."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Test^Delivery", "BG-DELIV", "", "F"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = (
        "20260101",
        "120000",
        "A1",
        "",
        "1",
    )
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber, ds.ConversionType = "OT", 900, 1, "WSD"
    ds.PatientOrientation = ""
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = (np.arange(256, dtype=np.uint8).reshape(16, 16)).tobytes()
    path = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def enqueue(db: Database, destination: str, path: Path, now: datetime | None = None) -> bool:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    with db.session() as s:
        return outbox.enqueue(
            s,
            destination=destination,
            kind="dicom",
            sop_instance_uid=ds.SOPInstanceUID,
            study_instance_uid=ds.StudyInstanceUID,
            path=str(path),
            now=now,
        )


def rows(db: Database) -> list[outbox.OutboxEntry]:
    with db.session() as s:
        return outbox.list_items(s)


def test_worker_delivers_to_orthanc(orthanc_factory: Factory, db: Database, tmp_path: Path) -> None:
    pacs = orthanc_factory()
    study = generate_uid()
    path = secondary_capture(tmp_path, study_uid=study)
    worker = OutboxWorker(db, {"dicom": CStoreSender("BREASTGATE")}, owner_id="w1")
    assert enqueue(db, pacs.dicom_node, path)
    assert worker.run_once() == 1
    (row,) = rows(db)
    assert row.state is OutboxState.SENT and row.attempts == 1, row.last_error
    (instance,) = pacs.find_instances(study, modality="OT")
    stored = pydicom.dcmread(BytesIO(pacs.download(instance)))
    sent = pydicom.dcmread(path)
    assert stored.SOPInstanceUID == sent.SOPInstanceUID and stored.PixelData == sent.PixelData


def test_pacs_down_retries_with_backoff_then_delivers_exactly_once(
    orthanc_factory: Factory, db: Database, tmp_path: Path
) -> None:
    pacs = orthanc_factory()
    pacs.stop()  # the PACS is down when the result is ready
    study = generate_uid()
    path = secondary_capture(tmp_path, study_uid=study)
    worker = OutboxWorker(
        db, {"dicom": CStoreSender("BREASTGATE", connect_timeout=2)}, RetryPolicy(2, 60), owner_id="w1"
    )
    now = datetime.now(UTC)
    assert enqueue(db, pacs.dicom_node, path, now=now)
    delays = []
    for expected_attempts in (1, 2, 3):
        assert worker.run_once(now=now) == 1
        (row,) = rows(db)
        assert row.state is OutboxState.PENDING and row.attempts == expected_attempts
        assert row.last_error is not None and "connection refused" in row.last_error
        assert row.lease_owner is None
        delays.append((row.next_attempt_at - now).total_seconds())
        assert worker.run_once(now=row.next_attempt_at - timedelta(seconds=0.5)) == 0  # backoff holds
        now = row.next_attempt_at
    assert delays == [2, 4, 8]

    pacs.start()  # back, same ports and storage
    assert worker.run_once(now=now) == 1
    (row,) = rows(db)
    assert row.state is OutboxState.SENT and row.attempts == 4 and row.last_error is None
    assert row.sent_at is not None
    assert pacs.statistics()["CountInstances"] == 1
    assert len(pacs.find_instances(study)) == 1

    # Re-enqueueing the same SOP Instance is a no-op: nothing new to send, still one instance.
    assert enqueue(db, pacs.dicom_node, path, now=now) is False
    assert worker.run_once(now=now + timedelta(days=1)) == 0
    assert len(rows(db)) == 1 and pacs.statistics()["CountInstances"] == 1


def test_restart_keeps_storage(orthanc_factory: Factory, tmp_path: Path) -> None:
    pacs = orthanc_factory()
    study = generate_uid()
    CStoreSender().send(pacs.dicom_node, secondary_capture(tmp_path, study_uid=study))
    ports = (pacs.dicom_port, pacs.http_port)
    pacs.stop()
    assert not pacs.running
    with pytest.raises(PeerUnavailableError, match="connection refused"):
        CStoreSender().send(pacs.dicom_node, secondary_capture(tmp_path, study_uid=study))
    pacs.start()
    assert (pacs.dicom_port, pacs.http_port) == ports
    assert len(pacs.find_instances(study)) == 1


def test_unknown_sop_class_is_a_permanent_failure(
    orthanc_factory: Factory, db: Database, tmp_path: Path
) -> None:
    pacs = orthanc_factory(extra_config={"UnknownSopClassAccepted": False})
    path = secondary_capture(tmp_path, study_uid=generate_uid(), sop_class="1.2.826.0.1.3680043.9.9999.1")
    with pytest.raises(NoPresentationContextError):
        CStoreSender().send(pacs.dicom_node, path)
    worker = OutboxWorker(db, {"dicom": CStoreSender()}, owner_id="w1")
    enqueue(db, pacs.dicom_node, path)
    assert worker.run_once() == 1
    (row,) = rows(db)
    assert row.state is OutboxState.FAILED and "NoPresentationContextError" in str(row.last_error)
    assert pacs.statistics()["CountInstances"] == 0


def test_compressed_object_falls_back_to_little_endian(orthanc_factory: Factory, tmp_path: Path) -> None:
    """A peer that refuses RLE gets the object decompressed to Explicit VR Little Endian."""
    pacs = orthanc_factory(extra_config={"RleTransferSyntaxAccepted": False})
    study = generate_uid()
    path = secondary_capture(tmp_path, study_uid=study)
    ds = pydicom.dcmread(path)
    ds.compress(RLELossless)
    ds.save_as(path, enforce_file_format=True)
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == RLELossless
    CStoreSender().send(pacs.dicom_node, path)
    (instance,) = pacs.find_instances(study)
    stored = pydicom.dcmread(BytesIO(pacs.download(instance)))
    assert stored.file_meta.TransferSyntaxUID in (ExplicitVRLittleEndian, "1.2.840.10008.1.2")
    assert stored.pixel_array.tolist() == np.arange(256, dtype=np.uint8).reshape(16, 16).tolist()


def test_send_files_one_association(orthanc_factory: Factory, tmp_path: Path) -> None:
    pacs = orthanc_factory()
    study = generate_uid()
    paths = [secondary_capture(tmp_path, study_uid=study) for _ in range(3)]
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")
    assert send_files(pacs.dicom_node, [*paths, junk], calling_ae="BGTEST") == [0, 0, 0, -1]
    assert len(pacs.find_instances(study)) == 3
