"""HL7 v2 messages in: tolerant parsing (python-hl7), validation of what we depend on, and ACKs.

:func:`read_message` turns the bytes of one MLLP frame into a :class:`Hl7Message` (header plus
orders, demographics or a merge) or raises :class:`Hl7Refused` carrying the ACK code, the table
0357 error code, where the error is and why. :func:`build_ack` writes the ACK (MSA, and ERR when
refused) in the sender's encoding characters and version.

What is tolerated: ``\\n`` or ``\\r\\n`` segment ends, a byte-order mark or blank lines, escape
sequences (unescaped), repetitions (PID-3 takes the MR identifier, else the first), Z-segments
(ignored except ZDS), missing optional fields, versions 2.1-2.8, non-UTF-8 text (read as Latin-1),
``ORM_O01``-style message codes. What is refused: no MSH, a missing control id, an unsupported
message type, event, version or processing id (AR); missing PID/ORC/OBR, PID-3, order numbers, an
unknown order control or a malformed date (AE).

Field positions (IHE RAD-4 / RAD-13 conventions): accession number IPC-1 (OMI), else OBR-18,
else the filler order number (OBR-3/ORC-3); requested procedure id IPC-2 or OBR-19; Study
Instance UID IPC-3 or ZDS-1; modality IPC-5 or OBR-24; priority TQ1-9 or component 6 of
ORC-7/OBR-27 (table 0027); scheduled time TQ1-7, OBR-36, ORC-7.4 or OBR-7.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import hl7

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.orders import (
    Order,
    OrderControl,
    PatientDemographics,
    PatientMerge,
)
from breastgate.domain.outcomes import OutcomeRecord
from breastgate.hl7.outcomes_in import read_oru
from breastgate.hl7.vocab import DEFAULT_SEPARATORS, VERSION, AckCode, Hl7ErrorCode

#: (message code, trigger event) pairs the gateway takes.
SUPPORTED: dict[str, frozenset[str]] = {
    "ORM": frozenset({"O01"}),
    "OMI": frozenset({"O23"}),
    "ADT": frozenset({"A01", "A04", "A08", "A40"}),
    "ORU": frozenset({"R01"}),
}
_TS = re.compile(r"^\d{8}(\d{2}(\d{2}(\d{2}(\.\d{1,4})?)?)?)?([+-]\d{4})?$")
_PRIORITY_WORDS = {"STAT": "S", "ASAP": "A", "URGENT": "A", "ROUTINE": "R", "PREOP": "P", "TIMING": "T"}
_PRIORITY_CODES = frozenset({"S", "A", "R", "P", "T", "C"})
_CONTROLS = frozenset(c.value for c in OrderControl)
_READ_SEGMENTS = frozenset({"MSH", "PID", "MRG", "ORC", "OBR", "TQ1", "IPC", "ZDS"})


@dataclass(frozen=True)
class Hl7Header:
    """MSH: who sent what, and how to answer (separators and version are echoed in the ACK)."""

    separators: str  # field separator + encoding characters, e.g. "|^~\\&"
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_code: str
    trigger_event: str
    control_id: str
    processing_id: str
    version: str

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger_event}" if self.trigger_event else self.message_code


#: The header used to answer bytes that carry no readable MSH.
UNKNOWN_HEADER = Hl7Header(DEFAULT_SEPARATORS, "", "", "", "", "", "", "", "P", "2.5.1")


@dataclass(frozen=True)
class Hl7Message:
    """One accepted message: its header, raw text and what it says."""

    header: Hl7Header
    text: str
    orders: tuple[Order, ...] = ()
    patient: PatientDemographics | None = None
    merge: PatientMerge | None = None
    outcomes: tuple[OutcomeRecord, ...] = ()
    note: str = ""


@dataclass
class Hl7Refused(InvalidInputError):
    """The message is refused: ACK ``ack`` with ERR ``code``; ``location`` is (segment, sequence, field)."""

    ack: AckCode
    code: Hl7ErrorCode
    reason: str
    header: Hl7Header = UNKNOWN_HEADER
    location: tuple[str, int, int] | None = None
    text: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        super().__init__(f"{self.ack} {self.code} {self.reason}")


def decode(data: bytes) -> str:
    """UTF-8 when it decodes, else Latin-1 (ISO 8859-1 is HL7's most common non-ASCII set)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def normalise(text: str) -> str:
    """Segments ended by ``\\r`` only; BOM, surrounding whitespace and blank lines removed."""
    text = text.lstrip("\ufeff \t\r\n\x00").replace("\r\n", "\r").replace("\n", "\r")
    return "\r".join(seg.rstrip() for seg in text.split("\r") if seg.strip())


def _get(segment: hl7.Segment, field_num: int, component: int = 1, repeat: int = 1) -> str:
    """One component of one field, unescaped; empty when absent."""
    try:
        value = segment.extract_field(field_num=field_num, repeat_num=repeat, component_num=component)
    except (IndexError, KeyError):
        return ""
    return str(value).strip() if value is not None else ""


def _repeats(segment: hl7.Segment, field_num: int) -> int:
    try:
        return max(1, len(segment[field_num]))
    except (IndexError, TypeError):
        return 0


def _header(message: hl7.Message, text: str) -> Hl7Header:
    msh = message.segment("MSH")
    separators = text[3:8] if len(text) >= 8 else DEFAULT_SEPARATORS
    code, trigger = _get(msh, 9, 1).upper(), _get(msh, 9, 2).upper()
    if "_" in code and not trigger:  # "ORM_O01" dialect
        code, trigger = code.split("_", 1)
    return Hl7Header(
        separators=separators,
        sending_application=_get(msh, 3),
        sending_facility=_get(msh, 4),
        receiving_application=_get(msh, 5),
        receiving_facility=_get(msh, 6),
        message_code=code,
        trigger_event=trigger,
        control_id=_get(msh, 10),
        processing_id=_get(msh, 11).upper(),
        version=_get(msh, 12),
    )


def read_message(data: bytes, *, processing_ids: frozenset[str] = frozenset({"P"})) -> Hl7Message:
    """Parse and validate one message (the bytes inside an MLLP frame)."""
    text = normalise(decode(data))
    if not text.startswith("MSH") or len(text) < 8:
        raise Hl7Refused(AckCode.REJECT, Hl7ErrorCode.SEGMENT_SEQUENCE, "no MSH segment", text=text)
    try:
        # Only the segments read below are parsed (PV1, NTE, OBX, IN1 ... can be long); the full
        # text is what gets stored.
        first = text.split("\r", 1)[0]
        wanted = _READ_SEGMENTS | {"OBX"} if "ORU" in first else _READ_SEGMENTS
        message = hl7.parse("\r".join(seg for seg in text.split("\r") if seg[:3] in wanted))
        header = _header(message, text)
    except Exception as exc:  # python-hl7 raises bare errors on malformed separators
        raise Hl7Refused(
            AckCode.REJECT, Hl7ErrorCode.SEGMENT_SEQUENCE, f"unreadable MSH ({type(exc).__name__})", text=text
        ) from None
    if not header.control_id:
        raise Hl7Refused(
            AckCode.REJECT,
            Hl7ErrorCode.REQUIRED_FIELD_MISSING,
            "MSH-10 (message control id) is empty",
            header,
            ("MSH", 1, 10),
            text,
        )
    version = header.version or "2.3"
    if not VERSION.match(version):
        raise Hl7Refused(
            AckCode.REJECT,
            Hl7ErrorCode.UNSUPPORTED_VERSION,
            f"version {version[:16]!r} is not HL7 v2.1-2.8",
            header,
            ("MSH", 1, 12),
            text,
        )
    if header.processing_id not in processing_ids:
        accepted = "/".join(sorted(processing_ids))
        raise Hl7Refused(
            AckCode.REJECT,
            Hl7ErrorCode.UNSUPPORTED_PROCESSING_ID,
            f"processing id {header.processing_id[:8]!r} is not accepted (only {accepted})",
            header,
            ("MSH", 1, 11),
            text,
        )
    events = SUPPORTED.get(header.message_code)
    if events is None:
        raise Hl7Refused(
            AckCode.REJECT,
            Hl7ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
            f"message type {header.message_code[:8]!r} is not taken "
            "(ORM_O01, OMI_O23, ADT_A01/A04/A08/A40, ORU_R01)",
            header,
            ("MSH", 1, 9),
            text,
        )
    if header.trigger_event not in events:
        raise Hl7Refused(
            AckCode.REJECT,
            Hl7ErrorCode.UNSUPPORTED_EVENT,
            f"event {header.message_type[:16]!r} is not taken",
            header,
            ("MSH", 1, 9),
            text,
        )
    segments = [(str(seg[0]).upper(), seg) for seg in message]
    try:
        if header.message_code == "ADT":
            patient = _patient(segments)
            if header.trigger_event == "A40":
                return Hl7Message(header, text, patient=patient, merge=_merge(segments, patient))
            return Hl7Message(header, text, patient=patient)
        if header.message_code == "ORU":
            try:
                outcomes, note = read_oru(segments, header.control_id, header.sending_application)
            except ValueError as exc:
                raise _ContentError(Hl7ErrorCode.REQUIRED_FIELD_MISSING, str(exc), ("OBR", 1, 18)) from None
            except InvalidInputError as exc:
                raise _ContentError(Hl7ErrorCode.DATA_TYPE, str(exc), ("OBX", 1, 5)) from None
            return Hl7Message(header, text, outcomes=tuple(outcomes), note=note)
        return Hl7Message(header, text, orders=_orders(segments, header.message_code == "OMI"))
    except _ContentError as exc:
        raise Hl7Refused(AckCode.ERROR, exc.code, exc.reason, header, exc.location, text) from None


class _ContentError(Exception):
    def __init__(self, code: Hl7ErrorCode, reason: str, location: tuple[str, int, int] | None = None):
        super().__init__(reason)
        self.code, self.reason, self.location = code, reason, location


def _first(segments: Sequence[tuple[str, hl7.Segment]], name: str) -> hl7.Segment | None:
    return next((seg for n, seg in segments if n == name), None)


def _timestamp(value: str, where: tuple[str, int, int]) -> str | None:
    """An HL7 TS/DTM (YYYYMMDD[HH[MM[SS[.S]]]][+ZZZZ]) or None; malformed is a data type error."""
    if not value:
        return None
    if not _TS.match(value):
        raise _ContentError(Hl7ErrorCode.DATA_TYPE, f"{where[0]}-{where[2]} is not an HL7 date/time", where)
    return value


def _patient(segments: Sequence[tuple[str, hl7.Segment]]) -> PatientDemographics:
    pid = _first(segments, "PID")
    if pid is None:
        raise _ContentError(Hl7ErrorCode.SEGMENT_SEQUENCE, "PID segment missing")
    rep = next((r for r in range(1, _repeats(pid, 3) + 1) if _get(pid, 3, 5, r).upper() == "MR"), 1)
    patient_id = _get(pid, 3, 1, rep) or _get(pid, 2)  # PID-2 (external id) in v2.1-2.3 dialects
    if not patient_id:
        raise _ContentError(
            Hl7ErrorCode.REQUIRED_FIELD_MISSING, "PID-3 (patient identifier) is empty", ("PID", 1, 3)
        )
    names = [_get(pid, 5, c) for c in range(1, 6)]
    name = "^".join(names).rstrip("^") or None
    birth = _timestamp(_get(pid, 7), ("PID", 1, 7))
    sex = _get(pid, 8).upper()[:1] or None
    return PatientDemographics(
        patient_id=patient_id[:64],
        issuer=_get(pid, 3, 4, rep)[:64] or None,
        name=name[:324] if name else None,
        birth_date=birth[:8] if birth else None,
        sex=sex,
    )


def _merge(segments: Sequence[tuple[str, hl7.Segment]], patient: PatientDemographics) -> PatientMerge:
    mrg = _first(segments, "MRG")
    if mrg is None:
        raise _ContentError(Hl7ErrorCode.SEGMENT_SEQUENCE, "ADT^A40 without an MRG segment")
    prior = _get(mrg, 1)
    if not prior:
        raise _ContentError(
            Hl7ErrorCode.REQUIRED_FIELD_MISSING, "MRG-1 (prior patient identifier) is empty", ("MRG", 1, 1)
        )
    if prior == patient.patient_id:
        raise _ContentError(Hl7ErrorCode.DATA_TYPE, "MRG-1 names the surviving patient itself", ("MRG", 1, 1))
    return PatientMerge(patient, prior[:64])


def _priority(value: str) -> str | None:
    value = value.strip().upper()
    if not value:
        return None
    if value in _PRIORITY_CODES:
        return value
    return _PRIORITY_WORDS.get(value)


def _orders(segments: Sequence[tuple[str, hl7.Segment]], omi: bool) -> tuple[Order, ...]:
    patient = _patient(segments)
    groups: list[dict[str, hl7.Segment]] = []
    for name, seg in segments:
        if name == "ORC":
            groups.append({"ORC": seg})
        elif name in ("OBR", "TQ1", "IPC", "ZDS") and groups and name not in groups[-1]:
            groups[-1][name] = seg
        elif name == "OBR":  # an OBR before any ORC
            raise _ContentError(Hl7ErrorCode.SEGMENT_SEQUENCE, "OBR before its ORC")
    if not groups:
        raise _ContentError(Hl7ErrorCode.SEGMENT_SEQUENCE, "no ORC segment")
    return tuple(_order(patient, g, i + 1, omi) for i, g in enumerate(groups))


def _order(patient: PatientDemographics, group: dict[str, hl7.Segment], seq: int, omi: bool) -> Order:
    orc = group["ORC"]
    obr = group.get("OBR")
    if obr is None:
        raise _ContentError(Hl7ErrorCode.SEGMENT_SEQUENCE, f"ORC #{seq} has no OBR")
    control = _get(orc, 1).upper()
    if not control:
        raise _ContentError(
            Hl7ErrorCode.REQUIRED_FIELD_MISSING, "ORC-1 (order control) is empty", ("ORC", seq, 1)
        )
    if control not in _CONTROLS:
        raise _ContentError(
            Hl7ErrorCode.TABLE_VALUE_NOT_FOUND,
            f"ORC-1 {control[:4]!r} is not an order control taken here",
            ("ORC", seq, 1),
        )
    ipc, tq1, zds = group.get("IPC"), group.get("TQ1"), group.get("ZDS")
    placer = _get(orc, 2) or _get(obr, 2)
    filler = _get(orc, 3) or _get(obr, 3)
    accession = (_get(ipc, 1) if ipc is not None else "") or _get(obr, 18) or filler
    if not (accession or placer):
        raise _ContentError(
            Hl7ErrorCode.REQUIRED_FIELD_MISSING,
            "no accession number (IPC-1/OBR-18/OBR-3) and no placer order number",
            ("OBR", seq, 18),
        )
    if omi and ipc is None:
        raise _ContentError(Hl7ErrorCode.SEGMENT_SEQUENCE, f"OMI order #{seq} has no IPC segment")
    scheduled_fields = [
        (_get(tq1, 7) if tq1 is not None else "", ("TQ1", seq, 7)),
        (_get(obr, 36), ("OBR", seq, 36)),
        (_get(orc, 7, 4), ("ORC", seq, 7)),
        (_get(obr, 7), ("OBR", seq, 7)),
    ]
    scheduled = next((_timestamp(v, w) for v, w in scheduled_fields if v), None)
    priority = (
        (_priority(_get(tq1, 9)) if tq1 is not None else None)
        or _priority(_get(orc, 7, 6))
        or _priority(_get(obr, 27, 6))
    )
    study_uid = (_get(ipc, 3) if ipc is not None else "") or (_get(zds, 1) if zds is not None else "")
    modality = (_get(ipc, 5) if ipc is not None else "") or _get(obr, 24)
    return Order(
        patient=patient,
        control=control,
        accession_number=accession[:64] or None,
        placer_order_number=placer[:64] or None,
        filler_order_number=filler[:64] or None,
        requested_procedure_id=((_get(ipc, 2) if ipc is not None else "") or _get(obr, 19))[:64] or None,
        procedure_code=_get(obr, 4, 1)[:64] or None,
        procedure_text=_get(obr, 4, 2)[:256] or None,
        modality=modality.upper()[:16] or None,
        scheduled=scheduled,
        priority=priority,
        study_instance_uid=study_uid[:64] or None,
        status=_get(orc, 5).upper()[:2] or None,
        reason=(_get(obr, 31, 2) or _get(obr, 31, 1))[:256] or None,
    )
