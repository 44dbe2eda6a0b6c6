"""A woman's lesion table (``breastgate.lesions/1``) as served at
``GET /api/patients/{patient_id}/lesions`` (issue 19; :mod:`breastgate.pipeline.lesions`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from breastgate.pipeline.lesions import SCHEMA
from breastgate.web.api.schemas.base import Number, Schema

__all__ = [
    "Lesion",
    "LesionFinding",
    "LesionLink",
    "LesionStudy",
    "LesionTable",
    "LinkEvidence",
    "UnplacedFinding",
]


class LesionStudy(Schema):
    """One study of the woman whose results were read."""

    study_instance_uid: str
    study_date: str | None = Field(description="YYYYMMDD")
    modalities: list[str] = Field(description="Modalities of the study's instances")
    algorithms: list[str] = Field(description="id@version of the results read (as the results route shows)")


class LesionFinding(Schema):
    """One finding of one study, as its results document gives it."""

    study_instance_uid: str
    study_date: str | None
    modality: str = Field(description="MG | DBT | US | MR: what it was seen on")
    finding_id: str = Field(description="The finding's id in the study's results JSON")
    kind: str
    algorithm: str
    clock: Number | None = Field(description="Clock position 1-12, facing the patient")
    distance_from_nipple_mm: Number | None
    depth: str | None = Field(description="anterior | middle | posterior")
    size_mm: Number | None


class UnplacedFinding(LesionFinding):
    """A shown finding that could not be placed in the breast frame, and why."""

    laterality: str | None
    reason: str


class LinkEvidence(Schema):
    """Why two findings of different studies were taken as one lesion."""

    frame_distance_mm: Number = Field(description="Between their points in the coronal breast frame")
    normalised_distance: Number = Field(description="The same in combined standard deviations")
    size_ratio: Number | None = Field(description="Larger over smaller size; null when a size is unknown")
    size_z: Number | None = Field(description="Log size ratio in combined standard deviations")
    kinds: list[str]
    modalities: list[str]
    days_apart: int | None


class LesionLink(Schema):
    """A link between two findings, each as ``<study_instance_uid>/<finding_id>`` (``a`` the earlier)."""

    a: str
    b: str
    evidence: LinkEvidence


class Lesion(Schema):
    """One lesion of one breast: its findings by date, and the links that joined them."""

    id: str
    laterality: Literal["L", "R"]
    findings: list[LesionFinding]
    links: list[LesionLink]


class LesionTable(Schema):
    """The woman's lesions across modalities and time; findings that could not be placed apart."""

    schema_: Literal["breastgate.lesions/1"] = Field(alias="schema", description=SCHEMA)
    patient_id: str = Field(description="The surviving id when the asked one was merged")
    studies: list[LesionStudy]
    lesions: list[Lesion]
    unplaced: list[UnplacedFinding]
