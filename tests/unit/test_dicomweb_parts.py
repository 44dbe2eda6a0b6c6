"""DICOMweb pieces without a server: Accept negotiation, QIDO parameters, frame layouts of native
and encapsulated Pixel Data (offset table, one fragment per frame, several without a table), and
the streaming STOW-RS reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit

from breastgate.domain.errors import InvalidInputError
from breastgate.web.api import dicomweb_files as files
from breastgate.web.api import dicomweb_multipart as mp
from breastgate.web.api import dicomweb_qido as q
from breastgate.web.api.dicomweb import _negotiate
from tests.support import dicom_factory as factory


def test_accept_entries_in_the_clients_order() -> None:
    header = (
        'multipart/related; type="application/octet-stream"; transfer-syntax=*, '
        "multipart/related; type=image/jls; q=0.5, multipart/related; type=image/jp2; q=0, */*"
    )
    assert mp.accepted(header, "application/octet-stream") == [
        mp.MediaRange("application/octet-stream", "*"),
        mp.MediaRange("image/jls", None),
        mp.MediaRange("application/octet-stream", None),
    ]
    assert mp.accepted(None, "application/dicom") == [mp.MediaRange("application/dicom", None)]
    assert mp.split_accept('a; b="x,y", c') == ['a; b="x,y"', "c"]
    # Cornerstone's dicom-image-loader (OHIF's acceptHeader) and single-part clients
    cornerstone = "multipart/related; type=application/octet-stream; transfer-syntax=*"
    assert mp.accepted(cornerstone, "x") == [mp.MediaRange("application/octet-stream", "*")]
    assert mp.accepted("application/dicom; transfer-syntax=*", "x") == [
        mp.MediaRange("application/dicom", "*", multipart=False)
    ]


def test_qido_parameters() -> None:
    query = q.parse(
        [
            ("StudyDate", "20250101-"),
            ("00100020", "P1"),
            ("ModalitiesInStudy", "MG,US"),
            ("includefield", "PatientAge,00081030"),
            ("SeriesDescription", "x"),
            ("limit", "5000"),
        ],
        {"StudyInstanceUID": "1.2.3"},
    )
    assert query.filters.study_date == ("20250101", None)
    assert query.filters.patient_id == "P1" and query.filters.study_uids == ("1.2.3",)
    assert query.filters.modalities_in_study == ("MG", "US")
    assert query.include == {"00101010", "00081030"}
    assert query.ignored == ("SeriesDescription",) and query.limit == q.MAX_LIMIT
    assert q.parse([("StudyDate", "20250101")], {}).filters.study_date == ("20250101", "20250101")
    for bad in ([("StudyDate", "2025")], [("limit", "-1")], [("offset", "x")]):
        with pytest.raises(InvalidInputError):
            q.parse(bad, {})


def test_native_frames_are_byte_ranges(tmp_path: Path) -> None:
    ds = factory.make_mg(rows=32, cols=48)
    ds.NumberOfFrames = 3
    ds.PixelData = np.arange(3 * 32 * 48, dtype=np.uint16).tobytes()
    path = str(factory.write(ds, tmp_path / "native.dcm"))
    layout = files.layout(path)
    assert layout.native and layout.frame_size == 32 * 48 * 2 and layout.number_of_frames == 3
    assert files.read_frame(path, layout, 2) == ds.PixelData[layout.frame_size : 2 * layout.frame_size]
    assert _negotiate(None, layout) == (
        f"application/octet-stream; transfer-syntax={files.EXPLICIT_LE}",
        False,
    )
    with pytest.raises(files.FrameError):
        files.read_frame(path, layout, 4)


def _jpeg(n: int) -> bytes:
    return b"\xff\xd8" + bytes([n]) * 10 + b"\xff\xd9"


@pytest.mark.parametrize("table", [True, False])
def test_encapsulated_frames_with_or_without_offset_table(tmp_path: Path, table: bool) -> None:
    ds = factory.make_mg(rows=8, cols=8)
    ds.PixelData = encapsulate(
        [_jpeg(1), _jpeg(2), _jpeg(3)], fragments_per_frame=2 if table else 1, has_bot=table
    )
    ds["PixelData"].VR = "OB"
    ds.NumberOfFrames = 3
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    path = str(factory.write(ds, tmp_path / "jpeg.dcm"))
    layout = files.layout(path)
    assert not layout.native and len(layout.fragments) == 3
    assert [files.read_frame(path, layout, n).rstrip(b"\x00") for n in (1, 2, 3)] == [
        _jpeg(1),
        _jpeg(2),
        _jpeg(3),
    ]
    star = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    assert _negotiate(star, layout) == (
        f"application/octet-stream; transfer-syntax={JPEGBaseline8Bit}",
        False,
    )
    assert _negotiate("multipart/related; type=image/jpeg", layout) == (
        f"image/jpeg; transfer-syntax={JPEGBaseline8Bit}",
        False,
    )
    assert _negotiate(None, layout)[1]  # explicit VR little endian asked: decoded


def test_several_fragments_per_frame_without_a_table_are_decoded(tmp_path: Path) -> None:
    ds = factory.make_mg(rows=8, cols=8)
    ds.PixelData = encapsulate([_jpeg(1), _jpeg(2)], fragments_per_frame=2, has_bot=False)
    ds["PixelData"].VR = "OB"
    ds.NumberOfFrames = 2
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    layout = files.layout(str(factory.write(ds, tmp_path / "split.dcm")))
    assert layout.fragments == ()
    assert _negotiate('multipart/related; type="application/octet-stream"; transfer-syntax=*', layout)[1]


def test_stow_reader_streams_parts_to_files(tmp_path: Path) -> None:
    data = factory.write(factory.make_mg(), tmp_path / "one.dcm").read_bytes()
    body = (
        b"--b\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n"
        b"--b\r\nContent-Type: application/dicom\r\n\r\n" + data[132:] + b"\r\n"  # no preamble
        b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    reader = mp.StowReader("b", tmp_path / "in")
    for start in range(0, len(body), 1000):
        reader.feed(body[start : start + 1000])
    assert [p.content_type for p in reader.parts] == ["application/dicom", "application/dicom", "text/plain"]
    assert reader.parts[0].path is not None and reader.parts[0].path.read_bytes() == data
    assert reader.parts[1].path is not None and reader.parts[1].path.read_bytes()[128:] == data[128:]
    assert reader.parts[2].path is None
    reader.discard()
    assert not list((tmp_path / "in").iterdir())
    assert mp.stow_boundary('multipart/related; type="application/dicom"; boundary="x y"') == (
        "x y",
        "application/dicom",
    )
    assert mp.stow_boundary("multipart/form-data; boundary=x") is None
