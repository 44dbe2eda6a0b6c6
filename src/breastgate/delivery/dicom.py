"""C-STORE SCU sender (PS3.4 Annex B Storage Service Class; PS3.7 §9.1.1 C-STORE; PS3.8 ACSE).

One association per object: propose the object's SOP class with its own transfer syntax, plus
Explicit/Implicit VR Little Endian as a fallback (decompressing if the peer accepts only those),
send, release. Failures map once, here, to :mod:`breastgate.delivery.errors`.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt

from breastgate.delivery.errors import (
    DeliveryError,
    InvalidDestinationError,
    NoPresentationContextError,
    PeerBusyError,
    PeerUnavailableError,
    RejectedError,
    UnreadableObjectError,
)
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import DicomNode

LOGGER = logging.getLogger(__name__)

UNCOMPRESSED_LE = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
#: C-STORE warning statuses (PS3.4 B.2.3, PS3.7 C.4): the object was stored.
WARNING_STATUSES = frozenset({0x0001, 0x0107, 0x0116})
#: Failure statuses that may pass: 0xA7xx out of resources (PS3.4 B.2.3), 0x0213 resource limitation.
TRANSIENT_STATUSES = frozenset({0x0213})


def parse_node(text: str) -> DicomNode:
    """Parse ``AE@HOST:PORT``; raise :class:`InvalidDestinationError` when malformed."""
    try:
        return DicomNode.parse(text)
    except InvalidInputError as exc:
        raise InvalidDestinationError(str(exc)) from None


def check_store_status(status: int, what: str) -> None:
    """Map a C-STORE response status to an outcome: return if stored, raise otherwise.

    Success 0x0000 and warnings (0xBxxx, 0x0001, 0x0107, 0x0116) mean stored; 0xA7xx and 0x0213
    are retryable; everything else (0xA9xx data set does not match SOP class, 0xCxxx cannot
    understand, 0x0122 SOP class not supported, ...) is permanent.
    """
    if status == 0x0000:
        return
    if 0xB000 <= status <= 0xBFFF or status in WARNING_STATUSES:
        LOGGER.warning("C-STORE of %s stored with warning status 0x%04X", what, status)
        return
    if 0xA700 <= status <= 0xA7FF or status in TRANSIENT_STATUSES:
        raise PeerBusyError(f"C-STORE status 0x{status:04X} (out of resources) for {what}", status)
    if 0xA900 <= status <= 0xA9FF:
        reason = "data set does not match SOP class"
    elif 0xC000 <= status <= 0xCFFF:
        reason = "cannot understand"
    elif status == 0x0122:
        reason = "SOP class not supported"
    elif status == 0x0124:
        reason = "not authorized"
    else:
        reason = "refused"
    raise RejectedError(f"C-STORE status 0x{status:04X} ({reason}) for {what}", status)


def _set_nodelay(event: Any) -> None:
    """EVT_CONN_OPEN: disable Nagle; otherwise each small PDU waits for a delayed ACK."""
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - e.g. a non-TCP socket
            LOGGER.debug("could not set TCP_NODELAY", exc_info=True)


def _read(path: Path) -> Dataset:
    try:
        ds = dcmread(path)
    except FileNotFoundError:
        raise UnreadableObjectError(f"file not found: {path}") from None
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise UnreadableObjectError(f"not a readable DICOM file: {path} ({exc})") from None
    meta = getattr(ds, "file_meta", None)
    if (
        "SOPClassUID" not in ds
        or "SOPInstanceUID" not in ds
        or meta is None
        or "TransferSyntaxUID" not in meta
    ):
        raise UnreadableObjectError(f"missing SOP Class/Instance UID or Transfer Syntax UID: {path}")
    return ds


class _SocketClosingAE(AE):  # type: ignore[misc]
    """An AE that closes its raw sockets when asked.

    pynetdicom 3.0.4 leaks the socket when ``connect()`` fails (``AssociationSocket`` calls
    ``shutdown()`` on the unconnected socket, which raises before ``close()``), so every attempt
    against a PACS that is down would leave an unclosed socket behind (ResourceWarning).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw_sockets: list[socket.socket] = []

    def _create_socket(self, *args: Any, **kwargs: Any) -> Any:
        assoc_socket = super()._create_socket(*args, **kwargs)
        raw = getattr(assoc_socket, "socket", None)
        if isinstance(raw, socket.socket):
            self.raw_sockets.append(raw)
        return assoc_socket

    def close_sockets(self) -> None:
        for raw in self.raw_sockets:
            raw.close()  # no-op when pynetdicom closed it already
        self.raw_sockets.clear()


class CStoreSender:
    """Send DICOM Part 10 files to a peer with C-STORE.

    Parameters
    ----------
    calling_ae
        Calling AE title.
    max_pdu
        Maximum PDU size we accept (0 = unlimited).
    connect_timeout, acse_timeout, dimse_timeout, network_timeout
        Seconds; a timeout is a retryable failure.
    """

    kind = "dicom"

    def __init__(
        self,
        calling_ae: str = "BREASTGATE",
        *,
        max_pdu: int = 0,
        connect_timeout: float = 10.0,
        acse_timeout: float = 30.0,
        dimse_timeout: float = 120.0,
        network_timeout: float = 60.0,
    ) -> None:
        if not calling_ae or len(calling_ae) > 16:
            raise ValueError("AE title must be 1-16 characters")
        self.calling_ae = calling_ae
        self.max_pdu = max_pdu
        self.connect_timeout = connect_timeout
        self.acse_timeout = acse_timeout
        self.dimse_timeout = dimse_timeout
        self.network_timeout = network_timeout

    def send(self, destination: str | DicomNode, path: Path | str) -> None:
        """Store the object at ``path`` on ``destination`` (``AE@HOST:PORT``) or raise a DeliveryError."""
        node = destination if isinstance(destination, DicomNode) else parse_node(destination)
        ds = _read(Path(path))
        sop_class = UID(ds.SOPClassUID)
        syntax = UID(ds.file_meta.TransferSyntaxUID)
        what = f"{ds.SOPInstanceUID} to {node}"
        assoc = self._associate(node, [(sop_class, syntax)], what)
        try:
            check_store_status(self._store(assoc, ds, node, what), what)
        finally:
            if assoc.is_established:
                assoc.release()
        LOGGER.info("C-STORE delivered %s", what)

    def send_many(self, destination: str | DicomNode, paths: Sequence[Path | str]) -> list[int]:
        """Store several files over one association; return each file's C-STORE status.

        Status ``-1`` means no status (unreadable file, no accepted context, no response). An
        association that cannot be set up raises, as in :meth:`send`.
        """
        node = destination if isinstance(destination, DicomNode) else parse_node(destination)
        metas: list[tuple[UID, UID] | None] = []
        for path in paths:
            try:
                info = read_file_meta_info(path)
                metas.append((UID(info.MediaStorageSOPClassUID), UID(info.TransferSyntaxUID)))
            except (OSError, InvalidDicomError, AttributeError, ValueError):
                metas.append(None)
        pairs = list(dict.fromkeys(m for m in metas if m is not None))
        if not pairs:
            return [-1] * len(metas)
        assoc = self._associate(node, pairs, f"{len(pairs)} object(s) to {node}")
        statuses: list[int] = []
        try:
            for path, meta in zip(paths, metas, strict=True):
                if meta is None or not assoc.is_established:
                    statuses.append(-1)
                    continue
                what = f"{Path(path).name} to {node}"
                try:
                    statuses.append(self._store(assoc, _read(Path(path)), node, what))
                except DeliveryError as exc:
                    LOGGER.warning("C-STORE of %s: %s", what, exc)
                    statuses.append(-1)
        finally:
            if assoc.is_established:
                assoc.release()
        return statuses

    def _associate(self, node: DicomNode, pairs: Sequence[tuple[UID, UID]], what: str) -> Any:
        """Open an association proposing each (SOP class, transfer syntax) with an LE fallback."""
        ae = self._make_ae(pairs)
        accepted: list[bool] = []
        handlers: list[Any] = [
            (evt.EVT_CONN_OPEN, _set_nodelay),
            (evt.EVT_ACCEPTED, lambda _event: accepted.append(True)),
        ]
        assoc = ae.associate(
            node.host, node.port, ae_title=node.ae_title, max_pdu=self.max_pdu, evt_handlers=handlers
        )
        if assoc.is_established:
            return assoc
        ae.close_sockets()
        if accepted:  # pynetdicom aborts an association with no accepted context
            names = ", ".join(sorted({sop.name for sop, _ in pairs}))
            raise NoPresentationContextError(f"{node} accepted no presentation context for {names} ({what})")
        if assoc.is_rejected:
            raise PeerUnavailableError(f"association rejected by {node}")
        raise PeerUnavailableError(f"cannot associate with {node}: {self._why_unreachable(node)}")

    def _store(self, assoc: Any, ds: Dataset, node: DicomNode, what: str) -> int:
        sop_class, syntax = UID(ds.SOPClassUID), UID(ds.file_meta.TransferSyntaxUID)
        ds = self._fit_to_contexts(assoc, ds, sop_class, syntax, what)
        try:
            status = assoc.send_c_store(ds)
        except ValueError as exc:
            raise RejectedError(f"cannot encode {what}: {exc}") from None
        if "Status" not in status:
            raise PeerUnavailableError(
                f"no C-STORE response from {node} (association aborted or DIMSE timeout)"
            )
        return int(status.Status)

    def _make_ae(self, pairs: Sequence[tuple[UID, UID]]) -> _SocketClosingAE:
        ae = _SocketClosingAE(ae_title=self.calling_ae)
        ae.connection_timeout = self.connect_timeout
        ae.acse_timeout = self.acse_timeout
        ae.dimse_timeout = self.dimse_timeout
        ae.network_timeout = self.network_timeout
        fallback: set[UID] = set()
        for sop_class, syntax in pairs:
            if syntax in UNCOMPRESSED_LE:
                ae.add_requested_context(sop_class, [syntax, *(ts for ts in UNCOMPRESSED_LE if ts != syntax)])
                fallback.add(sop_class)
            else:
                ae.add_requested_context(sop_class, [syntax])
        for sop_class in dict.fromkeys(sop for sop, _ in pairs):
            if sop_class not in fallback:
                ae.add_requested_context(sop_class, list(UNCOMPRESSED_LE))
        return ae

    @staticmethod
    def _fit_to_contexts(assoc: Any, ds: Dataset, sop_class: UID, syntax: UID, what: str) -> Dataset:
        """Return ``ds`` as is if an accepted context fits it, decompressed if only LE was accepted."""
        offered = [
            UID(cx.transfer_syntax[0]) for cx in assoc.accepted_contexts if cx.abstract_syntax == sop_class
        ]
        if not offered:
            raise NoPresentationContextError(
                f"no accepted presentation context for {sop_class.name} ({what})"
            )
        if syntax in offered or (not syntax.is_compressed and any(not ts.is_compressed for ts in offered)):
            return ds
        if not any(ts in UNCOMPRESSED_LE for ts in offered):
            raise NoPresentationContextError(f"no usable transfer syntax for {syntax.name} ({what})")
        try:
            ds.decompress()
        except Exception as exc:  # pydicom raises several types for missing/failed decoders
            raise NoPresentationContextError(
                f"peer accepts only uncompressed {sop_class.name} and {syntax.name} cannot be decoded: {exc}"
            ) from None
        return ds

    def _why_unreachable(self, node: DicomNode) -> str:
        """Name the reason an association failed (pynetdicom only logs it)."""
        try:
            with socket.create_connection((node.host, node.port), timeout=self.connect_timeout):
                return "association aborted or timed out"
        except ConnectionRefusedError:
            return "connection refused"
        except TimeoutError:
            return "connection timed out"
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"


def send_files(
    destination: str | DicomNode,
    paths: Sequence[Path | str],
    *,
    calling_ae: str = "BREASTGATE",
    max_pdu: int = 0,
) -> list[int]:
    """Send files over one association (e.g. ``breastgate demo``); each file's C-STORE status, -1 if none.

    Raises :class:`~breastgate.domain.errors.DeliveryError` when no association can be set up.
    """
    return CStoreSender(calling_ae, max_pdu=max_pdu).send_many(destination, paths)
