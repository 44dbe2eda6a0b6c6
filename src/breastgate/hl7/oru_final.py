"""ORU^R01 of a report a radiologist confirmed: the final result, in the radiologist's name.

The AI's own ORU (:mod:`breastgate.hl7.oru`) is preliminary (``P``). When a radiologist confirms
the draft, the RIS gets this one for the same order, with result status ``F`` (final) in OBR-25
and every OBX-11, the radiologist in OBR-32 (principal result interpreter), and

====  =====  ===========================================================================
OBX   type   content (OBX-3 code ^ text ^ ``99BG``)
====  =====  ===========================================================================
1     CWE    ``BIRADS`` the confirmed assessment category 0-6 ^ its BI-RADS name
2     TX     ``RECOMMENDATION`` the category's BI-RADS management phrase
3     CWE    ``DENSITY`` the confirmed composition a-d with its regulatory sentence
4     CWE    ``BIRADS_AI`` / ``DENSITY_AI`` the AI's draft values, for comparison
5     TX     ``NOTE`` the radiologist's note (when given)
6     TX     ``REPORT`` the draft report text, one repetition per line (when given)
====  =====  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from breastgate.domain.density import density_sentence
from breastgate.domain.report import BIRADS_CATEGORIES
from breastgate.hl7.oru import (
    CODING_SYSTEM,
    MessageParties,
    StudyOrderRef,
    _e,
    _msh,
    _pid,
    _segment,
    order_group,
)


@dataclass(frozen=True)
class ConfirmedReport:
    """What the radiologist confirmed, and the AI draft beside it."""

    radiologist: str
    confirmed_at: datetime
    birads: str | None
    density: str | None
    ai_birads: str | None = None
    ai_density: str | None = None
    note: str | None = None
    report_lines: Sequence[str] = ()


def _cwe(code: str, text: str) -> str:
    return f"{_e(code)}^{_e(text)}^{CODING_SYSTEM}"


def _rows(report: ConfirmedReport) -> list[tuple[str, str, str, str]]:
    """(type, code, text, value) of each OBX."""
    rows: list[tuple[str, str, str, str]] = []
    if report.birads is not None:
        name, management = BIRADS_CATEGORIES[report.birads]
        rows.append(
            ("CWE", "BIRADS", "BI-RADS assessment", _cwe(report.birads, f"BI-RADS {report.birads} {name}"))
        )
        rows.append(("TX", "RECOMMENDATION", "Recommendation", _e(management)))
    if report.density is not None:
        sentence = density_sentence(report.density)
        rows.append(("CWE", "DENSITY", "Breast density (BI-RADS 5th ed.)", _cwe(report.density, sentence)))
    if report.ai_birads is not None:
        ai = _cwe(report.ai_birads, f"BI-RADS {report.ai_birads}")
        rows.append(("CWE", "BIRADS_AI", "BI-RADS assessment (AI draft)", ai))
    if report.ai_density is not None:
        rows.append(
            ("CWE", "DENSITY_AI", "Breast density (AI draft)", _cwe(report.ai_density, report.ai_density))
        )
    if report.note:
        rows.append(("TX", "NOTE", "Radiologist's note", _e(report.note)))
    if report.report_lines:
        rows.append(("TX", "REPORT", "Report", "~".join(_e(line) for line in report.report_lines)))
    return rows


def build_confirmed_oru(
    ref: StudyOrderRef,
    report: ConfirmedReport,
    *,
    control_id: str,
    parties: MessageParties | None = None,
) -> str:
    """ORU^R01 v2.5.1, result status final, of the report ``report.radiologist`` confirmed."""
    parties = parties or MessageParties()
    stamp = report.confirmed_at.strftime("%Y%m%d%H%M%S")
    segments = [
        _msh("ORU^R01^ORU_R01", control_id, parties, report.confirmed_at, "2.5.1"),
        _pid(ref.patient),
        *order_group(
            ref,
            stamp,
            status="F",
            service=f"BG-REPORT^Breast imaging report^{CODING_SYSTEM}",
            obr={32: _e(report.radiologist)},
        ),
        f"ZDS|{_e(ref.study_instance_uid)}^BREASTGATE^Application^DICOM",
    ]
    for i, (vtype, code, text, value) in enumerate(_rows(report), start=1):
        fields = {1: str(i), 2: vtype, 3: f"{code}^{text}^{CODING_SYSTEM}", 5: value, 11: "F", 14: stamp}
        segments.append(_segment("OBX", fields))
    return "\r".join(segments) + "\r"
