"""The final ORU of a confirmed report: status F everywhere, the radiologist in OBR-32, the
confirmed category with its BI-RADS name and management, the AI's draft beside it."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7

from breastgate.domain.orders import PatientDemographics
from breastgate.hl7.oru import MessageParties, StudyOrderRef
from breastgate.hl7.oru_final import ConfirmedReport, build_confirmed_oru

REF = StudyOrderRef(
    study_instance_uid="1.2.3.4",
    patient=PatientDemographics("P7", name="DOE^JANE"),
    accession_number="ACC7",
    placer_order_number="PLC7",
)
AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def _rows(message: hl7.Message) -> dict[str, str]:
    return {str(seg[3][0][0]): str(seg[5]) for seg in message.segments("OBX")}


def test_a_confirmed_category_4_is_final_with_its_name_and_management() -> None:
    report = ConfirmedReport(
        radiologist="dr.one", confirmed_at=AT, birads="4", density="c", ai_birads="0", ai_density="b",
        note="Biopsy | advised", report_lines=("LINE ONE", "LINE TWO"),
    )  # fmt: skip
    message = hl7.parse(build_confirmed_oru(REF, report, control_id="C1", parties=MessageParties("BG")))
    assert message.extract_field("OBR", 1, 25, 1, 1) == "F"
    assert message.extract_field("OBR", 1, 32, 1, 1) == "dr.one"
    assert message.extract_field("OBR", 1, 18, 1, 1) == "ACC7"
    assert message.extract_field("PID", 1, 3, 1, 1) == "P7"
    assert {str(seg[11]) for seg in message.segments("OBX")} == {"F"}
    rows = _rows(message)
    assert rows["BIRADS"] == "4^BI-RADS 4 Suspicious^99BG"
    assert rows["RECOMMENDATION"] == "Tissue diagnosis."
    assert rows["DENSITY"].startswith("c^") and rows["BIRADS_AI"].startswith("0^")
    assert rows["DENSITY_AI"].startswith("b^")
    note = next(seg for seg in message.segments("OBX") if str(seg[3][0][0]) == "NOTE")
    assert message.unescape(str(note[5])) == "Biopsy | advised"  # escaped on the wire
    assert rows["REPORT"].split("~")[0] == "LINE ONE"


def test_only_what_was_confirmed_is_sent() -> None:
    report = ConfirmedReport(radiologist="dr.one", confirmed_at=AT, birads=None, density="a")
    rows = _rows(hl7.parse(build_confirmed_oru(REF, report, control_id="C2")))
    assert set(rows) == {"DENSITY"}
