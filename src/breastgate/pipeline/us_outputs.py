"""DICOM objects of a breast ultrasound result (issue 19), on the source US images.

What an ultrasound result yields (:func:`build_us_outputs`), when it shows a lesion (score at or
above the operating point):

- ``gsps`` (series 9902): on each marked image (key frame of a cine), the lesion outline, its two
  caliper lines (width and depth) and a label with score and size;
- ``tid1500`` (9906): the TID 1500 measurement report of the shown lesions (outline as the image
  region, size as the diameter): the measurement record of an ultrasound result, always built;
  whether a PACS node receives it follows ``BG_PACS_OBJECTS`` as for the other modalities;
- ``kos`` (9905): a Key Object Selection of the marked images (frames).

No Mammography CAD SR: its IOD is for mammograms.
"""

from __future__ import annotations

import logging

from breastgate.algorithms.base import Algorithm
from breastgate.domain.model import AlgorithmResult, FindingKind, StudyRef
from breastgate.pipeline.objects import OutputObject, source_headers
from breastgate.results.gsps import GrayscaleSoftcopyPresentationState
from breastgate.results.kos import KeyObjectSelectionDocument
from breastgate.results.tid1500 import MeasurementReport, shown_findings

LOGGER = logging.getLogger(__name__)


def is_us_result(result: AlgorithmResult, algorithm: Algorithm) -> bool:
    """A result for the ultrasound encoders: its algorithm reads US only, or it has US lesions."""
    modalities = algorithm.manifest.modalities
    return modalities == ("US",) or any(f.kind is FindingKind.US_LESION for f in result.findings)


def build_us_outputs(study: StudyRef, algorithm: Algorithm, result: AlgorithmResult) -> list[OutputObject]:
    """GSPS, TID 1500 and KOS of the shown lesions (none when no lesion is shown)."""
    shown = list(shown_findings(result))
    if not shown:
        return []
    marked = tuple(sorted({m.sop_instance_uid for f in shown for m in f.marks}))
    headers = source_headers(study, marked)
    gsps = GrayscaleSoftcopyPresentationState(
        shown, headers, result.algorithm_id, result.algorithm_version
    ).dataset
    report = MeasurementReport.from_result(result, algorithm.manifest, headers).dataset
    kos = KeyObjectSelectionDocument(shown, headers, result.algorithm_id, result.algorithm_version).dataset
    return [
        OutputObject("gsps", str(gsps.SOPInstanceUID), gsps),
        OutputObject("tid1500", str(report.SOPInstanceUID), report),
        OutputObject("kos", str(kos.SOPInstanceUID), kos),
    ]
