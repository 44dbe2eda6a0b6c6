"""Prior studies for the pre-fetch tests: phantom MG studies of one patient, dated in the past,
uploaded to an Orthanc stand-in PACS through its REST API (``POST /instances``); a gateway whose
PACS is reached by a given retrieve path (:func:`gateway_with_prior_pacs`); a test-only algorithm
that wants priors (:class:`PriorEcho`)."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pydicom
from pydicom.uid import generate_uid

from breastgate.algorithms.base import Selection
from breastgate.domain.model import (
    PRIOR_STATUS_TEXT,
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    PriorUse,
    StudyRef,
)
from breastgate.phantoms import generate_mg_study
from tests.support.gateway import GatewayProcess
from tests.support.orthanc import OrthancServer


def prior_study(seed: int, patient_id: str, study_date: str, *, shrink: int = 1) -> list[pydicom.Dataset]:
    """A 4-view MG phantom study of ``patient_id`` dated ``study_date`` (its own Study UID, accession).

    ``shrink`` > 1 keeps every ``shrink``-th row and column (and scales Imager Pixel Spacing), so a
    transfer test moves a few hundred kilobytes instead of 130 MB.
    """
    study = generate_mg_study(seed, patient_id=patient_id)
    for ds in study.datasets:
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = study_date
        ds.AccessionNumber = f"PR{seed:08d}"
        if shrink > 1:
            pixels = ds.pixel_array[::shrink, ::shrink].copy()
            ds.Rows, ds.Columns = pixels.shape
            ds.PixelData = pixels.tobytes()
            for keyword in ("ImagerPixelSpacing", "PixelSpacing"):
                if keyword in ds:
                    setattr(ds, keyword, [float(v) * shrink for v in getattr(ds, keyword)])
    return study.datasets


def restamp(
    datasets: list[pydicom.Dataset], patient_id: str, study_date: str, accession: str
) -> list[pydicom.Dataset]:
    """Copies of a study as another examination: new Study, Series and SOP Instance UIDs, the given
    patient, date and accession number (generating a phantom takes seconds; this takes none)."""
    study_uid, series = generate_uid(), {}
    out = []
    for original in datasets:
        ds = copy.deepcopy(original)
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series.setdefault(str(original.SeriesInstanceUID), generate_uid())
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.PatientID, ds.AccessionNumber = patient_id, accession
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = study_date
        out.append(ds)
    return out


def upload(pacs: OrthancServer, datasets: list[pydicom.Dataset]) -> None:
    """Store the datasets in Orthanc (REST; no DICOM association needed)."""
    with httpx.Client(base_url=pacs.url, timeout=60.0) as client:
        for ds in datasets:
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            client.post("/instances", content=buffer.getvalue()).raise_for_status()


# A gateway whose PACS is an Orthanc reached by a given retrieve path ------------------------------
#: The retrieve paths ``BG_PRIOR_RETRIEVE`` offers, as the tests name them.
RETRIEVE_PATHS = ("move", "get", "dicomweb")


def retrieve_setting(pacs: OrthancServer, path: str) -> str:
    """``BG_PRIOR_RETRIEVE`` for ``pacs`` fetched by ``path`` (move / get / dicomweb)."""
    if path == "dicomweb":
        return f"{pacs.aet}=dicomweb:{pacs.dicomweb_url}"
    if path not in RETRIEVE_PATHS:
        raise ValueError(f"retrieve path {path!r} is not one of {', '.join(RETRIEVE_PATHS)}")
    return f"{pacs.aet}={path}"


@contextmanager
def gateway_with_prior_pacs(
    folder: Path, path: str, **env: str
) -> Iterator[tuple[GatewayProcess, OrthancServer]]:
    """A (not yet started) ``breastgate serve`` under ``folder``/gw whose only PACS is an Orthanc under
    ``folder``/orthanc (also not started) and whose priors come by ``path``: ``move`` (the PACS
    knows the gateway's AE as a move destination), ``get`` (C-GET: the PACS does not know the
    gateway at all) or ``dicomweb`` (QIDO-RS + WADO-RS through Orthanc's DICOMweb plugin; the PACS
    still knows the gateway, so results go back by C-STORE). ``env`` adds gateway settings
    (e.g. ``BG_ALGORITHMS``, ``BG_PRIOR_WAIT_SECONDS``). Both stop on exit (Orthanc is killed).

    Usage::

        with gateway_with_prior_pacs(tmp_path, "get", BG_ALGORITHMS="breastgate.compare") as (gw, pacs):
            pacs.start(); upload(pacs, prior_study(1, "P1", "20240101")); gw.start()
            storescu(gw.dicom_port, write_study(current, tmp_path / "current"))
            ... wait_for(results in pacs.find_instances(current_uid, modality="SR")) ...
    """
    gateway = GatewayProcess(folder / "gw", **env)
    known = {} if path == "get" else {"BREASTGATE": ["BREASTGATE", "127.0.0.1", gateway.dicom_port]}
    pacs = OrthancServer(folder / "orthanc", modalities=known, dicomweb=path == "dicomweb")
    gateway.env["BG_PACS"] = pacs.dicom_node
    gateway.env["BG_PRIOR_RETRIEVE"] = retrieve_setting(pacs, path)
    try:
        yield gateway, pacs
    finally:
        gateway.stop()
        pacs.stop(kill=True)  # teardown: a graceful Orthanc stop costs ~3 s and proves nothing here


# A test-only algorithm that reads priors --------------------------------------------------------
class PriorEcho:
    """Wants MG priors (``prior_modalities=("MG",)``) and reports what it was given: the prior
    status and the held priors' Study Instance UIDs (most recent first) as ``AlgorithmResult.priors``.
    Register it explicitly in a :class:`~breastgate.algorithms.registry.Registry`."""

    manifest = AlgorithmManifest(
        id="test.prior_echo",
        version="1.0.0",
        name="Prior echo (tests)",
        intended_use="tests only",
        modalities=("MG",),
        sop_class_uids=(),
        prior_modalities=("MG",),
    )

    def __init__(self) -> None:
        self.seen: list[StudyRef] = []

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        return Selection(study, study.instances)

    def run(self, selection: Selection) -> AlgorithmResult:
        study = selection.study
        self.seen.append(study)
        return AlgorithmResult(
            algorithm_id=self.manifest.id,
            algorithm_version=self.manifest.version,
            study_instance_uid=study.study_instance_uid,
            status=AlgorithmStatus.OK,
            priors=PriorUse(
                study.prior_status,
                tuple(p.study_instance_uid for p in study.priors),
                PRIOR_STATUS_TEXT[study.prior_status],
            ),
        )
