"""Run algorithms on a study and turn their results into output objects.

Shared by the job handler (gateway) and ``breastgate analyze`` (offline), so both produce the
same results JSON and the same DICOM objects with the same deterministic UIDs.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pydicom
from pydicom.dataset import Dataset

from breastgate.algorithms.base import Algorithm
from breastgate.domain.errors import EncodingError, EngineUnavailableError
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, StudyRef
from breastgate.pipeline.mri_outputs import build_mri_outputs, is_mri_result
from breastgate.pipeline.objects import OutputObject, source_headers
from breastgate.pipeline.us_outputs import build_us_outputs, is_us_result
from breastgate.results.gsps import GrayscaleSoftcopyPresentationState
from breastgate.results.kos import KeyObjectSelectionDocument
from breastgate.results.mammo_cad_sr import MammographyCADSR
from breastgate.results.tid1500 import MeasurementReport

LOGGER = logging.getLogger(__name__)

__all__ = ["OutputObject", "analyse", "build_outputs", "run_algorithm", "source_headers"]


def run_algorithm(algorithm: Algorithm, study: StudyRef) -> AlgorithmResult:
    """select → run, with the selection's skipped images folded into the result."""
    manifest = algorithm.manifest
    try:
        selection = algorithm.select(study)
        result = algorithm.run(selection)
    except EngineUnavailableError:
        raise  # the engine may come back: the job is retried rather than recorded as failed
    except Exception as exc:  # an algorithm bug must not take the worker down
        LOGGER.exception("algorithm %s failed on a study", manifest.id)
        return AlgorithmResult(
            algorithm_id=manifest.id,
            algorithm_version=manifest.version,
            study_instance_uid=study.study_instance_uid,
            status=AlgorithmStatus.FAILED,
            message=f"{type(exc).__name__}: {exc}",
            model_card=manifest.model_card,
        )
    if manifest.model_card and not result.model_card:
        result = replace(result, model_card=manifest.model_card)
    known = {i.sop_instance_uid for i in result.images}
    missing = tuple(s for s in selection.skipped if s.sop_instance_uid not in known)
    if missing:
        result = replace(result, images=result.images + missing)
    return result


def analyse(
    algorithm: Algorithm, study: StudyRef, extra: frozenset[str] = frozenset()
) -> tuple[AlgorithmResult, list[OutputObject]]:
    """Run one algorithm and encode its result: the result and its DICOM objects.

    A result whose objects cannot be encoded (an out-of-range value, an algorithm bug the encoder
    catches) comes back ``failed`` with the reason and no objects, so one algorithm's failure costs
    neither the study's other algorithms nor the other studies of a batch (gateway and offline
    alike). Engine unavailability still raises, so the job is retried.
    """
    result = run_algorithm(algorithm, study)
    try:
        return result, build_outputs(study, algorithm, result, extra)
    except Exception as exc:  # encoding is part of the algorithm's result: report it, go on
        LOGGER.exception("results of %s could not be encoded", algorithm.manifest.id)
        failed = replace(
            result,
            status=AlgorithmStatus.FAILED,
            message=f"results could not be encoded: {type(exc).__name__}: {exc}",
            findings=(),
            density=None,
            quality=(),
        )
        return failed, []


def prior_headers(study: StudyRef, result: AlgorithmResult) -> list[Dataset]:
    """Headers of the prior-study images the result's comparisons mark (for the CAD SR's temporal
    Composite Features), read from the priors attached to the study (``StudyRef.priors``)."""
    wanted = {
        m.sop_instance_uid
        for f in result.findings
        if f.comparison is not None
        for m in f.comparison.prior_marks
    }
    if not wanted:
        return []
    return [
        pydicom.dcmread(i.path, stop_before_pixels=True)
        for prior in study.priors
        for i in prior.instances
        if i.sop_instance_uid in wanted
    ]


def build_outputs(
    study: StudyRef, algorithm: Algorithm, result: AlgorithmResult, extra: frozenset[str] = frozenset()
) -> list[OutputObject]:
    """DICOM objects for a result: a Mammography CAD SR for a density assessment or a lesion
    detector's findings (an empty CAD SR still says which detections ran), plus a GSPS with the
    marks a reader is shown (findings at or above the operating point) and a Key Object Selection
    flagging their images (frames, for tomosynthesis).

    ``extra`` may ask for ``tid1500``: a TID 1500 measurement report of the shown findings too (a
    PACS node wants it, ``BG_PACS_OBJECTS``); one that cannot be encoded is logged and left out,
    never costing the result its other objects.

    A DCE-MRI result (voxel maps or enhancing lesions, or an MR-only algorithm's) gets the MRI objects instead
    (:func:`~breastgate.pipeline.mri_outputs.build_mri_outputs`: kinetic map, Parametric Map,
    SEG, TID 1500, KOS), whatever ``extra`` asks.

    ``OutputObject.kind`` names the object for storage, governance and delivery: ``cad-sr``,
    ``gsps``, ``kos``, ``tid1500``, ``kinetic-map``, ``seg``, ``pmap`` (and ``sc``, ``report-sr``
    for the study-level objects)."""
    if result.status != AlgorithmStatus.OK:
        return []
    if is_mri_result(result, algorithm.manifest):
        return build_mri_outputs(study, algorithm, result)
    if is_us_result(result, algorithm):
        return build_us_outputs(study, algorithm, result)
    if result.density is None and not result.findings and result.operating_threshold is None:
        return []
    # The images used, plus the mammograms the algorithm could not use (listed as failed analyses).
    used = set(result.input_sop_instance_uids)
    mammograms = {i.sop_instance_uid for i in study.instances if i.modality == "MG"}
    outcome_uids = {o.sop_instance_uid for o in result.images}
    headers = source_headers(study, tuple(sorted(used | (mammograms & outcome_uids))))
    if not used:
        return []
    sr = MammographyCADSR.from_result(
        result, algorithm.manifest, headers, prior_sources=prior_headers(study, result)
    )
    dataset = sr.dataset
    outputs = [OutputObject("cad-sr", str(dataset.SOPInstanceUID), dataset)]
    threshold = result.operating_threshold if result.operating_threshold is not None else 0.0
    shown = [f for f in result.findings if f.score >= threshold]
    if shown:
        gsps = GrayscaleSoftcopyPresentationState(
            shown, headers, result.algorithm_id, result.algorithm_version
        ).dataset
        outputs.append(OutputObject("gsps", str(gsps.SOPInstanceUID), gsps))
        kos = KeyObjectSelectionDocument(
            shown, headers, result.algorithm_id, result.algorithm_version
        ).dataset
        outputs.append(OutputObject("kos", str(kos.SOPInstanceUID), kos))
        if "tid1500" in extra:
            try:
                report = MeasurementReport.from_result(result, algorithm.manifest, headers).dataset
            except EncodingError as exc:
                LOGGER.warning("%s: no TID 1500 report: %s", result.algorithm_id, exc)
            else:
                outputs.append(OutputObject("tid1500", str(report.SOPInstanceUID), report))
    return outputs
