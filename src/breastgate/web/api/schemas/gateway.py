"""Response models of the gateway's own routes: health, studies, orders, report drafts, worklist."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from breastgate.domain.model import JobState
from breastgate.web.api.schemas.base import LaunchLinks, Number, OpenSchema, Schema, Timestamp

__all__ = [
    "ConfirmedReport",
    "DicomListener",
    "DraftAlgorithm",
    "DraftFinding",
    "Health",
    "Hl7Listener",
    "JobSummary",
    "Order",
    "OrderList",
    "Report",
    "ReportDraft",
    "SessionInfo",
    "StudyPage",
    "StudySummary",
    "WorklistChange",
    "WorklistEntry",
    "WorklistEntryWithChanges",
    "WorklistPage",
]


# Health ------------------------------------------------------------------------------------------
class DicomListener(Schema):
    ae_title: str
    port: int | None = Field(description="None when the DICOM listener is not run by this process")


class Hl7Listener(Schema):
    port: int | None


class Health(Schema):
    """``GET /api/health``: the database answers; listeners, job and outbox counts."""

    status: Literal["ok"]
    version: str
    dicom: DicomListener
    hl7: Hl7Listener
    workers_in_process: bool
    jobs: dict[str, int] = Field(description="Jobs per state (states without jobs are absent)")
    outbox: dict[str, int] = Field(description="Outbox items per state")


# Studies -----------------------------------------------------------------------------------------
class JobSummary(Schema):
    """One (study, algorithm) job of the ledger."""

    algorithm_id: str
    state: JobState
    attempts: int
    last_error: str | None


class StudySummary(Schema):
    """One study of ``GET /api/studies`` (no patient identifiers)."""

    study_instance_uid: str
    state: str = Field(description="receiving | stable")
    generation: int
    instance_count: int
    series_count: int
    modalities: list[str]
    accession_number: str | None
    study_date: str | None
    first_received_at: Timestamp
    last_received_at: Timestamp
    stable_at: Timestamp | None
    prior: bool = Field(description="Retrieved from the PACS as a prior for comparison; not analysed")
    jobs: list[JobSummary]


class StudyPage(Schema):
    """``GET /api/studies``: studies, most recently received first."""

    items: list[StudySummary]
    limit: int
    offset: int


# Orders ------------------------------------------------------------------------------------------
class Order(Schema):
    """An imaging order received over HL7 (patient identifiers: reading it is audited)."""

    id: int
    accession_number: str | None
    placer_order_number: str | None
    patient_id: str
    control: str
    filler_order_number: str | None
    requested_procedure_id: str | None
    status: str | None
    active: bool
    procedure_code: str | None
    procedure_text: str | None
    modality: str | None
    scheduled: str | None
    priority: str | None
    study_instance_uid: str | None
    match_method: str | None


class OrderList(Schema):
    items: list[Order]


# Report drafts -----------------------------------------------------------------------------------
class DraftAlgorithm(Schema):
    id: str
    status: str
    version: str


class DraftFinding(OpenSchema):
    """One finding as the draft states it (:class:`breastgate.domain.report.DraftFinding`)."""

    algorithm: str | None = None
    change: str | None = None
    clock: int | None = None
    correspondences: list[str] | None = None
    curve_type: str | None = None
    delayed_phase: str | None = None
    depth: str | None = None
    descriptors: dict[str, str] | None = None
    diameters_mm: list[Number] | None = None
    distance_from_nipple_mm: Number | None = None
    id: str | None = None
    initial_phase: str | None = None
    kind: str | None = None
    laterality: str | None = None
    number: int | None = None
    peak_enhancement_pct: Number | None = None
    prior_date: str | None = None
    prior_size_mm: Number | None = None
    quadrant: str | None = None
    score: Number | None = None
    sentence: str | None = None
    size_change_mm: Number | None = None
    size_mm: Number | None = None


class ReportDraft(OpenSchema):
    """The structured draft as stored (:class:`breastgate.domain.report.ReportDraft`, keys sorted:
    so are the fields here);
    read tolerantly: a draft stored by an older version may lack a newer field."""

    algorithms: list[DraftAlgorithm] | None = None
    birads: str | None = None
    birads_name: str | None = None
    comparison: list[str] | None = None
    composition: str | None = None
    composition_category: str | None = None
    density_change_pp: Number | None = None
    findings: list[DraftFinding] | None = None
    impression: list[str] | None = None
    label: str | None = None
    percent_dense: Number | None = None
    prior_composition_category: str | None = None
    prior_status: str | None = None
    prior_study_dates: list[str] | None = None
    recommendation: str | None = None
    rule: str | None = None
    rules_version: str | None = None
    status: str | None = None
    study_instance_uid: str | None = None


class Report(Schema):
    """``GET /api/studies/{study}/report``: the AI draft and its confirmation state."""

    study_instance_uid: str
    generation: int
    status: str = Field(description="draft | confirmed")
    birads: str | None
    density: str | None
    text: str
    draft: ReportDraft
    created_at: Timestamp
    confirmed_by: str | None
    confirmed_at: Timestamp | None
    confirmed_birads: str | None
    confirmed_density: str | None
    note: str | None
    draft_sr: bool = Field(description="A report SR (series 9904) was made from the draft")


class ConfirmedReport(Report):
    """``POST /api/studies/{study}/report/confirm``: the confirmed report and its density letter."""

    letter: str | None = Field(description="Outbox key of the MQSA density letter, when one is owed")


# Worklist ----------------------------------------------------------------------------------------
class WorklistEntry(Schema):
    """One study on the reading worklist."""

    study_instance_uid: str
    priority: str = Field(description="stat | urgent | routine")
    score: Number
    flags: list[str]
    policy: str
    queue: str = Field(description="radiologist | technologist")
    status: str = Field(description="scheduled | in_progress | completed | canceled")
    modality: str | None
    accession_number: str | None
    arrived_at: Timestamp
    updated_at: Timestamp
    workitem_uid: str | None = Field(description="UPS SOP Instance UID of its workitem")
    launch: LaunchLinks | None = Field(default=None, description="Viewer launch links (Sectra)")


class WorklistPage(Schema):
    """``GET /api/worklist``: priority, then age."""

    items: list[WorklistEntry]
    limit: int
    offset: int


class WorklistChange(Schema):
    """One recorded change of priority or flags, with the policy that made it."""

    at: Timestamp
    old_priority: str | None
    new_priority: str
    old_flags: list[str] | None
    new_flags: list[str]
    policy: str
    reason: str


class WorklistEntryWithChanges(WorklistEntry):
    """``GET /api/worklist/{study}``: the entry and its history."""

    changes: list[WorklistChange]


class SessionInfo(Schema):
    """Who is signed in: ``GET /api/session`` and the answer to a sign-in. ``csrf_token`` (a
    browser session's) goes back in ``X-CSRF-Token`` with every change; ``expires_at`` is the
    session's absolute end (given at sign-in)."""

    user: str
    roles: list[str]
    via: Literal["token", "basic", "password", "oidc"]
    csrf_token: str | None = None
    expires_at: Timestamp | None = None
