"""C-STORE SCU sender (PS3.4 Annex B Storage Service Class; PS3.7 §9.1.1 C-STORE; PS3.8 ACSE).

One association per object: propose the object's SOP class with its own transfer syntax, plus
Explicit/Implicit VR Little Endian as a fallback (decompressing if the peer accepts only those),
send, release. The association plumbing and what statuses mean are :mod:`breastgate.dicomnet`'s;
failures are the delivery errors of :mod:`breastgate.domain.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.uid import UID

from breastgate.dicomnet.ae import Timeouts, associate, client_ae, release
from breastgate.dicomnet.status import check_store_status
from breastgate.dicomnet.storage import propose_storage, send_c_store
from breastgate.domain.errors import (
    DeliveryError,
    InvalidDestinationError,
    InvalidInputError,
    UnreadableObjectError,
)
from breastgate.domain.model import DicomNode, is_ae_title

LOGGER = logging.getLogger(__name__)


def parse_node(text: str) -> DicomNode:
    """Parse ``AE@HOST:PORT``; raise :class:`InvalidDestinationError` when malformed."""
    try:
        return DicomNode.parse(text)
    except InvalidInputError as exc:
        raise InvalidDestinationError(str(exc)) from None


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
        if not is_ae_title(calling_ae):
            raise ValueError("AE title must be 1-16 characters")
        self.calling_ae = calling_ae
        self.max_pdu = max_pdu
        self.timeouts = Timeouts(connect_timeout, acse_timeout, dimse_timeout, network_timeout)

    def send(self, destination: str | DicomNode, path: Path | str) -> None:
        """Store the object at ``path`` on ``destination`` (``AE@HOST:PORT``) or raise a DeliveryError."""
        node = destination if isinstance(destination, DicomNode) else parse_node(destination)
        ds = _read(Path(path))
        what = f"{ds.SOPInstanceUID} to {node}"
        ae = client_ae(self.calling_ae, self.timeouts)
        propose_storage(ae, [(UID(ds.SOPClassUID), UID(ds.file_meta.TransferSyntaxUID))])
        assoc = associate(ae, node, what=what, max_pdu=self.max_pdu)
        try:
            check_store_status(send_c_store(assoc, ds, what), what)
        finally:
            release(ae, assoc)
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
        ae = client_ae(self.calling_ae, self.timeouts)
        propose_storage(ae, pairs)
        assoc = associate(ae, node, what=f"{len(pairs)} object(s) to {node}", max_pdu=self.max_pdu)
        statuses: list[int] = []
        try:
            for path, meta in zip(paths, metas, strict=True):
                if meta is None or not assoc.is_established:
                    statuses.append(-1)
                    continue
                what = f"{Path(path).name} to {node}"
                try:
                    statuses.append(send_c_store(assoc, _read(Path(path)), what))
                except DeliveryError as exc:
                    LOGGER.warning("C-STORE of %s: %s", what, exc)
                    statuses.append(-1)
        finally:
            release(ae, assoc)
        return statuses


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
