"""IngestService.store_received: the C-STORE status for each kind of received file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from breastgate.ingest.service import CANNOT_UNDERSTAND, OUT_OF_RESOURCES, SUCCESS, IngestService
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.tables import Instance, Study
from tests.support import dicom_factory as f
from tests.support.db import upgrade


@pytest.fixture
def service(tmp_path: Path) -> Iterator[IngestService]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    yield IngestService(db, BlobStore(tmp_path / "store"))
    db.dispose()


def store(service: IngestService, path: Path, sop: str | None = None) -> int:
    return service.store_received(path, calling_ae="TESTSCU", command_sop_instance_uid=sop)


def count(service: IngestService) -> int:
    with service.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Instance)) or 0)


def test_valid_file_is_committed_and_indexed(service: IngestService, tmp_path: Path) -> None:
    ds = f.make_mg("R", "CC")
    temp = f.write(ds, tmp_path / "in" / "tmp1.dcm")
    content = temp.read_bytes()
    assert store(service, temp, ds.SOPInstanceUID) == SUCCESS
    final = service.blobs.path_for(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert final.read_bytes() == content and not temp.exists()
    with service.db.session() as s:
        row = s.get(Instance, ds.SOPInstanceUID)
        assert row is not None
        assert (row.path, row.laterality, row.view, row.calling_ae) == (str(final), "R", "CC", "TESTSCU")
        assert row.size_bytes == len(content)
        study = s.get(Study, ds.StudyInstanceUID)
        assert study is not None and study.instance_count == 1


def test_duplicate_is_success_and_changes_nothing(service: IngestService, tmp_path: Path) -> None:
    ds = f.make_mg()
    assert store(service, f.write(ds, tmp_path / "a.dcm")) == SUCCESS
    final = service.blobs.path_for(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    before = final.stat()
    ds.PatientID = "CHANGED"
    again = f.write(ds, tmp_path / "b.dcm")
    assert store(service, again) == SUCCESS
    assert final.stat().st_ino == before.st_ino and final.stat().st_mtime_ns == before.st_mtime_ns
    assert count(service) == 1
    with service.db.session() as s:
        study = s.get(Study, ds.StudyInstanceUID)
        assert study is not None and study.patient_id == "BG-TEST-1" and study.instance_count == 1


def test_truncated_file_is_c210(service: IngestService, tmp_path: Path) -> None:
    whole = f.write(f.make_mg(), tmp_path / "whole.dcm")
    assert store(service, f.truncated_copy(whole, tmp_path / "cut.dcm", 0.7)) == CANNOT_UNDERSTAND
    assert count(service) == 0
    assert not (tmp_path / "store").exists()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_garbage_is_c210(service: IngestService, tmp_path: Path) -> None:
    assert store(service, f.garbage_behind_meta(tmp_path / "g.dcm")) == CANNOT_UNDERSTAND
    assert count(service) == 0


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"])
def test_missing_uid_is_c210(service: IngestService, tmp_path: Path, keyword: str) -> None:
    path = f.write(f.without(f.make_mg(rows=32, cols=32), keyword), tmp_path / "m.dcm")
    assert store(service, path) == CANNOT_UNDERSTAND
    assert count(service) == 0


def test_io_error_is_a700(service: IngestService, tmp_path: Path) -> None:
    ds = f.make_mg()
    service.blobs.root.mkdir(parents=True)
    # A regular file where the study folder must be created: mkdir fails with ENOTDIR (even as root).
    (service.blobs.root / ds.StudyInstanceUID).write_bytes(b"in the way")
    temp = f.write(ds, tmp_path / "t.dcm")
    assert store(service, temp) == OUT_OF_RESOURCES
    assert count(service) == 0
    assert temp.exists()


def test_new_image_after_stable_reopens(service: IngestService, tmp_path: Path) -> None:
    from breastgate.store.studies import mark_stable

    first = f.make_mg("L", "CC")
    assert store(service, f.write(first, tmp_path / "1.dcm")) == SUCCESS
    with service.db.session() as s:
        mark_stable(s, first.StudyInstanceUID)
    second = f.make_mg("L", "MLO", study_uid=first.StudyInstanceUID, series_uid=first.SeriesInstanceUID)
    assert store(service, f.write(second, tmp_path / "2.dcm")) == SUCCESS
    with service.db.session() as s:
        study = s.get(Study, first.StudyInstanceUID)
        assert study is not None and (study.state, study.generation) == ("receiving", 2)


def test_device_and_age_are_indexed(service: IngestService, tmp_path: Path) -> None:
    ds = f.make_mg("R", "MLO")
    ds.Manufacturer = "GE MEDICAL SYSTEMS"
    ds.ManufacturerModelName = "Senographe Pristina"
    ds.PatientAge = "063Y"
    assert store(service, f.write(ds, tmp_path / "in" / "a.dcm")) == SUCCESS
    with service.db.session() as s:
        row = s.get(Instance, ds.SOPInstanceUID)
        study = s.get(Study, ds.StudyInstanceUID)
        assert row is not None and study is not None
        assert (row.manufacturer, row.model) == ("GE MEDICAL SYSTEMS", "Senographe Pristina")
        assert study.patient_age == 63
