"""Prior studies from the PACS: Study Root C-FIND, C-MOVE and C-GET SCU (PS3.4 Annex C; PS3.7
§9.1.2-§9.1.4).

:class:`PriorFetcher` asks a PACS for a patient's studies (C-FIND at STUDY level) and either has
it send one study to our own Storage SCP (C-MOVE to our AE title; the PACS must know that AE as a
destination) or fetches it on its own association (C-GET; no inbound port needed).
The selection is :func:`breastgate.routing.priors.select_priors`. Failures are the
delivery errors of :mod:`breastgate.domain.errors` (retryable: the PACS is down or busy; permanent:
it refuses), mapped by :mod:`breastgate.dicomnet`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID

from breastgate.dicomnet.ae import (
    AssociationRejectedError,
    ClosingAE,
    Timeouts,
    associate,
    client_ae,
    release,
)
from breastgate.dicomnet.retrieve import get_study
from breastgate.dicomnet.status import MOVE_PARTIAL, PENDING, check_query_status
from breastgate.domain.errors import PeerUnavailableError, RejectedError
from breastgate.domain.model import DicomNode, is_ae_title
from breastgate.routing.priors import StudyMatch, select_priors

LOGGER = logging.getLogger(__name__)

#: Study Root Query/Retrieve Information Model - FIND and - MOVE (PS3.4 C.6.2).
STUDY_ROOT_FIND = UID("1.2.840.10008.5.1.4.1.2.2.1")
STUDY_ROOT_MOVE = UID("1.2.840.10008.5.1.4.1.2.2.2")


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
    return StudyMatch(
        uid,
        _text(identifier, "StudyDate"),
        modalities,
        _text(identifier, "AccessionNumber"),
        _text(identifier, "IssuerOfPatientID"),
    )


@contextmanager
def refusal_if_permanent() -> Iterator[None]:
    """A permanent association rejection (e.g. the PACS does not know our AE title) is a refusal:
    the pre-fetch fails with the reason instead of being retried for ever."""
    try:
        yield
    except AssociationRejectedError as exc:
        if exc.permanent:
            raise RejectedError(str(exc)) from None
        raise


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
        if not is_ae_title(calling_ae):
            raise ValueError("AE title must be 1-16 characters")
        self.calling_ae = calling_ae
        self.timeouts = Timeouts(connect_timeout, acse_timeout, dimse_timeout, network_timeout)

    def query(self, node: DicomNode, patient_id: str, issuer: str | None = None) -> list[StudyMatch]:
        """Every study of the patient the PACS knows (Study Root C-FIND, STUDY level, PS3.4 C.6.2).

        With ``issuer``, Issuer of Patient ID is a matching key too (PS3.4 C.6.2.1.2); it is
        always asked for as a return key, so selection can tell namespaces apart.
        """
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.PatientID = patient_id
        identifier.IssuerOfPatientID = issuer or ""
        identifier.StudyInstanceUID = ""
        identifier.StudyDate = ""
        identifier.ModalitiesInStudy = ""
        identifier.AccessionNumber = ""
        matches: list[StudyMatch] = []
        ae, assoc = self._associate(node, STUDY_ROOT_FIND, "C-FIND")
        try:
            final = self._drain(
                "C-FIND", assoc.send_c_find(identifier, STUDY_ROOT_FIND),
                node, lambda ident: matches.append(m) if (m := _match(ident)) else None,
            )  # fmt: skip
        finally:
            release(ae, assoc)
        check_query_status("C-FIND", final, f"a patient query on {node}")
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
        ae, assoc = self._associate(node, STUDY_ROOT_MOVE, "C-MOVE")
        try:
            final = self._drain(
                "C-MOVE",
                assoc.send_c_move(
                    identifier, destination_ae or self.calling_ae, STUDY_ROOT_MOVE
                ),
                node, lambda _ident: None, last,
            )  # fmt: skip
        finally:
            release(ae, assoc)
        check_query_status("C-MOVE", final, what)
        if final == MOVE_PARTIAL:
            status = last[-1] if last else Dataset()
            LOGGER.warning(
                "C-MOVE of %s: %s sub-operation(s) failed, %s completed",
                what,
                status.get("NumberOfFailedSuboperations", "?"),
                status.get("NumberOfCompletedSuboperations", "?"),
            )
        return final

    def get(self, node: DicomNode, study_uid: str, on_file: Callable[[Path], int], temp_dir: Path) -> int:
        """Fetch the study on our own association with Study Root C-GET; ``on_file`` keeps each
        object received (a Part 10 file) and returns its C-STORE status.

        Returns the final status: 0x0000, or 0xB000 when some sub-operations failed (logged).
        """
        what = f"study {study_uid} from {node}"
        last: list[Dataset] = []
        ae = client_ae(self.calling_ae, self.timeouts)
        with refusal_if_permanent():
            assoc, responses = get_study(ae, node, study_uid, on_file, temp_dir, what="Study Root C-GET")
        try:
            final = self._drain("C-GET", responses, node, lambda _ident: None, last)
        finally:
            release(ae, assoc)
        check_query_status("C-GET", final, what)
        if final == MOVE_PARTIAL:
            status = last[-1] if last else Dataset()
            LOGGER.warning(
                "C-GET of %s: %s sub-operation(s) failed, %s completed",
                what,
                status.get("NumberOfFailedSuboperations", "?"),
                status.get("NumberOfCompletedSuboperations", "?"),
            )
        return final

    # Association plumbing ----------------------------------------------------------------------
    def _associate(self, node: DicomNode, model: str, service: str) -> tuple[ClosingAE, Any]:
        ae = client_ae(self.calling_ae, self.timeouts)
        ae.add_requested_context(model)
        with refusal_if_permanent():
            return ae, associate(ae, node, what=f"Study Root {service}")

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
