"""The report draft (destination ``report``): text, structured draft and Breast Imaging Report SR.

Made from the results integrated at ``report`` (``breastgate.reporting.draft``), stored with the
study (``store.reports``) and sent as text in the ORU. The SR (TID 4200, PARTIAL / UNVERIFIED) is
written beside the other results but not sent to the PACS: a draft enters the permanent record
only once a radiologist confirms it. Drafting never fails the job: a failure is logged and the
study keeps its other results.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pydicom
from pydicom import Dataset

from breastgate.domain.governance import Destination
from breastgate.domain.model import AlgorithmResult, StudyRef
from breastgate.domain.outputs import OutputKind
from breastgate.domain.report import ReportDraft
from breastgate.pipeline.analysis import OutputObject
from breastgate.pipeline.lesions import correspondences
from breastgate.pipeline.publish.base import ResultFiles, StudyStep
from breastgate.pipeline.summary import StudySummary
from breastgate.reporting.draft import build_draft, render_text
from breastgate.results.breast_report_sr import BreastImagingReportSR
from breastgate.results.json import build_results
from breastgate.store import reports as report_store

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class DraftOutput:
    """What the report step stores and sends."""

    draft: ReportDraft
    text: str
    sr: Dataset | None

    def draft_json(self) -> str:
        def default(value: Any) -> Any:
            if isinstance(value, date):
                return value.isoformat()
            raise TypeError(type(value).__name__)

        return json.dumps(dataclasses.asdict(self.draft), default=default, sort_keys=True)


def draft_report(
    study: StudyRef,
    results: Sequence[AlgorithmResult],
    summary: StudySummary,
    correspondences: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]] | None = None,
) -> DraftOutput | None:
    """The study's report draft, or None (logged) when it cannot be made; ``correspondences``
    (:func:`breastgate.pipeline.lesions.correspondences`) name the same lesion in other studies."""
    try:
        document = build_results(study.study_instance_uid, results, summary.assessment, summary.triage)
        draft = build_draft(document, correspondences=correspondences)
        text = render_text(draft)
    except Exception:
        LOGGER.exception("study %s: no report draft", study.study_instance_uid)
        return None
    sources = []
    for ref in sorted(study.instances, key=lambda i: i.sop_instance_uid):
        if ref.modality != "MG":
            continue
        try:
            sources.append(pydicom.dcmread(ref.path, stop_before_pixels=True))
        except Exception as exc:  # an unreadable header leaves that image out of the evidence
            LOGGER.warning("report SR: image %s left out: %s", ref.sop_instance_uid, type(exc).__name__)
    sr: Dataset | None = None
    if sources:
        try:
            sr = BreastImagingReportSR(sources, draft).to_dataset()
        except Exception:
            LOGGER.exception("study %s: report SR not written", study.study_instance_uid)
    return DraftOutput(draft, text, sr)


class ReportPublisher:
    """Drafts the report, writes its SR beside the results (not sent: a draft) and stores both."""

    destination = Destination.REPORT

    def __init__(self, files: ResultFiles) -> None:
        self.files = files

    def publish(self, step: StudyStep) -> None:
        gated = step.results.at(self.destination)
        summary = step.summary(gated, render=False)
        if summary is None:
            return
        links = correspondences(step.session, step.uid, default_mode=step.results.book.default)
        report = draft_report(step.study, gated.results, summary, links)
        if report is None:
            return
        sr_path = None
        if report.sr is not None:
            output = OutputObject(OutputKind.REPORT_SR, str(report.sr.SOPInstanceUID), report.sr)
            sr_path = str(self.files.dicom(step.uid, output))
        draft = report.draft
        report_store.save_draft(
            step.session,
            step.uid,
            generation=step.generation,
            birads=draft.birads,
            density=draft.composition_category,
            text=report.text,
            draft_json=report.draft_json(),
            sr_path=sr_path,
        )
        step.report = report
