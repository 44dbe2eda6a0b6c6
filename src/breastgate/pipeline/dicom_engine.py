"""Composition of :class:`~breastgate.algorithms.engines.dicom_node.DicomNodeEngine` with the
``results`` code it may not import itself: PS3.15 de-identification and re-identification
(:mod:`breastgate.results.deid`) and the Mammography CAD SR decoder
(:mod:`breastgate.results.cad_sr_decode`).

The engine TOML loader (``pipeline/engines.py``) calls :func:`make_dicom_engine` for
``kind = "dicom"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydicom.dataset import Dataset

from breastgate.algorithms.engines.dicom_node import DicomEngineConfig, DicomNodeEngine
from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import DensityAssessment, Finding
from breastgate.results.cad_sr_decode import decode_findings
from breastgate.results.deid import Deidentifier, reidentify

__all__ = ["make_dicom_engine"]


def make_dicom_engine(config: Mapping[str, Any], secret: bytes) -> DicomNodeEngine:
    """A DICOM-node engine from its configuration table (see :meth:`DicomEngineConfig.from_mapping`).

    ``secret`` keys the HMAC of replacement UIDs and pseudonyms: keep it stable (a retried job then
    sends the same UIDs) and out of logs. An empty secret is a :class:`ConfigurationError`.
    """
    if not secret:
        raise ConfigurationError("a DICOM engine needs a de-identification secret")
    deidentifier = Deidentifier(secret)

    def deidentify(dataset: Dataset) -> tuple[Dataset, Mapping[str, str]]:
        done = deidentifier.deidentify(dataset)
        return done.dataset, done.mapping

    def decode(
        dataset: Dataset, scale: tuple[float, float], image_laterality: Mapping[str, str]
    ) -> tuple[tuple[Finding, ...], DensityAssessment | None]:
        decoded = decode_findings(dataset, scale, image_laterality)
        return decoded.findings, decoded.density

    return DicomNodeEngine(
        DicomEngineConfig.from_mapping(config), deidentify=deidentify, reidentify=reidentify, decode=decode
    )
