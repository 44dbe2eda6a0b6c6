"""Prior studies for the pre-fetch tests: phantom MG studies of one patient, dated in the past,
uploaded to an Orthanc stand-in PACS through its REST API (``POST /instances``)."""

from __future__ import annotations

import io

import httpx
import pydicom

from breastgate.phantoms import generate_mg_study
from tests.support.orthanc import OrthancServer


def prior_study(seed: int, patient_id: str, study_date: str) -> list[pydicom.Dataset]:
    """A 4-view MG phantom study of ``patient_id`` dated ``study_date`` (its own Study UID, accession)."""
    study = generate_mg_study(seed, patient_id=patient_id)
    for ds in study.datasets:
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = study_date
        ds.AccessionNumber = f"PR{seed:08d}"
    return study.datasets


def upload(pacs: OrthancServer, datasets: list[pydicom.Dataset]) -> None:
    """Store the datasets in Orthanc (REST; no DICOM association needed)."""
    with httpx.Client(base_url=pacs.url, timeout=60.0) as client:
        for ds in datasets:
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            client.post("/instances", content=buffer.getvalue()).raise_for_status()
