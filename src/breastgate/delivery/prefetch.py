"""Prior studies from the PACS: Study Root C-FIND and C-MOVE SCU (PS3.4 Annex C; PS3.7 §9.1.2, §9.1.4).

:class:`PriorFetcher` asks a PACS for a patient's studies (C-FIND at STUDY level) and has it send
one study to our own Storage SCP (C-MOVE to our AE title; the PACS must know that AE as a
destination). :func:`select_priors` is the selection, pure: the most recent ``limit`` studies
holding one of ``modalities`` and dated before the order's date. Failures map once, here, to
:mod:`breastgate.delivery.errors` (retryable: the PACS is down or busy; permanent: it refuses).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import evt

from breastgate.delivery.dicom import _set_nodelay, _SocketClosingAE
from breastgate.delivery.errors import (
    NoPresentationContextError,
    PeerBusyError,
    PeerUnavailableError,
    RejectedError,
)
from breastgate.domain.model import DicomNode

LOGGER = logging.getLogger(__name__)

#: Study Root Query/Retrieve Information Model - FIND and - MOVE (PS3.4 C.6.2).
STUDY_ROOT_FIND = UID("1.2.840.10008.5.1.4.1.2.2.1")
STUDY_ROOT_MOVE = UID("1.2.840.10008.5.1.4.1.2.2.2")
#: Pending statuses of C-FIND / C-MOVE (PS3.4 C.4.1.1.4, C.4.2.1.5).
PENDING = frozenset({0xFF00, 0xFF01})
#: C-MOVE "sub-operations complete, one or more failures" (PS3.4 C.4.2.1.5): finished, partly.
MOVE_PARTIAL = 0xB000


@dataclass(frozen=True)
class StudyMatch:
    """One C-FIND match at STUDY level (what selection needs; patient data stays out)."""

    study_instance_uid: str
    study_date: str | None
    modalities: tuple[str, ...]
    accession_number: str | None = None


def select_priors(
    matches: Iterable[StudyMatch],
    before_date: str | None,
    *,
    modalities: Sequence[str] = ("MG",),
    limit: int = 2,
    today: date | None = None,
    current: StudyMatch | None = None,
) -> list[StudyMatch]:
    """The priors to retrieve: the most recent ``limit`` studies with one of ``modalities`` in
    Modalities in Study, dated strictly before ``before_date`` (YYYYMMDD; today when None).

    ``current`` names the order's own examination (its accession number and/or requested Study
    Instance UID): a study matching either is never a prior, whatever its date.

    Studies without a valid date are left out (they cannot be placed before the order), as are
    studies whose Modalities in Study is empty (a PACS that does not return it is not guessed at).
    Duplicates (same Study Instance UID) count once; ties on the date keep the PACS's order.
    """
    if limit <= 0:
        return []
    cutoff = before_date if _is_date(before_date) else (today or date.today()).strftime("%Y%m%d")
    wanted = {m.upper() for m in modalities}
    seen: set[str] = set()
    fits: list[StudyMatch] = []
    for match in matches:
        if match.study_instance_uid in seen or not _is_date(match.study_date):
            continue
        if match.study_date is None or match.study_date >= str(cutoff):
            continue
        if not wanted.intersection(m.upper() for m in match.modalities) or _is_current(match, current):
            continue
        seen.add(match.study_instance_uid)
        fits.append(match)
    fits.sort(key=lambda m: str(m.study_date), reverse=True)  # stable: ties keep the PACS's order
    return fits[:limit]


def _is_current(match: StudyMatch, current: StudyMatch | None) -> bool:
    if current is None:
        return False
    same_uid = bool(current.study_instance_uid) and match.study_instance_uid == current.study_instance_uid
    same_accession = bool(current.accession_number) and match.accession_number == current.accession_number
    return same_uid or same_accession


def _is_date(value: str | None) -> bool:
    if not value or len(value) != 8 or not value.isdigit():
        return False
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return False
    return True


def _text(ds: Dataset | None, keyword: str) -> str | None:
    value = getattr(ds, keyword, None) if ds is not None else None
    return str(value).strip() or None if value is not None else None


def _match(identifier: Dataset | None) -> StudyMatch | None:
    uid = _text(identifier, "StudyInstanceUID")
    if uid is None or identifier is None:
        return None
    raw = identifier.get("ModalitiesInStudy")
    values = str(raw).split("\\") if isinstance(raw, str) else list(raw or [])  # VM 1-n: str or MultiValue
    modalities = tuple(str(v).strip().upper() for v in values if str(v).strip())
    return StudyMatch(uid, _text(identifier, "StudyDate"), modalities, _text(identifier, "AccessionNumber"))


def _check_status(service: str, status: int, what: str) -> None:
    """Map a final C-FIND / C-MOVE failure status; return for success and the partial-move warning."""
    if status == 0x0000 or status == MOVE_PARTIAL:
        return
    if 0xA700 <= status <= 0xA7FF or status == 0xFE00:  # out of resources, or cancelled
        raise PeerBusyError(
            f"{service} status 0x{status:04X} (out of resources or cancelled) for {what}", status
        )
    if status == 0xA801:
        reason = "move destination unknown: the PACS must list our AE title"
    elif 0xA900 <= status <= 0xA9FF:
        reason = "identifier does not match SOP class"
    elif 0xC000 <= status <= 0xCFFF:
        reason = "unable to process"
    elif status == 0x0122:
        reason = "SOP class not supported"
    else:
        reason = "refused"
    raise RejectedError(f"{service} status 0x{status:04X} ({reason}) for {what}", status)


class PriorFetcher:
    """Query a PACS for prior studies and retrieve them to our own AE.

    Parameters
    ----------
    calling_ae
        Our AE title; also the default C-MOVE destination (the PACS must know it).
    connect_timeout, acse_timeout, dimse_timeout, network_timeout
        Seconds; a timeout is a retryable failure. ``dimse_timeout`` bounds the wait for each
        C-MOVE response (the PACS answers pending after each sub-operation).
    """

    def __init__(
        self,
        calling_ae: str = "BREASTGATE",
        *,
        connect_timeout: float = 10.0,
        acse_timeout: float = 30.0,
        dimse_timeout: float = 300.0,
        network_timeout: float = 300.0,
    ) -> None:
        if not calling_ae or len(calling_ae) > 16:
            raise ValueError("AE title must be 1-16 characters")
        self.calling_ae = calling_ae
        self.connect_timeout = connect_timeout
        self.acse_timeout = acse_timeout
        self.dimse_timeout = dimse_timeout
        self.network_timeout = network_timeout

    def query(self, node: DicomNode, patient_id: str) -> list[StudyMatch]:
        """Every study of the patient the PACS knows (Study Root C-FIND, STUDY level, PS3.4 C.6.2)."""
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.PatientID = patient_id
        identifier.StudyInstanceUID = ""
        identifier.StudyDate = ""
        identifier.ModalitiesInStudy = ""
        identifier.AccessionNumber = ""
        matches: list[StudyMatch] = []
        assoc = self._associate(node, STUDY_ROOT_FIND, "C-FIND")
        try:
            final = self._drain(
                "C-FIND", assoc.send_c_find(identifier, STUDY_ROOT_FIND),
                node, lambda ident: matches.append(m) if (m := _match(ident)) else None,
            )  # fmt: skip
        finally:
            self._release(assoc)
        _check_status("C-FIND", final, f"a patient query on {node}")
        return matches

    def find_priors(
        self,
        node: DicomNode,
        patient_id: str,
        before_date: str | None,
        modalities: Sequence[str] = ("MG",),
        limit: int = 2,
        current: StudyMatch | None = None,
    ) -> list[StudyMatch]:
        """The patient's most recent ``limit`` prior studies on ``node`` (:func:`select_priors`)."""
        matches = self.query(node, patient_id)
        return select_priors(matches, before_date, modalities=modalities, limit=limit, current=current)

    def move(self, node: DicomNode, study_uid: str, destination_ae: str | None = None) -> int:
        """Have ``node`` send the study to ``destination_ae`` (default: our AE) with Study Root C-MOVE.

        Returns the final status: 0x0000, or 0xB000 when some sub-operations failed (logged).
        """
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.StudyInstanceUID = study_uid
        what = f"study {study_uid} from {node}"
        last: list[Dataset] = []
        assoc = self._associate(node, STUDY_ROOT_MOVE, "C-MOVE")
        try:
            final = self._drain(
                "C-MOVE",
                assoc.send_c_move(
                    identifier, destination_ae or self.calling_ae, STUDY_ROOT_MOVE
                ),
                node, lambda _ident: None, last,
            )  # fmt: skip
        finally:
            self._release(assoc)
        _check_status("C-MOVE", final, what)
        if final == MOVE_PARTIAL:
            status = last[-1] if last else Dataset()
            LOGGER.warning(
                "C-MOVE of %s: %s sub-operation(s) failed, %s completed",
                what,
                status.get("NumberOfFailedSuboperations", "?"),
                status.get("NumberOfCompletedSuboperations", "?"),
            )
        return final

    # Association plumbing ----------------------------------------------------------------------
    def _associate(self, node: DicomNode, model: str, service: str) -> Any:
        ae = _SocketClosingAE(ae_title=self.calling_ae)
        ae.connection_timeout = self.connect_timeout
        ae.acse_timeout = self.acse_timeout
        ae.dimse_timeout = self.dimse_timeout
        ae.network_timeout = self.network_timeout
        ae.add_requested_context(model)
        accepted: list[bool] = []
        handlers: list[Any] = [
            (evt.EVT_CONN_OPEN, _set_nodelay),
            (evt.EVT_ACCEPTED, lambda _event: accepted.append(True)),
        ]
        assoc = ae.associate(node.host, node.port, ae_title=node.ae_title, evt_handlers=handlers)
        if assoc.is_established:
            return assoc
        ae.close_sockets()
        if accepted:  # pynetdicom aborts an association with no accepted context
            raise NoPresentationContextError(f"{node} does not support Study Root {service}")
        if assoc.is_rejected:
            raise PeerUnavailableError(f"association rejected by {node}")
        raise PeerUnavailableError(f"cannot associate with {node} for {service}")

    @staticmethod
    def _release(assoc: Any) -> None:
        if assoc.is_established:
            assoc.release()

    @staticmethod
    def _drain(
        service: str, responses: Any, node: DicomNode, on_match: Any, last: list[Dataset] | None = None
    ) -> int:
        """Read responses until the final one; return its status (no response: retryable)."""
        for status, identifier in responses:
            if "Status" not in status:
                raise PeerUnavailableError(
                    f"no {service} response from {node} (association aborted or DIMSE timeout)"
                )
            code = int(status.Status)
            if last is not None:
                last.append(status)
            if code in PENDING:
                on_match(identifier)
                continue
            return code
        raise PeerUnavailableError(f"{service} to {node} ended without a final response")
