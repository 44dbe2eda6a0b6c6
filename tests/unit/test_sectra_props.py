"""PropValues of the Sectra Data Provider (breastgate.integrations.sectra.props) and the example IDS7
template that binds them (docs/integrations/sectra-breast-template.html)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from breastgate.domain.density import DENSITY_SENTENCES
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    CaseAssessment,
    DensityAssessment,
    Finding,
    FindingKind,
    FindingLocation,
    Mark,
    Priority,
    QualityCheck,
    Triage,
)
from breastgate.domain.report import DRAFT_LABEL
from breastgate.integrations.sectra.props import (
    FINDING_FIELDS,
    FINDING_SLOTS,
    STUDY_KEYS,
    ReportState,
    build_prop_values,
    prop_keys,
)
from breastgate.results.json import build_results

TEMPLATE = Path(__file__).parents[2] / "docs" / "integrations" / "sectra-breast-template.html"
UID = "1.2.826.0.1.3680043.10.1.1"


def _finding(n: int, side: str = "R", score: float = 0.9) -> Finding:
    mark = Mark(sop_instance_uid=f"{UID}.{n}", point=(10.0, 20.0), bbox=(5.0, 15.0, 15.0, 25.0), score=score)
    location = FindingLocation(clock=10, quadrant="UOQ", depth="middle", distance_from_nipple_mm=41.6)
    return Finding(f"f{n}", FindingKind.MASS, side, score, (mark,), size_mm=12.34, location=location)


def _document(findings: int = 2, *, density: str | None = "c", flags: tuple[str, ...] = ()) -> dict[str, Any]:
    results = [
        AlgorithmResult(
            "breastgate.masses",
            "1.0.0",
            UID,
            AlgorithmStatus.OK,
            findings=tuple(_finding(n, "R" if n % 2 else "L", 0.9 - n / 100) for n in range(1, findings + 1)),
            operating_threshold=0.5,
            quality=(
                QualityCheck("study_verdict", True),
                QualityCheck("pnl", False, "PNL too short", None, "R", "MLO"),
            ),
        )
    ]
    if density is not None:
        results.append(
            AlgorithmResult(
                "breastgate.density",
                "1.1.0",
                UID,
                AlgorithmStatus.OK,
                density=DensityAssessment(density, 55.55),
            )
        )
    triage = Triage(Priority.URGENT, 89.6, flags, "breastgate.triage@1.0.0")
    return build_results(UID, results, CaseAssessment(89.6, "0", "Recall"), triage)


def test_every_key_of_the_schema_and_only_those() -> None:
    assert len(set(prop_keys())) == len(STUDY_KEYS) + FINDING_SLOTS * len(FINDING_FIELDS)
    for count in (0, 2, FINDING_SLOTS + 2):
        values = build_prop_values(_document(count))
        assert list(values) == list(prop_keys(count))
        assert all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values.values())
    values = build_prop_values(_document(FINDING_SLOTS + 2))
    assert (
        values["finding_count"] == FINDING_SLOTS + 2 and values[f"finding{FINDING_SLOTS + 2}_kind"] == "mass"
    )
    assert values["finding3_kind"] == "mass" and build_prop_values(_document(2))["finding3_kind"] == ""


def test_draft_values() -> None:
    values = build_prop_values(
        _document(2, flags=("suspicious_finding", "dense_breast")), ReportState("draft")
    )
    assert values["disclaimer"] == DRAFT_LABEL
    assert (values["density_category"], values["density_status"], values["percent_dense"]) == (
        "c",
        "draft",
        55.5,
    )
    assert values["density_sentence"] == DENSITY_SENTENCES["c"]
    assert (values["birads_category"], values["birads_status"], values["birads_ai_category"]) == (
        "0",
        "draft",
        "0",
    )
    assert values["recommendation"].startswith("Recall for additional imaging")
    assert (values["suspicion_score"], values["triage_priority"]) == (90, "urgent")
    assert values["triage_flags"] == "suspicious_finding, dense_breast"
    assert values["positioning_verdict"] == "adequate"
    assert values["positioning_issues"] == "R MLO: PNL too short"
    assert values["algorithms"] == "breastgate.masses 1.0.0, breastgate.density 1.1.0"
    assert values["report_status"] == "draft" and values["confirmed_by"] == values["confirmed_at"] == ""
    # Numbered as in the report draft: right breast first.
    assert (values["finding1_id"], values["finding1_laterality"], values["finding2_laterality"]) == (
        "f1",
        "R",
        "L",
    )
    assert (values["finding1_clock"], values["finding1_quadrant"], values["finding1_depth"]) == (
        10,
        "UOQ",
        "middle",
    )
    assert (values["finding1_distance_mm"], values["finding1_size_mm"], values["finding1_score"]) == (
        42,
        12.3,
        0.89,
    )
    assert values["finding1_sentence"].startswith("Mass in the upper outer quadrant of the right breast")
    assert values["finding1_status"] == "draft" and values["finding1_change"] == ""


def test_confirmation_overrides_and_keeps_the_ai_values() -> None:
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    report = ReportState("confirmed", birads="4", density="d", confirmed_by="Dr Reader", confirmed_at=at)
    values = build_prop_values(_document(1), report)
    assert (values["birads_category"], values["birads_status"], values["birads_ai_category"]) == (
        "4",
        "confirmed",
        "0",
    )
    assert values["birads_name"] == "Suspicious" and values["recommendation"] == "Tissue diagnosis."
    assert (values["density_category"], values["density_status"], values["density_ai_category"]) == (
        "d",
        "confirmed",
        "c",
    )
    assert values["density_sentence"] == DENSITY_SENTENCES["d"]
    assert (values["report_status"], values["confirmed_by"], values["confirmed_at"]) == (
        "confirmed",
        "Dr Reader",
        at.isoformat(),
    )
    # A radiologist's density stands even when no density algorithm reaches the report.
    values = build_prop_values(_document(1, density=None), report)
    assert (values["density_category"], values["density_status"], values["density_ai_category"]) == (
        "d",
        "confirmed",
        "",
    )


def test_feedback_and_comparison_per_finding() -> None:
    document = _document(2)
    first, second = document["findings"]
    first["feedback"] = {"action": "reject"}
    first["comparison"] = {"prior_study_instance_uid": "1.2.3", "change": "increased", "size_change_mm": 3.04}
    second["comparison"] = {"change": "new"}
    values = build_prop_values(document)
    assert (values["finding1_status"], values["finding2_status"]) == ("rejected", "draft")
    assert (values["finding1_change"], values["finding1_size_change_mm"], values["finding2_change"]) == (
        "increased",
        3.0,
        "new",
    )
    assert "Finding 1 has increased in size by 3 mm" in values["comparison_summary"]


def test_nothing_reaches_the_report() -> None:
    values = build_prop_values(build_results(UID, []), ReportState("draft"))
    assert {k: v for k, v in values.items() if v != ""} == {
        "disclaimer": DRAFT_LABEL,
        "report_status": "draft",
    }


class _MergeFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.identifiers: list[str] = []
        self.untyped: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        identifier = attributes.get("data-merge-identifier")
        if identifier is not None:
            self.identifiers.append(identifier)
            if not attributes.get("data-field-type"):
                self.untyped.append(identifier)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


@pytest.fixture(scope="module")
def template() -> _MergeFields:
    parser = _MergeFields()
    parser.feed(TEMPLATE.read_text(encoding="utf-8"))
    return parser


def test_template_binds_only_keys_the_provider_sends(template: _MergeFields) -> None:
    assert len(template.identifiers) > 40
    assert not template.untyped  # every bound field has a data-field-type
    prefixes = {i.partition(".")[0] for i in template.identifiers}
    assert prefixes == {"breastgate"}
    keys = [i.partition(".")[2] for i in template.identifiers]
    missing = sorted(set(keys) - set(prop_keys()))
    assert not missing, f"template fields the provider never sends: {missing}"
    numbers = {int(m.group(1)) for k in keys if (m := re.match(r"finding(\d+)_", k))}
    assert numbers == set(range(1, FINDING_SLOTS + 1))  # the always-sent slots, all of them
    # The values of a study with findings carry every bound key.
    assert set(keys) <= set(build_prop_values(_document(2)))


def test_template_refreshes_from_the_breastgate_provider(template: _MergeFields) -> None:
    assert 'window.parent.getData(["breastgate"])' in "".join(template.scripts)
    text = TEMPLATE.read_text(encoding="utf-8")
    assert 'onclick="refreshAiData()"' in text and "Refresh AI data" in text
    assert "not for diagnostic use" in text


def test_comparison_with_the_prior_and_kinetics_props() -> None:
    document = _document(2)
    first, second = document["findings"]
    first["comparison"] = {
        "prior_study_instance_uid": "9.1", "change": "stable", "size_change_mm": 0.2,
        "prior_size_mm": 5.84, "prior_study_date": "20251201",
    }  # fmt: skip
    second["kind"] = "enhancing_lesion"
    second["diameters_mm"] = [14.2, 10.0, 8.4]
    second["kinetics"] = {"initial_phase": "fast", "delayed_phase": "washout", "curve_type": "III",
                          "peak_enhancement_pct": 212.4}  # fmt: skip
    document["algorithms"][0]["priors"] = {"status": "held", "study_instance_uids": ["9.1"]}
    document["density_change"] = {
        "prior_study_instance_uid": "9.1",
        "prior_study_date": "20251201",
        "prior_category": "C",
        "prior_percent_dense": 52.0,
        "change_pp": -6.04,
    }
    values = build_prop_values(document)
    assert (values["comparison_status"], values["prior_study_date"]) == ("held", "2025-12-01")
    assert (values["density_prior_category"], values["density_change_pp"]) == ("c", -6.0)
    assert (values["finding1_change"], values["finding1_prior_size_mm"], values["finding1_prior_date"]) == (
        "stable", 5.8, "2025-12-01",
    )  # fmt: skip
    assert values["finding2_diameters_mm"] == "14 x 10 x 8"
    assert (values["finding2_initial_phase"], values["finding2_delayed_phase"]) == ("fast", "washout")
    assert (values["finding2_curve_type"], values["finding2_peak_enhancement_pct"]) == ("III", 212)
    assert values["finding1_curve_type"] == "" and values["finding2_change"] == ""
    assert "Finding 1 is stable versus the prior of 2025-12-01." in values["comparison_summary"]
    document["algorithms"][0]["priors"] = {"status": "not_in_time"}
    for finding in document["findings"]:
        finding.pop("comparison", None)
    document["density_change"] = None
    values = build_prop_values(document)
    assert values["comparison_status"] == "not_in_time" and values["prior_study_date"] == ""
    assert values["comparison_summary"] == "Prior not fetched in time; no comparison was made."
