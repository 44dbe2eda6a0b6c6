"""Response models of governance (DESIGN §6): algorithms and modes, feedback, approval, outcomes,
audit."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from breastgate.web.api.schemas.base import Schema, Timestamp

__all__ = [
    "AlgorithmList",
    "AlgorithmVersion",
    "Approval",
    "AuditEvent",
    "AuditEvents",
    "AuditVerification",
    "ChainProblem",
    "DestinationMode",
    "Feedback",
    "FeedbackList",
    "ModeSetting",
    "ModeSettings",
    "Outcome",
    "OutcomeCreated",
    "OutcomesImported",
    "StudyOutcomes",
    "Truth",
]


# Registry and modes ------------------------------------------------------------------------------
class DestinationMode(Schema):
    """The mode of one algorithm version at one destination, and who set it."""

    mode: str = Field(description="silent | assistive | integrated")
    approval_required: bool
    changed_by: str
    changed_at: Timestamp
    reason: str


class AlgorithmVersion(Schema):
    """A registered algorithm version: manifest, availability, modes."""

    id: str
    version: str
    name: str
    manifest: dict[str, Any] = Field(description="The algorithm's manifest (id, version, intended use ...)")
    available: bool
    availability: str = Field(description="What is missing when it is not available")
    first_seen_at: Timestamp
    last_seen_at: Timestamp
    modes: dict[str, DestinationMode] = Field(description="By destination: api, webhook, pacs ...")


class AlgorithmList(Schema):
    """``GET /api/algorithms``."""

    items: list[AlgorithmVersion]


class ModeSetting(Schema):
    destination: str
    mode: str
    approval_required: bool


class ModeSettings(Schema):
    """``PUT /api/algorithms/{id}/versions/{version}/modes/{destination}``: what was set."""

    items: list[ModeSetting]


# Feedback ----------------------------------------------------------------------------------------
class Feedback(Schema):
    """A radiologist's verdict on one AI finding."""

    id: int
    finding_id: str
    algorithm_id: str
    algorithm_version: str
    generation: int
    action: str = Field(description="accept | reject | modify")
    reason: str | None
    comment: str
    modification: dict[str, Any] | None = Field(description="Moved/resized mark or changed category")
    user: str
    at: Timestamp


class FeedbackList(Schema):
    """``GET /api/studies/{study}/feedback``."""

    items: list[Feedback]


# Approval ----------------------------------------------------------------------------------------
class Approval(Schema):
    """Whether the study's results wait for a radiologist before the permanent record.

    Only ``state`` (``not_required``) when no approval was ever asked for; every field otherwise.
    """

    generation: int | None = None
    state: str = Field(description="not_required | pending | approved | withheld")
    decided_by: str | None = None
    decided_at: Timestamp | None = None
    reason: str | None = None
    held_objects: int | None = Field(default=None, description="Outbox items held for the decision")


# Outcomes ----------------------------------------------------------------------------------------
class OutcomeCreated(Schema):
    id: int


class OutcomesImported(Schema):
    imported: int


class Outcome(Schema):
    """One recorded outcome (final category, density, pathology)."""

    source: str
    study_instance_uid: str | None
    accession_number: str | None
    patient_id: str | None
    final_birads: str | None
    density: str | None
    outcome: str | None = Field(description="cancer | benign | normal")
    laterality: str | None
    pathology: str | None
    reported_at: str | None
    reference: str | None


class Truth(Schema):
    """What the metrics use: cancer or not (None when unknown), final category, density."""

    cancer: bool | None
    final_birads: str | None
    density: str | None


class StudyOutcomes(Schema):
    """``GET /api/studies/{study}/outcomes``."""

    items: list[Outcome]
    truth: Truth


# Audit -------------------------------------------------------------------------------------------
class AuditEvent(Schema):
    """One link of the hash chain, as exported."""

    seq: int
    at: str = Field(description="ISO 8601 UTC, exactly as hashed")
    kind: str
    actor: str
    study_instance_uid: str | None
    subject: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditEvents(Schema):
    """``GET /api/audit``."""

    items: list[AuditEvent]


class ChainProblem(Schema):
    seq: int
    problem: str


class AuditVerification(Schema):
    """``GET /api/audit/verify``: the chain checked against its head."""

    ok: bool
    events: int
    problems: list[ChainProblem] = Field(description="The first 100 breaks")
