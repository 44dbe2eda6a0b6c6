"""Priors over DICOMweb: QIDO-RS finds the patient's studies, WADO-RS retrieves one (PS3.18 §10.6
Search Transaction, §10.4 Retrieve Transaction), with the ``dicomweb-client`` library.

Each instance WADO-RS returns is written as a Part 10 file and kept through
:class:`~breastgate.routing.retrieve.Intake` (fsync, index, duplicates ignored), as C-STORE
ingest keeps one. Failures map to the delivery errors: no connection, a timeout or an HTTP 5xx /
408 / 429 may pass (retryable); any other HTTP 4xx is a refusal (permanent, with the status).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from breastgate.domain.errors import PeerBusyError, PeerUnavailableError, RejectedError
from breastgate.routing.priors import StudyMatch
from breastgate.routing.retrieve import SUCCESS, Intake

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

#: Return keys of the study search (PS3.18 §10.6.3.3.1 and Table 10.6.1-5).
STUDY_FIELDS = ("StudyInstanceUID", "StudyDate", "ModalitiesInStudy", "AccessionNumber", "IssuerOfPatientID")
TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})


def _value(item: dict[str, Any], tag: str) -> list[Any]:
    return list((item.get(tag) or {}).get("Value") or [])


def _match(item: dict[str, Any]) -> StudyMatch | None:
    """One QIDO-RS study (DICOM JSON, PS3.18 F.2) as a :class:`StudyMatch`."""
    uid = _value(item, "0020000D")
    if not uid:
        return None
    date, accession, issuer = _value(item, "00080020"), _value(item, "00080050"), _value(item, "00100021")
    return StudyMatch(
        str(uid[0]),
        str(date[0]) if date else None,
        tuple(str(m).strip().upper() for m in _value(item, "00080061") if str(m).strip()),
        str(accession[0]) if accession else None,
        str(issuer[0]) if issuer else None,
    )


def without_userinfo(url: str) -> str:
    """The URL for messages and logs: any ``user:password@`` dropped."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


class DicomwebSource:
    """QIDO-RS + WADO-RS against one DICOMweb base URL (``.../dicom-web``)."""

    def __init__(self, url: str, intake: Intake, *, label: str, timeout: float = 30.0) -> None:
        self.url, self.intake, self.label = without_userinfo(url), intake, label
        self.client = DICOMwebClient(url, timeout=timeout)
        self.client.set_http_retry_params(retry=False)  # the pre-fetch worker backs off itself

    def query(self, patient_id: str, issuer: str | None) -> list[StudyMatch]:
        filters = {"PatientID": patient_id}
        found = self._call(
            "QIDO-RS",
            lambda: self.client.search_for_studies(
                search_filters=filters, fields=list(STUDY_FIELDS), get_remaining=True
            ),
        )
        return [m for m in (_match(item) for item in found) if m is not None]

    def retrieve(self, study_uid: str) -> int:
        failed = kept = 0

        def each() -> None:
            nonlocal failed, kept
            for ds in self.client.iter_study(study_uid):
                with self._part10(ds) as path:
                    if self.intake.keep(path, self.label) == SUCCESS:
                        kept += 1
                    else:
                        failed += 1

        self._call("WADO-RS", each)
        if failed:
            LOGGER.warning(
                "WADO-RS of study %s from %s: %d instance(s) not kept, %d kept",
                study_uid, self.label, failed, kept,
            )  # fmt: skip
            return 0xB000
        return SUCCESS

    @contextmanager
    def _part10(self, ds: Dataset) -> Iterator[Path]:
        fd, name = tempfile.mkstemp(suffix=".dcm", dir=self.intake.temp_dir)
        try:
            with os.fdopen(fd, "wb") as fp:
                ds.save_as(fp, enforce_file_format=True)
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)  # a kept file was renamed into the store

    def _call(self, service: str, call: Callable[[], T]) -> T:
        self.intake.temp_dir.mkdir(parents=True, exist_ok=True)
        try:
            return call()
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            message = f"{service} to {self.label} ({self.url}) answered HTTP {status}"
            if status in TRANSIENT_HTTP:
                raise PeerBusyError(message, status) from None
            raise RejectedError(message, status) from None
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise PeerUnavailableError(
                f"{service} to {self.label} ({self.url}): {type(exc).__name__}"
            ) from None
