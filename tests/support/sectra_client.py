"""A client that calls a Data Provider the way Sectra's Healthcare Server does.

Shapes from Sectra's public StructuredReportingTemplatesDevResources, "Data provider example"
(``Data provider/DataProvider.js`` and ``readme.md``): the server POSTs a JSON body
``{patient: {ids: string[]}, user: {login, domain, name}, exam: {examNo, accNo, studyUid, date}}``
to ``<provider URL>/v1/getstructureddata/`` (trailing slash) and reads
``{Compatibility: {Uid, Version}, PropValues: {...}}``; it asks
``GET /v1/getStructuredDataCompability`` (Sectra's spelling) for ``{Uid, Version}``; HTTP Basic
authentication is optional (the example's ``express-basic-auth``); any status but 200 is an error
(the example answers 500). Other headers the real server sends are not published.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

STRUCTURED_DATA_PATH = "/v1/getstructureddata/"
COMPATIBILITY_PATH = "/v1/getStructuredDataCompability"


class SectraHealthcareServer:
    """Calls one registered Data Provider (its URL as entered in Template Administration)."""

    def __init__(self, provider_url: str, auth: tuple[str, str] | None = None, timeout: float = 30) -> None:
        self.provider_url = provider_url.rstrip("/")
        self.auth = httpx.BasicAuth(*auth) if auth is not None else None
        self.timeout = timeout

    @staticmethod
    def body(
        *,
        patient_ids: Sequence[str] = (),
        login: str = "",
        domain: str = "",
        name: str = "",
        exam_no: str = "",
        acc_no: str = "",
        study_uid: str = "",
        date: str = "",
    ) -> dict[str, Any]:
        return {
            "patient": {"ids": list(patient_ids)},
            "user": {"login": login, "domain": domain, "name": name},
            "exam": {"examNo": exam_no, "accNo": acc_no, "studyUid": study_uid, "date": date},
        }

    def get_structured_data(self, path: str = STRUCTURED_DATA_PATH, **exam: Any) -> httpx.Response:
        """POST the current patient/user/exam, as when a template calls ``getData(["breastgate"])``."""
        return httpx.post(
            f"{self.provider_url}{path}",
            json=self.body(**exam),
            headers={"Accept": "application/json"},
            auth=self.auth,
            timeout=self.timeout,
        )

    def get_compatibility(self) -> httpx.Response:
        return httpx.get(
            f"{self.provider_url}{COMPATIBILITY_PATH}",
            headers={"Accept": "application/json"},
            auth=self.auth,
            timeout=self.timeout,
        )
