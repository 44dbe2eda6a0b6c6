"""PriorFetcher against a real Orthanc: Study Root C-FIND selects the priors, C-MOVE sends them to
our own Storage SCP (in process), and the failures map to retryable / permanent errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest

from breastgate.domain.errors import PeerUnavailableError, RejectedError
from breastgate.domain.model import DicomNode
from breastgate.ingest.scp import StorageSCP
from breastgate.ingest.service import IngestService
from breastgate.routing.priors import StudyMatch
from breastgate.routing.qr import PriorFetcher
from breastgate.store import studies
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from tests.support import orthanc as orthanc_support
from tests.support.db import upgrade
from tests.support.orthanc import OrthancServer
from tests.support.priors import prior_study, restamp, upload

pytestmark = [pytest.mark.peers]

orthanc_factory = orthanc_support.orthanc_factory

PATIENT = "PRIORPAT01"
DATES = {"2020": "20200115", "2024": "20240115", "2025": "20250115", "today": "20261129"}


@pytest.fixture(scope="module")
def phantoms() -> dict[str, list[pydicom.Dataset]]:
    """One MG study per date (the 2020 and 2024 ones are priors; the one of the order date is not):
    one phantom at 1/8 size (query and move do not care how big the pixels are), restamped per date."""
    base = prior_study(900, PATIENT, DATES["today"], shrink=8)
    return {key: restamp(base, PATIENT, day, f"PR{key}") for key, day in DATES.items()}


@pytest.fixture
def scp(tmp_path: Path) -> Iterator[tuple[StorageSCP, Database]]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    server = StorageSCP(
        IngestService(db, BlobStore(tmp_path / "store")),
        ae_title="BREASTGATE",
        host="127.0.0.1",
        port=0,
        temp_dir=tmp_path / "store" / ".incoming",
    )
    server.start()
    yield server, db
    server.stop()
    db.dispose()


def _node(pacs: OrthancServer) -> DicomNode:
    return DicomNode.parse(pacs.dicom_node)


def test_find_selects_and_move_retrieves_the_priors(
    orthanc_factory: Callable[..., OrthancServer],
    scp: tuple[StorageSCP, Database],
    phantoms: dict[str, list[pydicom.Dataset]],
) -> None:
    server, db = scp
    pacs = orthanc_factory(modalities={"BREASTGATE": ["BREASTGATE", "127.0.0.1", server.port]})
    for datasets in phantoms.values():
        upload(pacs, datasets)
    uid = {key: str(ds[0].StudyInstanceUID) for key, ds in phantoms.items()}
    fetcher = PriorFetcher("BREASTGATE", dimse_timeout=60)

    everything = fetcher.query(_node(pacs), PATIENT)
    assert {m.study_instance_uid for m in everything} == set(uid.values())
    assert all(m.modalities == ("MG",) for m in everything)
    assert fetcher.query(_node(pacs), "NOBODY") == []

    current = StudyMatch("", None, (), str(phantoms["2025"][0].AccessionNumber))  # its own exam
    priors = fetcher.find_priors(_node(pacs), PATIENT, DATES["today"], limit=2, current=current)
    assert [(p.study_instance_uid, p.study_date) for p in priors] == [
        (uid["2024"], DATES["2024"]),
        (uid["2020"], DATES["2020"]),
    ]

    assert fetcher.move(_node(pacs), uid["2024"]) == 0x0000
    with db.session() as s:
        ref = studies.get_study_ref(s, uid["2024"])
        assert ref is not None and len(ref.instances) == 4 and ref.patient_id == PATIENT
        assert studies.get_study_ref(s, uid["2020"]) is None


def test_unknown_destination_is_permanent_and_a_pacs_down_is_retryable(
    orthanc_factory: Callable[..., OrthancServer], phantoms: dict[str, list[pydicom.Dataset]]
) -> None:
    pacs = orthanc_factory()  # knows no modality: a C-MOVE to us cannot be honoured
    upload(pacs, phantoms["2020"])
    fetcher = PriorFetcher("BREASTGATE", connect_timeout=2)
    # PS3.4 says 0xA801 (move destination unknown); Orthanc 1.10 answers 0xC000: permanent either way.
    with pytest.raises(RejectedError, match=r"C-MOVE status 0x(A801|C000)"):
        fetcher.move(_node(pacs), str(phantoms["2020"][0].StudyInstanceUID))
    pacs.stop(kill=True)
    with pytest.raises(PeerUnavailableError):
        fetcher.query(_node(pacs), PATIENT)
    with pytest.raises(PeerUnavailableError):
        fetcher.move(_node(pacs), "1.2.3")
