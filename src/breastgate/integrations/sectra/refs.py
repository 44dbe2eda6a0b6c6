"""Stable references to viewer launches: breastgate's own ``/api/launch/{viewer}`` URLs.

A Sectra launch string expires within seconds (:mod:`breastgate.integrations.sectra.launch`), so
what breastgate stores or sends (results JSON, worklist, webhooks, the ORU, the IDS7 report
template) is a reference to its launch endpoint, which makes a fresh launch string and redirects
to it when someone clicks. The reference names only the study and the finding; the patient id
and accession number are looked up, encrypted and sent to the viewer at click time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from breastgate.integrations.sectra.launch import LaunchConfig

#: Viewers breastgate can launch (what ``/api/launch/{viewer}`` accepts).
VIEWERS = ("ids7", "uniview")


@dataclass(frozen=True)
class LaunchRefs:
    """Launch references for the configured viewers. ``base_url`` is breastgate's public URL
    (``BG_PUBLIC_URL``) for links read outside breastgate, or empty for same-origin paths."""

    viewers: tuple[str, ...]
    base_url: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.viewers) - set(VIEWERS)
        if unknown:
            raise ValueError(f"unknown viewers {sorted(unknown)} (expected {', '.join(VIEWERS)})")

    @classmethod
    def of(cls, config: LaunchConfig, base_url: str = "") -> LaunchRefs:
        """References to every viewer ``config`` has a launch prefix for."""
        pairs = (("ids7", config.ids7_url), ("uniview", config.uniview_url))
        return cls(tuple(v for v, prefix in pairs if prefix), base_url)

    def url(self, viewer: str, study_instance_uid: str, finding_id: str | None = None) -> str:
        query = {"study": study_instance_uid} | ({"finding": finding_id} if finding_id else {})
        return f"{self.base_url.rstrip('/')}/api/launch/{quote(viewer)}?{urlencode(query)}"

    def study(self, study_instance_uid: str) -> dict[str, str]:
        return {v: self.url(v, study_instance_uid) for v in self.viewers}

    def finding(self, study_instance_uid: str, finding_id: str) -> dict[str, str]:
        return {v: self.url(v, study_instance_uid, finding_id) for v in self.viewers}

    def pairs(self, study_instance_uid: str, finding_ids: Iterable[str]) -> list[tuple[str, str]]:
        """(label, URL) per viewer for the study, then per finding: the ORU's LAUNCH_LINK rows."""
        out = [(f"{v} study", u) for v, u in self.study(study_instance_uid).items()]
        for finding_id in finding_ids:
            out += [
                (f"{v} finding {finding_id}", u)
                for v, u in self.finding(study_instance_uid, finding_id).items()
            ]
        return out

    def attach(self, body: dict[str, object]) -> None:
        """Add ``launch`` to a results document and to each of its findings (in place)."""
        uid = str(body["study_instance_uid"])
        body["launch"] = self.study(uid)
        findings = body.get("findings")
        if isinstance(findings, list):
            for finding in findings:
                if isinstance(finding, dict) and finding.get("id"):
                    finding["launch"] = self.finding(uid, str(finding["id"]))

    def document(self, study_instance_uid: str, finding_ids: Iterable[str]) -> dict[str, object]:
        """``{"study": {viewer: url}, "findings": {id: {viewer: url}}}`` for a webhook body."""
        return {
            "study": self.study(study_instance_uid),
            "findings": {f: self.finding(study_instance_uid, f) for f in finding_ids},
        }
