"""The Storage SCP against real senders: dcmtk storescu and a pynetdicom SCU sending raw files."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000, JPEG2000Lossless
from pynetdicom import AE, _config
from sqlalchemy import func, select

from breastgate.ingest.scp import StorageSCP
from breastgate.ingest.service import IngestService
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.studies import get_study_ref
from breastgate.store.tables import Instance
from tests.support import dicom_factory as f
from tests.support.db import upgrade

pytestmark = [
    pytest.mark.peers,
    # Random bytes parsed as a dataset make pydicom warn about invalid values; that is the point.
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

MG = f.MG_FOR_PRESENTATION
EXPLICIT = "1.2.840.10008.1.2.1"
VERIFICATION = "1.2.840.10008.1.1"


class RecordingService(IngestService):
    """The real service, remembering where each received temp file was."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        super().__init__(db, blobs)
        self.temp_folders: list[Path] = []

    def store_received(
        self, temp_path: Path, *, calling_ae: str, command_sop_instance_uid: str | None
    ) -> int:
        self.temp_folders.append(temp_path.parent)
        return super().store_received(
            temp_path, calling_ae=calling_ae, command_sop_instance_uid=command_sop_instance_uid
        )


@dataclass
class Gateway:
    scp: StorageSCP
    service: RecordingService
    home: Path

    def instance_count(self) -> int:
        with self.service.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(Instance)) or 0)

    def files(self) -> list[Path]:
        return sorted(self.service.blobs.root.rglob("*.dcm"))


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    started: list[tuple[StorageSCP, Database]] = []

    def make(allowed: frozenset[str] = frozenset(), name: str = "home") -> Gateway:
        home = tmp_path / name
        home.mkdir()
        url = f"sqlite:///{home / 'breastgate.db'}"
        upgrade(url)
        db = Database(url)
        service = RecordingService(db, BlobStore(home / "store"))
        scp = StorageSCP(
            service,
            ae_title="BREASTGATE",
            host="127.0.0.1",
            port=0,
            allowed_calling_aes=allowed,
            max_pdu=0,
            temp_dir=home / "store" / ".incoming",
        )
        scp.start()
        started.append((scp, db))
        return Gateway(scp, service, home)

    yield make
    for scp, db in started:
        scp.stop()
        db.dispose()


@pytest.fixture
def gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    return gateway_factory()


def storescu(
    port: int, *files: Path, aet: str = "STORESCU", options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "storescu",
            "-R",
            *options,
            "-aet",
            aet,
            "-aec",
            "BREASTGATE",
            "127.0.0.1",
            str(port),
            *map(str, files),
        ],
        env={**os.environ, "TCP_NODELAY": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def scu(ae_title: str = "TESTSCU", *contexts: str) -> AE:
    ae = AE(ae_title=ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    for uid in contexts or (MG, VERIFICATION):
        ae.add_requested_context(uid, EXPLICIT)
    return ae


def test_storescu_screening_study_is_stored_and_indexed(gateway: Gateway, tmp_path: Path) -> None:
    datasets = f.make_screening_study()
    paths = [f.write(ds, tmp_path / "send" / f"{i}.dcm") for i, ds in enumerate(datasets)]
    result = storescu(gateway.scp.port, *paths)
    assert result.returncode == 0, result.stderr
    assert gateway.instance_count() == 4
    stored = gateway.files()
    assert len(stored) == 4
    assert sorted(p.read_bytes()[132:] for p in stored) != []  # files are Part 10 with preamble
    assert all(p.read_bytes()[128:132] == b"DICM" for p in stored)
    with gateway.service.db.session() as s:
        ref = get_study_ref(s, datasets[0].StudyInstanceUID)
    assert ref is not None
    assert ref.views_present() == {("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")}
    # Chunked receive landed in the SCP's own temp folder (same filesystem: commit is a rename) ...
    assert set(gateway.service.temp_folders) == {gateway.home / "store" / ".incoming"}
    # ... and nothing was left behind there.
    assert list((gateway.home / "store" / ".incoming").iterdir()) == []


def test_one_association_with_good_and_bad_objects(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Send each file's bytes as they are (no decode/re-encode by the SCU).
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    study = f.new_uid()
    good1 = f.write(f.make_mg("R", "CC", study_uid=study), tmp_path / "good1.dcm")
    truncated = f.truncated_copy(
        f.write(f.make_mg("L", "CC", study_uid=study), tmp_path / "whole.dcm"), tmp_path / "cut.dcm", 0.6
    )
    garbage = f.garbage_behind_meta(tmp_path / "garbage.dcm")
    no_study = f.write(f.without(f.make_mg("R", "MLO"), "StudyInstanceUID"), tmp_path / "nostudy.dcm")
    good2 = f.write(f.make_mg("L", "MLO", study_uid=study), tmp_path / "good2.dcm")

    assoc = scu().associate("127.0.0.1", gateway.scp.port, ae_title="BREASTGATE")
    assert assoc.is_established
    try:
        statuses = [assoc.send_c_store(p).Status for p in (good1, truncated, garbage, no_study, good2)]
        echo = assoc.send_c_echo()
    finally:
        assoc.release()
    assert statuses == [0x0000, 0xC210, 0xC210, 0xC210, 0x0000]
    assert echo.Status == 0x0000
    assert gateway.instance_count() == 2 and len(gateway.files()) == 2
    with gateway.service.db.session() as s:
        ref = get_study_ref(s, study)
    assert ref is not None and {(i.laterality, i.view) for i in ref.instances} == {("R", "CC"), ("L", "MLO")}
    # The server still answers on a new association.
    again = scu().associate("127.0.0.1", gateway.scp.port, ae_title="BREASTGATE")
    assert again.is_established and again.send_c_echo().Status == 0x0000
    again.release()


def test_ct_is_refused_in_negotiation(gateway: Gateway, tmp_path: Path) -> None:
    ct = f.write(f.make_ct(), tmp_path / "ct.dcm")
    result = storescu(gateway.scp.port, ct)
    assert result.returncode != 0
    assert "presentation context" in (result.stdout + result.stderr).lower()
    ae = scu("TESTSCU", f.CT_IMAGE, VERIFICATION)
    assoc = ae.associate("127.0.0.1", gateway.scp.port, ae_title="BREASTGATE")
    assert assoc.is_established
    try:
        rejected = {cx.abstract_syntax for cx in assoc.rejected_contexts}
        accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
    finally:
        assoc.release()
    assert f.CT_IMAGE in rejected and f.CT_IMAGE not in accepted and VERIFICATION in accepted
    assert gateway.instance_count() == 0


def test_same_instance_twice_is_idempotent(gateway: Gateway, tmp_path: Path) -> None:
    path = f.write(f.make_mg(), tmp_path / "mg.dcm")
    for _ in range(2):
        result = storescu(gateway.scp.port, path)
        assert result.returncode == 0, result.stderr
    assert gateway.instance_count() == 1 and len(gateway.files()) == 1


def test_calling_ae_allow_list(gateway_factory: Callable[..., Gateway], tmp_path: Path) -> None:
    gw = gateway_factory(frozenset({"GOODSCU"}), name="closed")
    bad = scu("BADSCU").associate("127.0.0.1", gw.scp.port, ae_title="BREASTGATE")
    assert bad.is_rejected and not bad.is_established
    good = scu("GOODSCU").associate("127.0.0.1", gw.scp.port, ae_title="BREASTGATE")
    assert good.is_established
    try:
        assert good.send_c_store(f.write(f.make_mg(), tmp_path / "mg.dcm")).Status == 0x0000
    finally:
        good.release()
    assert storescu(gw.scp.port, tmp_path / "mg.dcm", aet="OTHER").returncode != 0
    assert gw.instance_count() == 1


# Compressed transfer syntaxes over the wire: a real encoder writes each file (dcmtk's dcmcjpeg,
# dcmcjpls, dcmcrle, dcmconv; OpenJPEG through pydicom for JPEG 2000, which dcmtk 3.6.7 cannot
# write), storescu proposes the file's own syntax, and the SCP must store it as sent (no
# transcoding) and decode it to the original pixels when the syntax is lossless.


def _dcmtk(tool: str, *options: str) -> Callable[[Path, Path], None]:
    def encode(source: Path, target: Path) -> None:
        subprocess.run(
            [tool, *options, str(source), str(target)], check=True, capture_output=True, timeout=60
        )

    return encode


def _openjpeg(uid: str) -> Callable[[Path, Path], None]:
    def encode(source: Path, target: Path) -> None:
        ds = pydicom.dcmread(source)
        if uid == JPEG2000:
            ds.compress(uid, j2k_cr=[20], use_mct=False)
        else:
            ds.compress(uid)
        ds.save_as(target, enforce_file_format=True)

    return encode


#: name: (transfer syntax UID, encoder, bits stored of the source, lossless, storescu option that
#: proposes the syntax). storescu proposes uncompressed syntaxes unless told otherwise, and has no
#: option for JPEG lossless process 14 (4.57): that one is sent by a pynetdicom SCU instead.
CASES = {
    "deflate": ("1.2.840.10008.1.2.1.99", _dcmtk("dcmconv", "+td"), 12, True, "-xd"),
    "jpeg-baseline": ("1.2.840.10008.1.2.4.50", _dcmtk("dcmcjpeg", "+eb"), 8, False, "-xy"),
    "jpeg-extended": ("1.2.840.10008.1.2.4.51", _dcmtk("dcmcjpeg", "+ee"), 12, False, "-xx"),
    "jpeg-lossless-p14": ("1.2.840.10008.1.2.4.57", _dcmtk("dcmcjpeg", "+el"), 12, True, ""),
    "jpeg-lossless-sv1": ("1.2.840.10008.1.2.4.70", _dcmtk("dcmcjpeg", "+e1"), 12, True, "-xs"),
    "jpeg-ls-lossless": ("1.2.840.10008.1.2.4.80", _dcmtk("dcmcjpls", "+el"), 12, True, "-xt"),
    "jpeg-ls-near": ("1.2.840.10008.1.2.4.81", _dcmtk("dcmcjpls", "+en"), 12, False, "-xu"),
    "jpeg2000-lossless": (JPEG2000Lossless, _openjpeg(JPEG2000Lossless), 12, True, "-xv"),
    "jpeg2000": (JPEG2000, _openjpeg(JPEG2000), 12, False, "-xw"),
    "rle": ("1.2.840.10008.1.2.5", _dcmtk("dcmcrle"), 12, True, "-xr"),
}


def _source(tmp_path: Path, bits: int) -> Path:
    ds = f.make_mg(rows=128, cols=96, seed=7)
    if bits == 8:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = (ds.pixel_array >> 4).astype(np.uint8).tobytes()
    return f.write(ds, tmp_path / "source.dcm")


@pytest.mark.parametrize("case", sorted(CASES))
def test_compressed_instance_is_stored_in_its_own_transfer_syntax(
    gateway: Gateway,
    tmp_path: Path,
    case: str,
) -> None:
    uid, encode, bits, lossless, option = CASES[case]
    source = _source(tmp_path, bits)
    encoded = tmp_path / f"{case}.dcm"
    encode(source, encoded)
    assert pydicom.dcmread(encoded, stop_before_pixels=True).file_meta.TransferSyntaxUID == uid

    if option:
        sent = storescu(gateway.scp.port, encoded, options=(option,))
        assert sent.returncode == 0, sent.stderr
        assert "Converting transfer syntax" not in sent.stdout + sent.stderr
    else:
        ae = scu("TESTSCU", VERIFICATION)
        ae.add_requested_context(MG, uid)
        assoc = ae.associate("127.0.0.1", gateway.scp.port, ae_title="BREASTGATE")
        assert assoc.is_established
        status = assoc.send_c_store(pydicom.dcmread(encoded))
        assoc.release()
        assert status.Status == 0x0000
    assert gateway.instance_count() == 1
    (stored,) = gateway.files()

    received = pydicom.dcmread(stored)
    assert received.file_meta.TransferSyntaxUID == uid
    original = pydicom.dcmread(encoded)
    assert received.PixelData == original.PixelData  # stored as sent, not transcoded
    pixels = received.pixel_array
    assert pixels.shape == (128, 96)
    if lossless:
        assert np.array_equal(pixels, pydicom.dcmread(source).pixel_array)
