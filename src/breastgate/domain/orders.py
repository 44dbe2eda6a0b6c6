"""Orders and patient demographics as the RIS sends them (HL7 v2 ORM/OMI/ADT), read into plain types.

These are what :mod:`breastgate.hl7.codec` extracts from a message and what the order store keeps.
Field names follow the HL7 or DICOM names they come from (snake case); dates are kept as the
HL7/DICOM strings (``YYYYMMDD[HHMM[SS]]``) they arrived as, never re-interpreted in a time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrderControl(StrEnum):
    """ORC-1 order control codes the gateway acts on (HL7 table 0119)."""

    NEW = "NW"
    CHANGE = "XO"
    CANCEL = "CA"
    DISCONTINUE = "DC"
    STATUS_CHANGED = "SC"
    ORDER_CANCELLED = "OC"  # the filler cancelled it
    ORDER_DISCONTINUED = "OD"
    HOLD = "HD"
    RELEASE = "RL"


#: Order controls after which the order is no longer expected to produce images.
ENDING_CONTROLS = frozenset(
    {
        OrderControl.CANCEL,
        OrderControl.DISCONTINUE,
        OrderControl.ORDER_CANCELLED,
        OrderControl.ORDER_DISCONTINUED,
    }
)


@dataclass(frozen=True)
class PatientDemographics:
    """PID: who the patient is (PID-3 the identifier the studies carry as Patient ID)."""

    patient_id: str
    issuer: str | None = None
    name: str | None = None  # DICOM PN form, family^given^middle^prefix^suffix
    birth_date: str | None = None  # YYYYMMDD
    sex: str | None = None  # F | M | O | U (HL7 table 0001)


@dataclass(frozen=True)
class Order:
    """One imaging order (ORC + OBR, and IPC/TQ1/ZDS when present).

    ``accession_number`` links the order to its study (DESIGN §4); ``study_instance_uid`` is set
    when the RIS assigned it (ZDS-1 or IPC-3). ``priority`` is the table 0027 code (S, A, R, P, T)
    from ORC-7/OBR-27 component 6 or TQ1-9; ``scheduled`` the requested/scheduled date-time.
    """

    patient: PatientDemographics
    control: str
    accession_number: str | None = None
    placer_order_number: str | None = None
    filler_order_number: str | None = None
    requested_procedure_id: str | None = None
    procedure_code: str | None = None
    procedure_text: str | None = None
    modality: str | None = None
    scheduled: str | None = None
    priority: str | None = None
    study_instance_uid: str | None = None
    status: str | None = None  # ORC-5 (table 0038)
    reason: str | None = None  # OBR-31 reason for study, text only

    @property
    def scheduled_date(self) -> str | None:
        """YYYYMMDD of :attr:`scheduled`, used by the patient + date + modality fallback match."""
        return self.scheduled[:8] if self.scheduled and len(self.scheduled) >= 8 else None

    @property
    def key(self) -> str | None:
        """What identifies the order across its updates: placer order number, else accession."""
        return self.placer_order_number or self.accession_number


@dataclass(frozen=True)
class PatientMerge:
    """ADT^A40: the records of ``prior_patient_id`` (MRG-1) now belong to ``patient`` (PID-3)."""

    patient: PatientDemographics
    prior_patient_id: str
