"""Tables (singular snake_case, UTC timestamps ending in ``_at``).

The schema is owned by Alembic (``store/migrations``); these declarations are the source
the migrations were written from.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


UtcDateTime = DateTime(timezone=True)


class Study(Base):
    """A study as assembled from received instances."""

    __tablename__ = "study"

    study_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str | None] = mapped_column(String(64))
    patient_name: Mapped[str | None] = mapped_column(String(324))
    accession_number: Mapped[str | None] = mapped_column(String(16), index=True)
    study_date: Mapped[str | None] = mapped_column(String(8))
    patient_age: Mapped[int | None] = mapped_column(Integer)  # whole years at the study date
    #: Issuer of Patient ID (0010,0021): the namespace of ``patient_id`` when the images carry one.
    issuer_of_patient_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="receiving")
    generation: Mapped[int] = mapped_column(Integer, default=1)
    instance_count: Mapped[int] = mapped_column(Integer, default=0)
    first_received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    stable_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_study_state_last_received_at", "state", "last_received_at"),
        Index("ix_study_patient_id_study_date", "patient_id", "study_date"),
    )


class Instance(Base):
    """One stored SOP instance and what routing needs to know about it."""

    __tablename__ = "instance"

    sop_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(
        String(64), ForeignKey("study.study_instance_uid"), index=True
    )
    series_instance_uid: Mapped[str] = mapped_column(String(64))
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    modality: Mapped[str | None] = mapped_column(String(16))
    laterality: Mapped[str | None] = mapped_column(String(1))
    view: Mapped[str | None] = mapped_column(String(16))
    presentation_intent: Mapped[str | None] = mapped_column(String(16))
    transfer_syntax_uid: Mapped[str | None] = mapped_column(String(64))
    number_of_frames: Mapped[int] = mapped_column(Integer, default=1)
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    calling_ae: Mapped[str | None] = mapped_column(String(16))
    manufacturer: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))  # Manufacturer's Model Name
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Job(Base):
    """Job ledger: one row per (study, algorithm). The queue only carries job ids."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), ForeignKey("study.study_instance_uid"))
    algorithm_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    generation: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("study_instance_uid", "algorithm_id", name="uq_job_study_algorithm"),
        Index("ix_job_state_lease_expires_at", "state", "lease_expires_at"),
    )


class Result(Base):
    """The latest result of an algorithm on a study (results JSON fragment per algorithm)."""

    __tablename__ = "result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), ForeignKey("study.study_instance_uid"))
    algorithm_id: Mapped[str] = mapped_column(String(64))
    algorithm_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("study_instance_uid", "algorithm_id", name="uq_result_study_algorithm"),
        Index(
            "ix_result_algorithm_id_algorithm_version_created_at",
            "algorithm_id",
            "algorithm_version",
            "created_at",
        ),
    )


class ResultHistory(Base):
    """Every algorithm version's result on a study (the latest save of each version).

    ``result`` holds only the newest version per (study, algorithm); this table keeps one row per
    (study, algorithm, version), so two versions run on the same studies can be compared.
    """

    __tablename__ = "result_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), ForeignKey("study.study_instance_uid"))
    algorithm_id: Mapped[str] = mapped_column(String(64))
    algorithm_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "study_instance_uid", "algorithm_id", "algorithm_version", name="uq_result_history_study_version"
        ),
        Index("ix_result_history_algorithm_version", "algorithm_id", "algorithm_version", "status"),
    )


class OutboxItem(Base):
    """An object owed to a destination. Unique per (destination, SOP Instance UID): exactly once."""

    __tablename__ = "outbox_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    destination: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32), default="dicom")
    sop_instance_uid: Mapped[str] = mapped_column(String(64))
    study_instance_uid: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("destination", "sop_instance_uid", name="uq_outbox_item_destination_sop"),
        Index("ix_outbox_item_state_next_attempt_at", "state", "next_attempt_at"),
    )


class Patient(Base):
    """Demographics from HL7 PID (ADT and orders). ``merged_into`` is set when an A40 retired this id."""

    __tablename__ = "patient"

    patient_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(324))
    birth_date: Mapped[str | None] = mapped_column(String(8))
    sex: Mapped[str | None] = mapped_column(String(1))
    merged_into: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ImagingOrder(Base):
    """An imaging order from the RIS (ORM/OMI), and the study it was matched to.

    ``order_key`` (placer order number, else accession number) is what updates of the same order
    share. ``study_instance_uid`` is the matched study; ``match_method`` says how it was matched:
    ``study_uid`` (ZDS-1/IPC-3), ``accession`` or ``patient_date_modality``.
    """

    __tablename__ = "imaging_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_key: Mapped[str] = mapped_column(String(64), unique=True)
    accession_number: Mapped[str | None] = mapped_column(String(64), index=True)
    placer_order_number: Mapped[str | None] = mapped_column(String(64))
    filler_order_number: Mapped[str | None] = mapped_column(String(64))
    requested_procedure_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(String(64), index=True)
    control: Mapped[str] = mapped_column(String(2))
    status: Mapped[str | None] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(default=True)
    procedure_code: Mapped[str | None] = mapped_column(String(64))
    procedure_text: Mapped[str | None] = mapped_column(String(256))
    modality: Mapped[str | None] = mapped_column(String(16))
    scheduled: Mapped[str | None] = mapped_column(String(26))
    scheduled_date: Mapped[str | None] = mapped_column(String(8))
    priority: Mapped[str | None] = mapped_column(String(1))
    reason: Mapped[str | None] = mapped_column(String(256))
    requested_study_uid: Mapped[str | None] = mapped_column(String(64))
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    match_method: Mapped[str | None] = mapped_column(String(32))
    matched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_imaging_order_patient_id_scheduled_date", "patient_id", "scheduled_date"),)


class Hl7Message(Base):
    """Every HL7 message received (accepted or not) and how it was answered: nothing is lost."""

    __tablename__ = "hl7_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    control_id: Mapped[str | None] = mapped_column(String(199))
    sending_application: Mapped[str | None] = mapped_column(String(227))
    sending_facility: Mapped[str | None] = mapped_column(String(227))
    message_type: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[str | None] = mapped_column(String(16))
    ack_code: Mapped[str] = mapped_column(String(2))
    error_code: Mapped[str | None] = mapped_column(String(8))
    error_text: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)


class WorklistEntry(Base):
    """A study on the reading worklist: its current AI priority, flags and reading status.

    ``queue`` is ``radiologist`` or ``technologist`` (positioning to be repeated); ``status`` is
    ``scheduled`` → ``in_progress`` → ``completed`` (or ``canceled``), the UPS procedure step states.
    """

    __tablename__ = "worklist_entry"

    study_instance_uid: Mapped[str] = mapped_column(
        String(64), ForeignKey("study.study_instance_uid"), primary_key=True
    )
    priority: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)  # 0 stat, 1 urgent, 2 routine: sorts the list
    score: Mapped[float] = mapped_column(default=0.0)
    flags: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    policy: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(16), default="radiologist")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    modality: Mapped[str | None] = mapped_column(String(16))
    accession_number: Mapped[str | None] = mapped_column(String(64))
    arrived_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    workitem_uid: Mapped[str | None] = mapped_column(String(64), unique=True)  # UPS SOP Instance UID
    transaction_uid: Mapped[str | None] = mapped_column(String(64))  # UPS: who claimed it

    __table_args__ = (Index("ix_worklist_entry_rank_arrived_at", "rank", "arrived_at"),)


class WorklistChange(Base):
    """Every change of a study's worklist priority or flags, with the policy version that made it."""

    __tablename__ = "worklist_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    old_priority: Mapped[str | None] = mapped_column(String(16))
    new_priority: Mapped[str] = mapped_column(String(16))
    old_flags: Mapped[str | None] = mapped_column(Text)
    new_flags: Mapped[str] = mapped_column(Text)
    policy: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")


class ReportDraftRow(Base):
    """The AI report draft of a study (latest generation) and the radiologist's confirmation.

    ``status`` is ``draft`` until a radiologist confirms it (``confirmed``); what the radiologist
    decided (category, density) is kept beside what the AI drafted, never over it.
    """

    __tablename__ = "report_draft"

    study_instance_uid: Mapped[str] = mapped_column(
        String(64), ForeignKey("study.study_instance_uid"), primary_key=True
    )
    generation: Mapped[int] = mapped_column(Integer, default=1)
    birads: Mapped[str | None] = mapped_column(String(2))
    density: Mapped[str | None] = mapped_column(String(1))
    text: Mapped[str] = mapped_column(Text)
    draft: Mapped[str] = mapped_column(Text)  # JSON of the ReportDraft
    sr_path: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    confirmed_by: Mapped[str | None] = mapped_column(String(128))
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    confirmed_birads: Mapped[str | None] = mapped_column(String(2))
    confirmed_density: Mapped[str | None] = mapped_column(String(1))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class UpsSubscription(Base):
    """A UPS-RS subscription: an AE title following one workitem, or all (``workitem_uid`` "")."""

    __tablename__ = "ups_subscription"

    ae_title: Mapped[str] = mapped_column(String(16), primary_key=True)
    workitem_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    deletion_lock: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class UpsEvent(Base):
    """A UPS event report owed to subscribers (PS3.4 CC.2.4), read by their notification channels."""

    __tablename__ = "ups_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workitem_uid: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)  # DICOM JSON of the event information
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PriorFetch(Base):
    """A prior pre-fetch owed for an order: ask the PACS for the patient's prior studies, retrieve them.

    Written in the same transaction as the order (so it is never lost), one row per order; a
    worker claims due rows with a lease, like the outbox. ``state`` is ``pending`` → ``done`` (or
    ``failed``, a permanent failure with the reason). ``before_date`` is the order's scheduled date
    (YYYYMMDD; priors are dated before it), or None for "before today".
    """

    __tablename__ = "prior_fetch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("imaging_order.id"), unique=True)
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), unique=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    issuer_of_patient_id: Mapped[str | None] = mapped_column(String(64))
    before_date: Mapped[str | None] = mapped_column(String(8))
    after_date: Mapped[str | None] = mapped_column(String(8))
    modalities: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    studies_found: Mapped[int] = mapped_column(Integer, default=0)
    studies_moved: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_prior_fetch_state_next_attempt_at", "state", "next_attempt_at"),)


class PriorStudy(Base):
    """A study retrieved (or being retrieved) from the PACS as a prior: kept for comparison, not routed.

    The row is written before the C-MOVE is sent, so the study is flagged before its first
    instance arrives; the assembler skips flagged studies (``pipeline.assembly``).
    """

    __tablename__ = "prior_study"

    study_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    fetch_id: Mapped[int] = mapped_column(Integer, ForeignKey("prior_fetch.id"), index=True)
    study_date: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default="requested")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retrieved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditEventRow(Base):
    """One link of the append-only, hash-chained audit trail (``domain.audit``).

    ``at`` and ``data`` are stored as the exact strings that were hashed. ``seq`` is assigned by
    :func:`breastgate.store.audit.append` from the chain head, never by the database.
    """

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain head (one row, ``id`` 1): the last event's sequence number and hash.

    Appenders update it in their own transaction, which serialises them (a row lock on
    PostgreSQL, the write lock on SQLite); ``audit verify`` compares it with the last event.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AlgorithmVersionRow(Base):
    """Registry: every (algorithm, version) the gateway has seen, with its manifest and availability."""

    __tablename__ = "algorithm_version"

    algorithm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    manifest: Mapped[str] = mapped_column(Text)  # JSON
    available: Mapped[bool] = mapped_column(default=True)
    availability: Mapped[str] = mapped_column(Text, default="")
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AlgorithmMode(Base):
    """The mode of an algorithm version at one destination (silent | assistive | integrated).

    ``approval_required``: integrated results wait for a radiologist's approval before they go
    into the permanent record (PACS objects, HL7 results).
    """

    __tablename__ = "algorithm_mode"

    algorithm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    destination: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    approval_required: Mapped[bool] = mapped_column(default=False)
    changed_by: Mapped[str] = mapped_column(String(128))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


class AppUser(Base):
    """A user of the HTTP API and pages: a name, roles (comma-separated), the SHA-256 of their API
    token and the argon2 hash of their password (either may be absent), and sign-in lockout."""

    __tablename__ = "app_user"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: ``local`` (made by ``breastgate users``) or ``oidc`` (first seen signing in through the IdP).
    source: Mapped[str] = mapped_column(String(16), default="local")
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A signed-in browser: the SHA-256 of its cookie, who, with which roles, its CSRF token, and
    when it ends (idle and absolute limits)."""

    __tablename__ = "web_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(128), index=True)
    roles: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FindingFeedback(Base):
    """A radiologist's verdict on one AI finding: accept, reject (reason + text) or modify."""

    __tablename__ = "finding_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), index=True)
    algorithm_id: Mapped[str] = mapped_column(String(64))
    algorithm_version: Mapped[str] = mapped_column(String(32))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    finding_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    modification: Mapped[str | None] = mapped_column(Text)  # JSON: moved/resized mark, category
    user: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Outcome(Base):
    """What became of a study: the radiologist's final BI-RADS, pathology, or a historical import.

    Matched to a study by Study Instance UID or accession number (either may arrive first).
    """

    __tablename__ = "outcome"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))  # hl7 | pathology | csv | api
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    accession_number: Mapped[str | None] = mapped_column(String(64), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(64))
    final_birads: Mapped[str | None] = mapped_column(String(2))
    density: Mapped[str | None] = mapped_column(String(1))
    outcome: Mapped[str | None] = mapped_column(String(16))  # cancer | benign | normal
    laterality: Mapped[str | None] = mapped_column(String(1))
    pathology: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[str | None] = mapped_column(String(26))
    reference: Mapped[str | None] = mapped_column(String(128))  # message control id, CSV line ...
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ResultApproval(Base):
    """A study generation whose integrated results wait for (or received) a radiologist's decision."""

    __tablename__ = "result_approval"

    study_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | withheld
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DriftState(Base):
    """The last drift check of one (algorithm version, device): whether it had crossed its threshold.

    An alert is raised when a check crosses and the stored one had not; keeping this in the
    database means restarts and several gateway processes raise each alert once.
    """

    __tablename__ = "drift_state"

    algorithm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    device: Mapped[str] = mapped_column(String(160), primary_key=True)  # "manufacturer / model"
    crossed: Mapped[bool] = mapped_column(default=False)
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    psi: Mapped[float | None] = mapped_column()
    ks_pvalue: Mapped[float | None] = mapped_column()
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    alerted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SectraExam(Base):
    """Sectra's examination number of a study, as its Healthcare Server names it when it asks the
    Data Provider for values (``exam.examNo``); image-level launch strings carry it (``exam_id``)."""

    __tablename__ = "sectra_exam"

    study_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    exam_no: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
