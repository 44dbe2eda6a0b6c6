"""Orders, patients and HL7 message log: repository functions over a SQLAlchemy ``Session``.

Matching an order to its study (DESIGN §4: the accession number links them), whichever arrives
first: the Study Instance UID the RIS assigned (ZDS-1/IPC-3), else the accession number, else
(only when one side has no accession number) the same patient, date and modality when exactly one
study and one order fit. The caller owns the transaction; these functions never commit.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from breastgate.domain.errors import ConfigurationError
from breastgate.domain.orders import ENDING_CONTROLS, Order, PatientDemographics, PatientMerge
from breastgate.store.tables import Hl7Message as Hl7MessageRow
from breastgate.store.tables import ImagingOrder, Instance, Patient, Study

LOGGER = logging.getLogger(__name__)

# Core tables and statements of the per-message path, built once (values come as parameters).
_STUDY = cast(Table, Study.__table__)
_ORDER = cast(Table, ImagingOrder.__table__)
_INSTANCE = cast(Table, Instance.__table__)
_MESSAGE = cast(Table, Hl7MessageRow.__table__)
_STUDY_BY_UID = select(_STUDY.c.study_instance_uid).where(_STUDY.c.study_instance_uid == bindparam("uid"))
_STUDIES_BY_ACCESSION = (
    select(_STUDY.c.study_instance_uid).where(_STUDY.c.accession_number == bindparam("accession")).limit(2)
)
_STUDIES_BY_PATIENT_DATE = select(_STUDY.c.study_instance_uid, _STUDY.c.accession_number).where(
    _STUDY.c.patient_id == bindparam("patient_id"), _STUDY.c.study_date == bindparam("date")
)
_STUDY_MODALITIES = (
    select(_INSTANCE.c.modality).where(_INSTANCE.c.study_instance_uid == bindparam("uid")).distinct()
)
_ORDER_FOR_STUDY = select(exists().where(_ORDER.c.study_instance_uid == bindparam("uid")))
_LINK_ORDER = (
    update(_ORDER)
    .where(_ORDER.c.id == bindparam("order_id"))
    .values(study_instance_uid=bindparam("uid"), match_method=bindparam("method"), matched_at=bindparam("at"))
)
_LOG_MESSAGE = insert(_MESSAGE).returning(_MESSAGE.c.id)


#: IN-list size per query (SQLite allows 32 766 bound parameters; PostgreSQL more).
_CHUNK = 500


@dataclass(frozen=True)
class OrderOutcome:
    """What :func:`record_order` did with one order."""

    order_id: int
    created: bool
    active: bool
    study_instance_uid: str | None
    match_method: str | None


@dataclass(frozen=True)
class MergeOutcome:
    """What :func:`merge_patients` moved."""

    studies: int
    orders: int
    linked: int


@dataclass(frozen=True)
class OrderInfo:
    """An order as the API and the worklist read it."""

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


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


_ORDER_FIELDS = (
    "accession_number",
    "placer_order_number",
    "filler_order_number",
    "requested_procedure_id",
    "procedure_code",
    "procedure_text",
    "modality",
    "scheduled",
    "scheduled_date",
    "priority",
    "status",
    "reason",
)


def _dialect(session: Session) -> str:
    dialect = str(session.get_bind().dialect.name)
    if dialect not in ("sqlite", "postgresql"):
        raise ConfigurationError(f"orders need SQLite or PostgreSQL (DESIGN §3), not {dialect}")
    return dialect


_PATIENT_FIELDS = ("issuer", "name", "birth_date", "sex")
_ORDER_ALWAYS = ("patient_id", "control", "active", "updated_at")


@functools.cache
def _patient_upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT for patients, built once (values come as execute parameters)."""
    table = cast(Table, Patient.__table__)
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    keep = {c: func.coalesce(stmt.excluded[c], table.c[c]) for c in _PATIENT_FIELDS}
    return stmt.on_conflict_do_update(
        index_elements=["patient_id"], set_={**keep, "updated_at": stmt.excluded.updated_at}
    )


@functools.cache
def _order_upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (order_key) ... RETURNING for orders, built once."""
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(_ORDER)
    fields = (*_ORDER_FIELDS, "requested_study_uid")
    c = _ORDER.c
    return stmt.on_conflict_do_update(
        index_elements=["order_key"],
        set_={
            **{name: stmt.excluded[name] for name in _ORDER_ALWAYS},
            **{name: func.coalesce(stmt.excluded[name], c[name]) for name in fields},
        },
    ).returning(
        c.id, c.created_at, c.study_instance_uid, c.match_method, c.requested_study_uid, c.accession_number,
        c.patient_id, c.scheduled_date, c.modality,
    )  # fmt: skip


_SQLITE = sqlite.dialect(paramstyle="named")


@functools.cache
def _sqlite_compiled(stmt: Any, keys: tuple[str, ...]) -> Any:
    return stmt.compile(dialect=_SQLITE, column_keys=list(keys))


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy's SQLite types would bind: DateTime as its text format, booleans as 0/1."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def _run(session: Session, stmt: Any, params: dict[str, Any]) -> list[Any]:
    """Execute a prepared Core statement; returns its rows (attribute access by column name).

    On SQLite the statement, compiled once, goes straight to the DB-API cursor of the session's
    connection (inside its transaction): SQLAlchemy's execution path costs about 65 µs per
    statement against 2 µs, and this runs five times per HL7 message inside the MLLP round trip
    (bench/hl7_throughput.py). Values are bound as SQLAlchemy's SQLite types would bind them.
    Other databases take SQLAlchemy's path.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        result = connection.execute(stmt, params)
        return list(result) if result.returns_rows else []
    compiled = _sqlite_compiled(stmt, tuple(sorted(params)))
    bound = {k: _sqlite_value(v) for k, v in compiled.construct_params(params).items()}
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), bound)
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        return [_Row(zip(names, values, strict=True)) for values in cursor.fetchall()]
    finally:
        cursor.close()


class _Row(dict[str, Any]):
    """A result row read by column name (``row.id``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def upsert_patient(session: Session, patient: PatientDemographics, *, now: datetime | None = None) -> None:
    """Create or update the patient; empty fields never erase known ones (one INSERT ... ON CONFLICT)."""
    _run(
        session,
        _patient_upsert(_dialect(session)),
        {
            "patient_id": patient.patient_id,
            "issuer": patient.issuer or None,
            "name": patient.name or None,
            "birth_date": patient.birth_date or None,
            "sex": patient.sex or None,
            "merged_into": None,
            "updated_at": _now(now),
        },
    )


def record_order(session: Session, order: Order, *, now: datetime | None = None) -> OrderOutcome:
    """Create or update the order named by ``order.key`` and match it to its study when it can.

    Written as prepared SQL statements rather than ORM units of work: this runs once per HL7
    message, inside the MLLP round trip (bench/hl7_throughput.py)."""
    key = order.key
    if not key:  # ingest.hl7 refuses such orders; keep the repository safe on its own
        raise ValueError("an order needs a placer order number or an accession number")
    now = _now(now)
    upsert_patient(session, order.patient, now=now)
    active = order.control not in ENDING_CONTROLS and order.status not in ("CA", "DC")
    params: dict[str, Any] = {name: (getattr(order, name) or None) for name in _ORDER_FIELDS}
    params.update(
        order_key=key,
        requested_study_uid=order.study_instance_uid or None,
        patient_id=order.patient.patient_id,
        control=order.control,
        active=active,
        created_at=now,
        updated_at=now,
        study_instance_uid=None,
        match_method=None,
        matched_at=None,
    )
    (row,) = _run(session, _order_upsert(_dialect(session)), params)
    created_at = row.created_at
    if isinstance(created_at, str):  # the SQLite fast path returns the stored text
        created_at = datetime.fromisoformat(created_at)
    created = _as_utc(created_at) == now
    study_uid, method = row.study_instance_uid, row.match_method
    if active and study_uid is None:
        found = _find_study(
            session, row.id, row.requested_study_uid, row.accession_number, row.patient_id,
            row.scheduled_date, row.modality,
        )  # fmt: skip
        if found is not None:
            study_uid, method = found
            _run(session, _LINK_ORDER, {"order_id": row.id, "uid": study_uid, "method": method, "at": now})
            LOGGER.info("order %d matched to study %s by %s", row.id, study_uid, method)
    return OrderOutcome(row.id, created, active, study_uid, method)


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _study_modalities(session: Session, study_uid: str) -> set[str]:
    return {m for m in session.connection().execute(_STUDY_MODALITIES, {"uid": study_uid}).scalars() if m}


def _link(row: ImagingOrder, study_uid: str, method: str, now: datetime) -> None:
    row.study_instance_uid = study_uid
    row.match_method = method
    row.matched_at = now
    LOGGER.info("order %d matched to study %s by %s", row.id, study_uid, method)


def _find_study(
    session: Session,
    order_id: int,
    requested_uid: str | None,
    accession: str | None,
    patient_id: str,
    scheduled_date: str | None,
    modality: str | None,
) -> tuple[str, str] | None:
    """The study an order names: (study uid, match method), or None."""
    if requested_uid and _run(session, _STUDY_BY_UID, {"uid": requested_uid}):
        return requested_uid, "study_uid"
    if accession:
        studies = [
            r.study_instance_uid for r in _run(session, _STUDIES_BY_ACCESSION, {"accession": accession})
        ]
        if len(studies) == 1:
            return studies[0], "accession"
        if len(studies) > 1:
            LOGGER.warning("order %d: several studies share its accession number; not matched", order_id)
            return None
    if not (scheduled_date and modality):
        return None
    candidates = _run(session, _STUDIES_BY_PATIENT_DATE, {"patient_id": patient_id, "date": scheduled_date})
    fits = [
        row.study_instance_uid
        for row in candidates
        if (not accession or not row.accession_number)
        and modality in _study_modalities(session, row.study_instance_uid)
        and not session.connection().execute(_ORDER_FOR_STUDY, {"uid": row.study_instance_uid}).scalar()
    ]
    return (fits[0], "patient_date_modality") if len(fits) == 1 else None


def _match_order(session: Session, row: ImagingOrder, now: datetime) -> None:
    found = _find_study(
        session, row.id, row.requested_study_uid, row.accession_number, row.patient_id, row.scheduled_date,
        row.modality,
    )  # fmt: skip
    if found is not None:
        _link(row, found[0], found[1], now)


def link_study(session: Session, study_uid: str, *, now: datetime | None = None) -> list[int]:
    """Match the active, unmatched orders that name this study; returns the order ids matched."""
    now = _now(now)
    study = session.get(Study, study_uid)
    if study is None:
        return []
    open_orders = select(ImagingOrder).where(
        ImagingOrder.active.is_(True), ImagingOrder.study_instance_uid.is_(None)
    )
    rows = list(session.scalars(open_orders.where(ImagingOrder.requested_study_uid == study_uid)).all())
    method = "study_uid"
    if not rows and study.accession_number:
        rows = list(
            session.scalars(open_orders.where(ImagingOrder.accession_number == study.accession_number))
        )
        method = "accession"
    if not rows and study.patient_id and study.study_date:
        modalities = _study_modalities(session, study_uid)
        fits = [
            r
            for r in session.scalars(
                open_orders.where(
                    ImagingOrder.patient_id == study.patient_id,
                    ImagingOrder.scheduled_date == study.study_date,
                )
            )
            if r.modality in modalities and (not r.accession_number or not study.accession_number)
        ]
        if len(fits) == 1:
            rows, method = fits, "patient_date_modality"
    for row in rows:
        _link(row, study_uid, method, now)
    return [r.id for r in rows]


def merge_patients(session: Session, merge: PatientMerge, *, now: datetime | None = None) -> MergeOutcome:
    """ADT^A40: move the prior id's studies and orders to the surviving patient, then re-match."""
    now = _now(now)
    survivor, prior = merge.patient.patient_id, merge.prior_patient_id
    upsert_patient(session, merge.patient, now=now)
    old = session.get(Patient, prior)
    if old is None:
        old = Patient(patient_id=prior)
        session.add(old)
    old.merged_into = survivor
    old.updated_at = now
    session.execute(update(Patient).where(Patient.merged_into == prior).values(merged_into=survivor))
    studies = session.execute(update(Study).where(Study.patient_id == prior).values(patient_id=survivor))
    orders = session.execute(
        update(ImagingOrder)
        .where(ImagingOrder.patient_id == prior)
        .values(patient_id=survivor, updated_at=now)
    )
    session.flush()
    linked = 0
    for row in session.scalars(
        select(ImagingOrder).where(
            ImagingOrder.patient_id == survivor,
            ImagingOrder.active.is_(True),
            ImagingOrder.study_instance_uid.is_(None),
        )
    ).all():
        _match_order(session, row, now)
        linked += row.study_instance_uid is not None
    return MergeOutcome(studies.rowcount or 0, orders.rowcount or 0, linked)  # type: ignore[attr-defined]


def _info(row: ImagingOrder) -> OrderInfo:
    return OrderInfo(
        id=row.id,
        accession_number=row.accession_number,
        placer_order_number=row.placer_order_number,
        patient_id=row.patient_id,
        control=row.control,
        filler_order_number=row.filler_order_number,
        requested_procedure_id=row.requested_procedure_id,
        status=row.status,
        active=row.active,
        procedure_code=row.procedure_code,
        procedure_text=row.procedure_text,
        modality=row.modality,
        scheduled=row.scheduled,
        priority=row.priority,
        study_instance_uid=row.study_instance_uid,
        match_method=row.match_method,
    )


def orders_for_study(session: Session, study_uid: str) -> list[OrderInfo]:
    """The orders matched to a study, oldest first."""
    rows = session.scalars(
        select(ImagingOrder).where(ImagingOrder.study_instance_uid == study_uid).order_by(ImagingOrder.id)
    ).all()
    return [_info(r) for r in rows]


def orders_for_studies(session: Session, study_uids: Collection[str]) -> dict[str, list[OrderInfo]]:
    """:func:`orders_for_study` of many studies in one query (studies without orders are absent)."""
    out: dict[str, list[OrderInfo]] = {}
    uids = sorted(set(study_uids))
    for start in range(0, len(uids), _CHUNK):
        rows = session.scalars(
            select(ImagingOrder)
            .where(ImagingOrder.study_instance_uid.in_(uids[start : start + _CHUNK]))
            .order_by(ImagingOrder.id)
        )
        for row in rows:
            out.setdefault(str(row.study_instance_uid), []).append(_info(row))
    return out


def find_orders(
    session: Session, *, accession_number: str | None = None, patient_id: str | None = None, limit: int = 100
) -> list[OrderInfo]:
    """Orders by accession number and/or patient id, newest first."""
    query = select(ImagingOrder).order_by(ImagingOrder.id.desc()).limit(limit)
    if accession_number:
        query = query.where(ImagingOrder.accession_number == accession_number)
    if patient_id:
        query = query.where(ImagingOrder.patient_id == patient_id)
    return [_info(r) for r in session.scalars(query).all()]


@dataclass(frozen=True)
class MessageLogEntry:
    """One received HL7 message and its answer (what :func:`log_message` writes)."""

    control_id: str | None
    sending_application: str | None
    sending_facility: str | None
    message_type: str | None
    version: str | None
    ack_code: str
    error_code: str | None
    error_text: str | None
    text: str


def log_message(session: Session, entry: MessageLogEntry, *, now: datetime | None = None) -> int:
    """Keep the received message and how it was answered (one INSERT)."""

    def clip(value: str | None, size: int) -> str | None:
        return value[:size] if value else None

    params = {
        "received_at": _now(now),
        "control_id": clip(entry.control_id, 199),
        "sending_application": clip(entry.sending_application, 227),
        "sending_facility": clip(entry.sending_facility, 227),
        "message_type": clip(entry.message_type, 16),
        "version": clip(entry.version, 16),
        "ack_code": entry.ack_code,
        "error_code": entry.error_code,
        "error_text": entry.error_text,
        "text": entry.text,
    }
    (row,) = _run(session, _LOG_MESSAGE, params)
    return int(row.id)
