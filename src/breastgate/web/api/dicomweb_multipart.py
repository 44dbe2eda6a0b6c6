"""multipart/related for DICOMweb (PS3.18 §8.6.1.2, RFC 2387): answers written part by part from
disk, STOW-RS bodies parsed as they arrive into temp files, and Accept negotiation (§8.7.3)."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from python_multipart.multipart import MultipartParser

LOGGER = logging.getLogger(__name__)

CHUNK = 1 << 20
_PREFIX_END = 132  # preamble (128 bytes) + "DICM"

#: Media types of compressed frames by transfer syntax (PS3.18 Table 8.7.3-5).
FRAME_MEDIA_TYPES: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}


@dataclass(frozen=True)
class MediaRange:
    """One entry of an Accept header: the (part) media type and its transfer syntax (None: default)."""

    media_type: str
    transfer_syntax: str | None
    multipart: bool = True


def _params(text: str) -> tuple[str, dict[str, str]]:
    pieces = [p.strip() for p in text.split(";")]
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        key, _, value = piece.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return pieces[0].lower(), params


def split_accept(header: str | None) -> list[str]:
    """Entries of an Accept header; commas inside quoted strings do not split."""
    entries: list[str] = []
    current: list[str] = []
    quoted = False
    for char in header or "":
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            entries.append("".join(current))
            current = []
        else:
            current.append(char)
    entries.append("".join(current))
    return [e.strip() for e in entries if e.strip()]


def accepted(header: str | None, default_type: str) -> list[MediaRange]:
    """The part media types and transfer syntaxes a client accepts, in its order (``*/*`` and an
    absent header accept ``default_type`` with its default syntax)."""
    found: list[MediaRange] = []
    for entry in split_accept(header) or ["*/*"]:
        media, params = _params(entry)
        if params.get("q") == "0":
            continue
        if media == "multipart/related":
            found.append(MediaRange(params.get("type", default_type).lower(), params.get("transfer-syntax")))
        elif media in ("*/*", "multipart/*"):
            found.append(MediaRange(default_type, params.get("transfer-syntax")))
        else:
            found.append(MediaRange(media, params.get("transfer-syntax"), multipart=False))
    return found


def new_boundary() -> str:
    return f"bg-{secrets.token_hex(12)}"


def content_type(boundary: str, part_type: str) -> str:
    return f'multipart/related; type="{part_type}"; boundary={boundary}'


def part_head(boundary: str, part_type: str, location: str | None = None) -> bytes:
    lines = [f"--{boundary}", f"Content-Type: {part_type}"]
    if location:
        lines.append(f"Content-Location: {location}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def file_parts(boundary: str, part_type: str, paths: Iterable[str]) -> Iterator[bytes]:
    """The files as parts, read from disk in 1 MiB chunks (a DBT object is never held whole)."""
    for path in paths:
        yield part_head(boundary, part_type)
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def byte_parts(boundary: str, parts: Iterable[tuple[str, bytes, str | None]]) -> Iterator[bytes]:
    """(content type, bytes, Content-Location) parts."""
    for part_type, data, location in parts:
        yield part_head(boundary, part_type, location) + data + b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def stow_boundary(content_type_header: str | None) -> tuple[str, str] | None:
    """(boundary, part type) of a STOW-RS request, or None when it is not multipart/related with
    application/dicom parts (PS3.18 §10.5.1.2: 415)."""
    media, params = _params(content_type_header or "")
    boundary = params.get("boundary")
    part_type = params.get("type", "application/dicom").lower()
    if media != "multipart/related" or not boundary or part_type != "application/dicom":
        return None
    return boundary, part_type


@dataclass
class ReceivedPart:
    """One part of a STOW-RS body, written to ``path`` (None when it was not application/dicom)."""

    content_type: str
    path: Path | None
    size: int = 0


@dataclass
class StowReader:
    """Feed the request body chunk by chunk; each application/dicom part goes to its own temp file
    in ``folder`` (the same filesystem as the store, so committing it is a rename)."""

    boundary: str
    folder: Path
    parts: list[ReceivedPart] = field(default_factory=list)
    _handle: Any = None
    _field: bytearray = field(default_factory=bytearray)
    _value: bytearray = field(default_factory=bytearray)
    _headers: dict[str, str] = field(default_factory=dict)
    _parser: MultipartParser | None = None
    _head: bytearray | None = None

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        callbacks: dict[str, Any] = {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }
        self._parser = MultipartParser(self.boundary, cast(Any, callbacks))

    def feed(self, chunk: bytes) -> None:
        assert self._parser is not None
        self._parser.write(chunk)

    def _begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").strip().lower()] = self._value.decode("latin-1").strip()
        self._field.clear()
        self._value.clear()

    def _headers_done(self) -> None:
        media, _ = _params(self._headers.get("content-type", "application/dicom"))
        path: Path | None = None
        if media == "application/dicom":
            fd, name = tempfile.mkstemp(dir=self.folder, prefix=".stow-", suffix=".dcm")
            self._handle = os.fdopen(fd, "wb")
            self._head = bytearray()
            path = Path(name)
        self.parts.append(ReceivedPart(media, path))

    def _data(self, data: bytes, start: int, end: int) -> None:
        self.parts[-1].size += end - start
        if self._handle is None:
            return
        if self._head is not None:
            self._head.extend(data[start:end])
            if len(self._head) >= _PREFIX_END:
                self._flush_head()
            return
        self._handle.write(data[start:end])

    def _flush_head(self) -> None:
        # Read tolerantly: some clients (pydicom's dcmwrite without enforce_file_format, as
        # dicomweb-client sends) leave out the 128-byte preamble and "DICM" before the File Meta
        # Information; the stored file gets them, as a Part 10 file must have (PS3.10 §7.1).
        head, self._head = bytes(self._head or b""), None
        if head[128:_PREFIX_END] != b"DICM" and head[:2] == b"\x02\x00":
            head = b"\x00" * 128 + b"DICM" + head
        self._handle.write(head)

    def _end(self) -> None:
        if self._handle is not None:
            if self._head is not None:
                self._flush_head()
            self._handle.close()
            self._handle = None

    def discard(self) -> None:
        """Remove every temp file left (the committed ones were moved into the store)."""
        self._end()
        for part in self.parts:
            if part.path is not None:
                part.path.unlink(missing_ok=True)
