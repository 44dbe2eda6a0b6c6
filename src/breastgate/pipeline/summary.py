"""Study-level summary once every algorithm of a study has a result: case assessment, triage and
the secondary-capture summary image (four views, marks, scores, labelled as AI output).

The assessment and triage come from :mod:`breastgate.worklist.policy`; the summary object's UIDs
derive from the study's input images and the (algorithm id, version) of every result, so a
re-run with the same results writes the same object and a new algorithm version a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pydicom

from breastgate.domain.errors import EncodingError
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    CaseAssessment,
    Finding,
    StudyRef,
    Triage,
)
from breastgate.imaging.pixels import BREAST_TOMOSYNTHESIS
from breastgate.pipeline.analysis import OutputObject
from breastgate.results.summary_sc import SecondaryCaptureSummary
from breastgate.worklist.policy import DEFAULT_POLICY, TriagePolicy, triage

LOGGER = logging.getLogger(__name__)

SUMMARY_ID = "breastgate.summary"


@dataclass(frozen=True)
class StudySummary:
    """What the study as a whole gets: assessment, triage and the summary objects."""

    assessment: CaseAssessment | None
    triage: Triage
    outputs: tuple[OutputObject, ...] = ()


def shown_findings(results: Sequence[AlgorithmResult]) -> list[Finding]:
    """Findings at or above their algorithm's operating point (what a reader is shown)."""
    out: list[Finding] = []
    for r in results:
        if r.status != AlgorithmStatus.OK:
            continue
        threshold = r.operating_threshold if r.operating_threshold is not None else 0.0
        out.extend(f for f in r.findings if f.score >= threshold)
    return out


def summary_version(results: Sequence[AlgorithmResult]) -> str:
    """Version tag of a summary: the sorted ``id@version`` of every result it summarises."""
    return "+".join(sorted(f"{r.algorithm_id}@{r.algorithm_version}" for r in results))


def summarise(
    study: StudyRef,
    results: Sequence[AlgorithmResult],
    policy: TriagePolicy = DEFAULT_POLICY,
    *,
    render: bool = True,
) -> StudySummary:
    """Assessment and triage of the study; with ``render``, the secondary-capture summary too
    (only when a lesion algorithm ran, so a density-only site gets no extra object).

    2-D mammograms are decoded whole; Breast Tomosynthesis volumes go to the summary as paths,
    which reads at most one frame of each (their marks are drawn on the synthesized views)."""
    assessment, decision = triage(results, policy)
    if not render or assessment is None:
        return StudySummary(assessment, decision)
    mammograms = [
        i
        for i in study.instances
        if i.modality == "MG"
        and i.number_of_frames <= 1
        and i.sop_class_uid != BREAST_TOMOSYNTHESIS  # also when the index did not count its frames
        and i.presentation_intent != "FOR PROCESSING"
    ]
    images = []
    for ref in sorted(mammograms, key=lambda i: i.sop_instance_uid):
        try:
            ds = pydicom.dcmread(ref.path)
            images.append((ds, ds.pixel_array))
        except Exception as exc:  # an undecodable image is left out of the montage, not fatal
            LOGGER.warning("summary: image %s left out: %s", ref.sop_instance_uid, type(exc).__name__)
    volumes = [
        i.path
        for i in sorted(study.instances, key=lambda i: i.sop_instance_uid)
        if i.sop_class_uid == BREAST_TOMOSYNTHESIS
    ]
    if not images and not volumes:
        return StudySummary(assessment, decision)
    try:
        sc = SecondaryCaptureSummary(
            images,
            shown_findings(results),
            assessment,
            decision,
            SUMMARY_ID,
            summary_version(results),
            volumes=volumes,
        )
    except EncodingError:
        if images:
            raise
        LOGGER.warning("summary: no volume of the study can be shown; no summary image")
        return StudySummary(assessment, decision)
    dataset = sc.dataset
    return StudySummary(assessment, decision, (OutputObject("sc", str(dataset.SOPInstanceUID), dataset),))
