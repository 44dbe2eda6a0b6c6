"""DICOM objects of a breast ultrasound result (issue 19), on the source US images.

What an ultrasound result yields (:func:`build_us_outputs`), when it shows a lesion (score at or
above the operating point):

- ``gsps`` (series 9902): on each marked grayscale image (key frame of a cine), the lesion outline,
  its two caliper lines (width and depth) and a label with score and size;
- ``csps`` (9910): the same marks on the colour images (RGB, YBR, PALETTE COLOR captures, colour
  Doppler), which a GSPS may not reference (:mod:`breastgate.results.csps`); a finding seen on a
  grayscale and a colour image has its marks in both;
- ``tid1500`` (9906): the TID 1500 measurement report of the shown lesions (outline as the image
  region, size as the diameter): the measurement record of an ultrasound result, always built;
  whether a PACS node receives it follows ``BG_PACS_OBJECTS`` as for the other modalities;
- ``kos`` (9905): a Key Object Selection of the marked images (frames), each referencing the
  presentation state (GSPS or CSPS) that shows its marks.

No Mammography CAD SR: its IOD is for mammograms.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from pydicom.dataset import Dataset

from breastgate.algorithms.base import Algorithm
from breastgate.domain.model import AlgorithmResult, Finding, FindingKind, StudyRef
from breastgate.domain.outputs import OutputKind
from breastgate.pipeline.objects import OutputObject, source_headers
from breastgate.results.csps import ColorSoftcopyPresentationState
from breastgate.results.gsps import GrayscaleSoftcopyPresentationState, is_colour
from breastgate.results.kos import KeyObjectSelectionDocument
from breastgate.results.tid1500 import MeasurementReport, shown_findings

LOGGER = logging.getLogger(__name__)


def is_us_result(result: AlgorithmResult, algorithm: Algorithm) -> bool:
    """A result for the ultrasound encoders: its algorithm reads US only, or it has US lesions."""
    modalities = algorithm.manifest.modalities
    return modalities == ("US",) or any(f.kind is FindingKind.US_LESION for f in result.findings)


def presentation_states(
    findings: Sequence[Finding], headers: Sequence[Dataset], algorithm_id: str, algorithm_version: str
) -> list[OutputObject]:
    """The marks of ``findings`` as presentation states: a GSPS over the grayscale images, a
    Color Softcopy Presentation State over the colour ones (each only when a mark lands there)."""
    grey = [h for h in headers if not is_colour(h)]
    colour = [h for h in headers if is_colour(h)]
    out: list[OutputObject] = []
    for kind, cls, sources in (
        (OutputKind.GSPS, GrayscaleSoftcopyPresentationState, grey),
        (OutputKind.CSPS, ColorSoftcopyPresentationState, colour),
    ):
        uids = {str(h.SOPInstanceUID) for h in sources}
        on = [f for f in findings if any(m.sop_instance_uid in uids for m in f.marks)]
        if on:
            ds = cls(_marks_on(on, uids), sources, algorithm_id, algorithm_version).dataset
            out.append(OutputObject(kind, str(ds.SOPInstanceUID), ds))
    return out


def _marks_on(findings: Sequence[Finding], uids: set[str]) -> list[Finding]:
    """The findings with only their marks on the images ``uids`` (the rest belong to the other
    presentation state, not to a warning)."""
    return [replace(f, marks=tuple(m for m in f.marks if m.sop_instance_uid in uids)) for f in findings]


def build_us_outputs(study: StudyRef, algorithm: Algorithm, result: AlgorithmResult) -> list[OutputObject]:
    """GSPS and/or CSPS, TID 1500 and KOS of the shown lesions (none when no lesion is shown)."""
    shown = list(shown_findings(result))
    if not shown:
        return []
    marked = tuple(sorted({m.sop_instance_uid for f in shown for m in f.marks}))
    headers = source_headers(study, marked)
    states = presentation_states(shown, headers, result.algorithm_id, result.algorithm_version)
    report = MeasurementReport.from_result(result, algorithm.manifest, headers).dataset
    kos = KeyObjectSelectionDocument(
        shown,
        headers,
        result.algorithm_id,
        result.algorithm_version,
        presentation_states=[s.dataset for s in states],
    ).dataset
    return [
        *states,
        OutputObject(OutputKind.TID1500, str(report.SOPInstanceUID), report),
        OutputObject(OutputKind.KOS, str(kos.SOPInstanceUID), kos),
    ]
