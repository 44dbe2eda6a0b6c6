"""C-STORE as a requestor (PS3.4 Annex B, PS3.7 §9.1.1): what to propose, how to fit an object to
what the peer accepted, and one send. Used by the outbox's C-STORE sender and the DICOM engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from breastgate.dicomnet.ae import ClosingAE
from breastgate.domain.errors import NoPresentationContextError, PeerUnavailableError, RejectedError

UNCOMPRESSED_LE = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def propose_storage(ae: ClosingAE, pairs: Sequence[tuple[UID, UID]]) -> None:
    """Request a context per (SOP class, transfer syntax): an uncompressed object with both Little
    Endian syntaxes, a compressed one with its own syntax plus a separate Little Endian context for
    its class, so a peer that cannot decode it may still take it decompressed (PS3.5 A.1, A.2)."""
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


def fit_to_contexts(assoc: Any, ds: Dataset, what: str) -> Dataset:
    """``ds`` as is if an accepted context fits it, decompressed if only Little Endian was accepted."""
    sop_class, syntax = UID(ds.SOPClassUID), UID(ds.file_meta.TransferSyntaxUID)
    offered = [
        UID(cx.transfer_syntax[0]) for cx in assoc.accepted_contexts if cx.abstract_syntax == sop_class
    ]
    if not offered:
        raise NoPresentationContextError(f"no accepted presentation context for {sop_class.name} ({what})")
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


def send_c_store(assoc: Any, ds: Dataset, what: str) -> int:
    """Send one object on an open association; its C-STORE status (no response: retry later)."""
    ds = fit_to_contexts(assoc, ds, what)
    try:
        status = assoc.send_c_store(ds)
    except ValueError as exc:
        raise RejectedError(f"cannot encode {what}: {exc}") from None
    if "Status" not in status:
        raise PeerUnavailableError(f"no C-STORE response for {what} (association aborted or DIMSE timeout)")
    return int(status.Status)
