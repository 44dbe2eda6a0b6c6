"""UPS workitems (DICOM JSON, PS3.18 F.2) of the reading worklist, for UPS-RS (IHE AIW-I style).

Every study on the worklist is one UPS Push workitem: its priority is the worklist priority as
Scheduled Procedure Step Priority (stat HIGH, urgent MEDIUM, routine LOW; dicom-sr.md §6.1), its
state the worklist status, and the AI's finer ordering, which UPS has no attribute for, travels in
the Procedure Step Label and as Scheduled Processing Parameters (score, flags, policy). The
Transaction UID is never returned (PS3.4 CC.2.5.1.3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from breastgate.domain.orders import PatientDemographics
from breastgate.store.orders import OrderInfo, orders_for_studies
from breastgate.store.patients import demographics_for_studies
from breastgate.store.worklist import UPS_PRIORITY, UPS_STATE, WorklistItem

UPS_PUSH_SOP_CLASS = "1.2.840.10008.5.1.4.34.6.1"
GLOBAL_SUBSCRIPTION = "1.2.840.10008.5.1.4.34.5"
FILTERED_GLOBAL_SUBSCRIPTION = "1.2.840.10008.5.1.4.34.5.1"
WORKLIST_LABEL = "breastgate reading worklist (AI-prioritised)"
STATE_BY_UPS = {v: k for k, v in UPS_STATE.items()}
CODING_SCHEME = "99BG"

#: Search keys the workitem search matches on: keyword and tag forms.
SEARCH_KEYS = {
    "ProcedureStepState": "00741000",
    "ScheduledProcedureStepPriority": "00741200",
    "PatientID": "00100020",
    "AccessionNumber": "00080050",
    "StudyInstanceUID": "0020000D",
}


def _v(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)} if values and values[0] not in (None, "") else {"vr": vr}


def _dt(value: datetime) -> str:
    return value.strftime("%Y%m%d%H%M%S")


def _code(value: str, meaning: str) -> dict[str, Any]:
    return {"00080100": _v("SH", value), "00080102": _v("SH", CODING_SCHEME), "00080104": _v("LO", meaning)}


def workitem(session: Session, item: WorklistItem) -> dict[str, Any]:
    """The workitem of one worklist entry, as a DICOM JSON object."""
    (found,) = workitems(session, [item])
    return found


def workitems(session: Session, items: Sequence[WorklistItem]) -> list[dict[str, Any]]:
    """The workitems of worklist entries, in their order (the patients and orders of all of them
    read in one go, not per entry)."""
    uids = [i.study_instance_uid for i in items]
    patients = demographics_for_studies(session, uids)
    orders = orders_for_studies(session, uids)
    return [
        _workitem(
            i, patients.get(i.study_instance_uid), next(iter(orders.get(i.study_instance_uid, ())), None)
        )
        for i in items
    ]


def _workitem(
    item: WorklistItem, patient: PatientDemographics | None, order: OrderInfo | None
) -> dict[str, Any]:
    flags = ", ".join(item.flags) or "none"
    label = f"Read {item.modality or 'MG'} study: AI {item.priority} (score {item.score:.1f}; {flags})"
    request: dict[str, Any] = {
        "0020000D": _v("UI", item.study_instance_uid),
        "00080050": _v("SH", item.accession_number),
    }
    if order is not None:
        request["00401001"] = _v("SH", order.requested_procedure_id)
        request["00402016"] = _v("LO", order.placer_order_number)
    return {
        "00080016": _v("UI", UPS_PUSH_SOP_CLASS),
        "00080018": _v("UI", item.workitem_uid),
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": patient.name}]}
        if patient and patient.name
        else {"vr": "PN"},
        "00100020": _v("LO", patient.patient_id if patient else None),
        "00404005": _v("DT", _dt(item.arrived_at)),
        "00404010": _v("DT", _dt(item.updated_at)),
        "00404041": _v("CS", "READY"),
        "00404021": {"vr": "SQ", "Value": [{"0020000D": _v("UI", item.study_instance_uid)}]},
        "0040A370": {"vr": "SQ", "Value": [request]},
        "00741000": _v("CS", UPS_STATE[item.status]),
        "00741200": _v("CS", UPS_PRIORITY[item.priority]),
        "00741202": _v("LO", WORKLIST_LABEL),
        "00741204": _v("LO", label[:64]),
        "00741210": {
            "vr": "SQ",
            "Value": [
                {
                    "0040A040": _v("CS", "NUMERIC"),
                    "0040A043": {"vr": "SQ", "Value": [_code("TRIAGE_SCORE", "AI triage score")]},
                    "0040A30A": _v("DS", f"{item.score:.1f}"),
                    "004008EA": {
                        "vr": "SQ",
                        "Value": [
                            {
                                "00080100": _v("SH", "1"),
                                "00080102": _v("SH", "UCUM"),
                                "00080104": _v("LO", "no units"),
                            }
                        ],
                    },
                },
                {
                    "0040A040": _v("CS", "TEXT"),
                    "0040A043": {"vr": "SQ", "Value": [_code("TRIAGE_FLAGS", "AI triage flags")]},
                    "0040A160": _v("UT", flags),
                },
                {
                    "0040A040": _v("CS", "TEXT"),
                    "0040A043": {"vr": "SQ", "Value": [_code("TRIAGE_POLICY", "Triage policy")]},
                    "0040A160": _v("UT", item.policy),
                },
            ],
        },
    }


def _value(obj: Mapping[str, Any], tag: str) -> str | None:
    element = obj.get(tag)
    if not element or "Value" not in element or not element["Value"]:
        return None
    value = element["Value"][0]
    return str(value["Alphabetic"]) if isinstance(value, dict) and "Alphabetic" in value else str(value)


def matches(obj: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    """Single-value matching of a workitem against search keys (tag → value); ``*`` wildcards in
    values are honoured as in PS3.4 C.2.2.2.4. Accession Number is matched inside the request."""
    import fnmatch

    for tag, wanted in query.items():
        if tag == "00080050":
            requests = obj.get("0040A370", {}).get("Value", [])
            found = [_value(r, "00080050") for r in requests]
        elif tag == "0020000D":
            found = [_value(r, "0020000D") for r in obj.get("00404021", {}).get("Value", [])]
        else:
            found = [_value(obj, tag)]
        if not any(v is not None and fnmatch.fnmatchcase(v, wanted) for v in found):
            return False
    return True
