"""Reading stored Part 10 files for DICOMweb: frame positions, DICOM JSON headers, result objects.

A frame is served from its byte range in the stored file (``os.pread``), located once per file
from the header (read with ``stop_before_pixels``) and the item tags of encapsulated Pixel Data
(PS3.5 §A.4); nothing is decoded when the stored syntax is the one asked for. Layouts and
headers are cached per (path, modification time, size): a viewer scrolling a tomosynthesis stack
pays the header once.
"""

from __future__ import annotations

import functools
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.uid import UID

from breastgate.store.headers import HeaderInfo, read_header

LOGGER = logging.getLogger(__name__)

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
#: Syntaxes whose native Pixel Data bytes are the explicit VR little endian raw frame as they are.
NATIVE_LE = frozenset({IMPLICIT_LE, EXPLICIT_LE})
_PIXEL_DATA = 0x7FE00010
_ITEM, _SEQ_DELIMITER = 0xFFFEE000, 0xFFFEE0DD
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"SQ", b"UT", b"UC", b"UR"}
#: Values longer than this are left out of metadata as BulkDataURI (PS3.18 §8.3.5.1).
BULK_THRESHOLD = 64 * 1024


class FrameError(Exception):
    """The file's frames cannot be located (no pixel data, a frame number out of range)."""


@dataclass(frozen=True)
class FrameLayout:
    """Where each frame's bytes are in one stored file.

    ``native``: frame ``n`` (1-based) is ``frame_size`` bytes at ``offset + (n - 1) * frame_size``;
    otherwise ``fragments[n - 1]`` lists its (offset, length) pieces of encapsulated Pixel Data.
    ``fragments`` is empty when the frames of an encapsulated object could not be told apart
    without decoding (the caller then falls back to pydicom).
    """

    transfer_syntax_uid: str
    number_of_frames: int
    native: bool
    offset: int = 0
    frame_size: int = 0
    fragments: tuple[tuple[tuple[int, int], ...], ...] = ()
    vr: str = "OW"


def _stat_key(path: str) -> tuple[str, int, int]:
    stat = os.stat(path)
    return path, stat.st_mtime_ns, stat.st_size


def layout(path: str) -> FrameLayout:
    """The frame layout of the file at ``path`` (cached while the file is unchanged)."""
    return _layout(*_stat_key(path))


@functools.lru_cache(maxsize=512)
def _layout(path: str, mtime_ns: int, size: int) -> FrameLayout:
    with open(path, "rb") as fp:
        ds = dcmread(fp, stop_before_pixels=True)
        ts = str(ds.file_meta.get("TransferSyntaxUID", EXPLICIT_LE))
        frames = max(1, int(ds.get("NumberOfFrames") or 1))
        if "Rows" not in ds:
            raise FrameError("the object has no pixel data")
        start = fp.tell()
        head = fp.read(8)
        if len(head) < 8:
            raise FrameError("the object has no pixel data")
        group, element = struct.unpack("<HH", head[:4])
        if (group << 16) | element != _PIXEL_DATA:
            raise FrameError("the object has no pixel data")
        if UID(ts).is_implicit_VR:
            (length,) = struct.unpack("<L", head[4:8])
            vr = "OW"
        elif head[4:6] in _LONG_VRS:
            vr = head[4:6].decode()
            (length,) = struct.unpack("<L", fp.read(4))
        else:
            vr = head[4:6].decode()
            (length,) = struct.unpack("<H", head[6:8])
        if length != 0xFFFFFFFF:
            if ts not in NATIVE_LE:
                return FrameLayout(ts, frames, native=False, vr=vr)  # deflated or big endian: decode
            bits = int(ds.BitsAllocated)
            frame_size = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel") or 1) * bits // 8
            if bits % 8 or frame_size * frames > length:
                return FrameLayout(ts, frames, native=False, vr=vr)
            return FrameLayout(ts, frames, native=True, offset=fp.tell(), frame_size=frame_size, vr=vr)
        LOGGER.debug("encapsulated pixel data at %d", start)
        return FrameLayout(ts, frames, native=False, fragments=_frame_fragments(fp, frames), vr="OB")


def _items(fp: BinaryIO) -> Iterator[tuple[int, int]]:
    while True:
        head = fp.read(8)
        if len(head) < 8:
            raise FrameError("encapsulated Pixel Data ends early")
        group, element, length = struct.unpack("<HHL", head)
        if (group << 16) | element == _SEQ_DELIMITER:
            return
        yield fp.tell(), length
        fp.seek(length, 1)


def _frame_fragments(fp: BinaryIO, frames: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    items = list(_items(fp))
    if not items:
        raise FrameError("encapsulated Pixel Data has no Basic Offset Table")
    (bot_at, bot_length), fragments = items[0], items[1:]
    if frames == 1:
        return (tuple(fragments),)
    if bot_length >= 4 * frames:
        fp.seek(bot_at)
        offsets = list(struct.unpack(f"<{frames}L", fp.read(4 * frames)))
        first = fragments[0][0] - 8 if fragments else 0
        starts = [first + o for o in offsets] + [1 << 62]
        return tuple(
            tuple((at, n) for at, n in fragments if starts[i] <= at - 8 < starts[i + 1])
            for i in range(frames)
        )
    if len(fragments) == frames:
        return tuple((f,) for f in fragments)
    return ()  # several fragments per frame and no offset table: only decoding tells them apart


def read_frame(path: str, frame: FrameLayout, number: int) -> bytes:
    """The stored bytes of frame ``number`` (1-based), as stored (raw or one compressed frame)."""
    if not 1 <= number <= frame.number_of_frames:
        raise FrameError(f"frame {number} is out of range 1-{frame.number_of_frames}")
    fd = os.open(path, os.O_RDONLY)
    try:
        if frame.native:
            return os.pread(fd, frame.frame_size, frame.offset + (number - 1) * frame.frame_size)
        return b"".join(os.pread(fd, n, at) for at, n in frame.fragments[number - 1])
    finally:
        os.close(fd)


def decoded_frame(path: str, number: int) -> bytes:
    """Frame ``number`` decoded to native little endian bytes (pydicom's decoders)."""
    from pydicom.pixels.utils import pixel_array

    array = pixel_array(path, index=number - 1, raw=False)
    return bytes(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())


def header(path: str) -> HeaderInfo:
    """Index fields of a stored file (result objects are not in the index)."""
    return _header(*_stat_key(path))


@functools.lru_cache(maxsize=2048)
def _header(path: str, mtime_ns: int, size: int) -> HeaderInfo:
    return read_header(Path(path))


def _bulk_placeholder(element: DataElement) -> str:
    return f"bulk:{element.tag:08X}"


def metadata(path: str) -> dict[str, Any]:
    """The DICOM JSON of the file's data set without Pixel Data or other bulk data (cached; do
    not modify the answer: copy it)."""
    return _metadata(*_stat_key(path))


@functools.lru_cache(maxsize=256)
def _metadata(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    ds = dcmread(path, stop_before_pixels=True)
    body: dict[str, Any] = ds.to_json_dict(BULK_THRESHOLD, _bulk_placeholder)
    ts = ds.file_meta.get("TransferSyntaxUID")
    if ts:
        body["00083002"] = {"vr": "UI", "Value": [str(ts)]}  # Available Transfer Syntax UID
    return body


def result_files(results_path: Path | None, study_uid: str) -> list[str]:
    """The DICOM result objects written for a study (``results_path/<study>/*.dcm``)."""
    if results_path is None:
        return []
    folder = Path(results_path) / study_uid
    if not folder.is_dir() or folder.parent != Path(results_path):
        return []
    return sorted(str(p) for p in folder.glob("*.dcm") if not p.name.startswith("."))


def bulk_value(path: str, tag: int) -> bytes:
    """The value of a (non Pixel Data) element left out of metadata as bulk data."""
    ds = dcmread(path, stop_before_pixels=True)
    value = ds[tag].value
    return bytes(value) if isinstance(value, bytes | bytearray) else str(value).encode()
