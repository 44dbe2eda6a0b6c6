"""HL7 profiles: where priority and flags go, read back with python-hl7 and with our own parser."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import hl7
import pytest

from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import CaseAssessment, Priority
from breastgate.hl7.codec import read_message
from breastgate.hl7.oru import build_oru, build_priority_update
from breastgate.hl7.profile import DEFAULT_PROFILE, SECTRA_PROFILE, Hl7Profile, load_profile
from breastgate.runtime.settings import load_settings
from tests.unit.test_hl7_oru import FINDING, NOW, REF, RESULTS, TRIAGE


def _oru(profile: Hl7Profile, links: tuple[tuple[str, str], ...] = ()) -> hl7.Message:
    text = build_oru(
        REF,
        control_id="C1",
        triage=TRIAGE,
        assessment=CaseAssessment(81.5, "0", "Recall (draft)."),
        results=RESULTS,
        findings=[FINDING],
        now=NOW,
        profile=profile,
        links=links,
    )
    return hl7.parse(text)


def _f(segment: hl7.Segment, index: int) -> str:
    """A field as text; empty when the segment ends before it (python-hl7 raises IndexError)."""
    return str(segment[index]) if index < len(segment) else ""


def _obx(message: hl7.Message, code: str) -> list[hl7.Segment]:
    return [s for s in message.segments("OBX") if str(s[3][0][0]) == code]


def test_default_profile_puts_the_priority_in_an_obx_only() -> None:
    message = _oru(DEFAULT_PROFILE)
    assert _f(message.segment("OBR"), 27) == "" and _f(message.segment("ORC"), 7) == ""
    assert not [s for s in message if str(s[0]) == "TQ1"]
    (row,) = _obx(message, "TRIAGE_PRIORITY")
    assert _f(row, 5) == "A^urgent^HL70027" and _f(row, 8) == ""
    assert [_f(r, 5) for r in _obx(message, "TRIAGE_FLAG")] == [
        "suspicious_finding^suspicious finding^99BG",
        "dense_breast^dense breast^99BG",
    ]


def test_sectra_profile_orm_update_and_oru_carry_the_priority_where_it_says() -> None:
    update = build_priority_update(
        REF, control_id="P1", priority=Priority.URGENT, now=NOW, profile=SECTRA_PROFILE
    )
    parsed = hl7.parse(update)
    assert _f(parsed.segment("MSH"), 12) == "2.3.1" and _f(parsed.segment("MSH"), 9) == "ORM^O01"
    assert _f(parsed.segment("ORC"), 1) == "XO"
    assert _f(parsed.segment("ORC"), 7) == "^^^^^A" and _f(parsed.segment("OBR"), 27) == "^^^^^A"
    (order,) = read_message(update.encode()).orders
    assert order.priority == "A" and order.control == "XO"

    message = _oru(SECTRA_PROFILE)
    assert _f(message.segment("OBR"), 27) == "^^^^^A"
    assert {_f(r, 8) for r in _obx(message, "TRIAGE_PRIORITY") + _obx(message, "TRIAGE_FLAG")} == {"A"}
    assert _f(_obx(message, "DENSITY")[0], 8) == ""  # only triage rows are flagged


def test_a_site_profile_file_maps_codes_flags_and_omi_with_tq1(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        """
[profile]
base = "sectra"
name = "st-elsewhere"
update_message = "omi"
update_priority_fields = ["TQ1-9"]
oru_priority_fields = ["TQ1-9", "ORC-7.6"]
[profile.priority_codes]
urgent = "S"
[profile.flag_codes]
dense_breast = "DENSE^Dense breast tissue"
[profile.abnormal_flags]
urgent = "H"
""",
        encoding="utf-8",
    )
    profile = load_profile(str(path))
    assert profile.name == "st-elsewhere" and profile.version == "2.5.1"
    assert profile.priority_codes == {"stat": "S", "urgent": "S", "routine": "R"}
    update = build_priority_update(REF, control_id="P2", priority=Priority.URGENT, now=NOW, profile=profile)
    parsed = hl7.parse(update)
    assert _f(parsed.segment("MSH"), 9) == "OMI^O23^OMI_O23"
    assert _f(parsed.segment("TQ1"), 9) == "S^urgent^HL70485" and _f(parsed.segment("ORC"), 7) == ""
    (order,) = read_message(update.encode()).orders
    assert order.priority == "S"

    message = _oru(profile)
    assert _f(message.segment("TQ1"), 9) == "S^urgent^HL70485" and _f(message.segment("ORC"), 7) == "^^^^^S"
    flags = [_f(r, 5) for r in _obx(message, "TRIAGE_FLAG")]
    assert flags == ["suspicious_finding^suspicious finding^99BG", "DENSE^Dense breast tissue^99BG"]
    assert _f(_obx(message, "TRIAGE_SCORE")[0], 8) == "H"
    # The site maps urgent to S: an order already at S is not "raised", an R order is.
    assert not profile.raises(Priority.URGENT, "S") and profile.raises(Priority.URGENT, "R")
    assert profile.raises(Priority.URGENT, None) and not profile.raises(Priority.ROUTINE, None)


def test_a_site_ranks_its_own_codes() -> None:
    profile = replace(
        DEFAULT_PROFILE,
        priority_codes={"stat": "1", "urgent": "2", "routine": "3"},
        priority_rank={"1": 0, "2": 1, "3": 2},
    )
    assert profile.raises(Priority.URGENT, "3") and not profile.raises(Priority.URGENT, "1")
    update = build_priority_update(REF, control_id="P3", priority=Priority.STAT, now=NOW, profile=profile)
    assert str(hl7.parse(update).segment("OBR")[27]) == "^^^^^1"


def test_launch_links_are_reference_pointer_obx_rows() -> None:
    url = "http://bg.example:8080/api/launch/ids7?study=1.2.3&finding=f1"
    message = _oru(DEFAULT_PROFILE, (("ids7 f1", url),))
    (row,) = _obx(message, "LAUNCH_LINK")
    assert _f(row, 2) == "RP"
    pointer, application, kind, label = _f(row, 5).split("^")
    assert message.unescape(pointer) == url and (application, kind, label) == (
        "BREASTGATE",
        "HTML",
        "ids7 f1",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('update_message = "fax"', "update_message must be orm or omi"),
        ('update_priority_fields = ["PV1-2"]', "unknown priority field 'PV1-2'"),
        ('update_priority_fields = ["TQ1-9"]', "ORM\\^O01 has no TQ1 segment"),
        ('colour = "red"', "unknown keys \\['colour'\\]"),
        ('base = "philips"', "unknown base 'philips'"),
        ('[profile.priority_codes]\nurgent = "A|B"', "holds an HL7 delimiter"),
        ('[profile.flag_codes]\nhappy = "H"', "flag_codes has unknown keys \\['happy'\\]"),
        ('[profile.priority_rank]\nS = "first"', "priority_rank values must be integers"),
    ],
)
def test_bad_profiles_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[profile]\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        load_profile(str(path))


def test_settings_refuse_an_unknown_profile_at_start_up(tmp_path: Path) -> None:
    assert load_profile("sectra") is SECTRA_PROFILE and load_profile("") is DEFAULT_PROFILE
    with pytest.raises(ConfigurationError, match="neither a built-in profile"):
        load_settings(home=tmp_path, hl7_profile="siemens")
