"""Results JSON (DESIGN §4) and the stored per-algorithm payload."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, FindingLocation, RiskEstimate
from breastgate.domain.payload import (
    finding_from_json,
    finding_to_json,
    result_from_payload,
    result_to_payload,
)
from breastgate.results.json import build_results
from tests.support.mg_headers import density_result, four_view_study
from tests.unit.test_results_cad_sr import findings_study


def test_results_shape() -> None:
    headers = four_view_study()
    result = density_result(headers, failed={headers[0].SOPInstanceUID: "motion"})
    doc = build_results(result.study_instance_uid, [result])
    json.dumps(doc)  # JSON-safe
    assert doc["schema"] == "breastgate.results/1"
    assert doc["study_instance_uid"] == result.study_instance_uid
    assert doc["algorithms"] == [
        {"id": "breastgate.density", "version": "1.0.0", "status": "ok", "message": "", "model_card": None}
    ]
    assert doc["density"]["category"] == "c"
    assert set(doc["density"]["per_breast"]) == {"L", "R"}
    assert doc["density"]["per_breast"]["R"]["sop_instance_uids"] == [headers[2].SOPInstanceUID]
    assert doc["findings"] == []
    for key in ("assessment", "triage", "quality", "risk"):
        assert key in doc and doc[key] is None
    assert "not for diagnostic use" in doc["label"]
    skipped = [i for i in doc["images"] if i["status"] == "skipped"]
    assert skipped == [
        {
            "sop_instance_uid": headers[0].SOPInstanceUID,
            "algorithm": "breastgate.density",
            "status": "skipped",
            "message": "motion",
            "laterality": "R",
            "view": "CC",
            "measurements": {},
        }
    ]
    assert len(doc["images"]) == 4


def test_density_null_when_nothing_computed() -> None:
    failed = AlgorithmResult("breastgate.density", "1.0.0", "1.2.3", AlgorithmStatus.FAILED, "boom")
    doc = build_results("1.2.3", [failed])
    assert doc["density"] is None
    assert doc["algorithms"][0]["status"] == "failed"
    assert doc["algorithms"][0]["message"] == "boom"
    assert doc["images"] == []
    assert build_results("1.2.3", [])["algorithms"] == []


def test_results_of_another_study_are_refused() -> None:
    result = density_result(four_view_study())
    with pytest.raises(InvalidInputError):
        build_results("9.9.9", [result])


def test_payload_round_trip_through_json_text() -> None:
    headers = four_view_study()
    result = density_result(headers, failed={headers[1].SOPInstanceUID: "cut off"})
    text = json.dumps(result_to_payload(result))
    assert result_from_payload(json.loads(text)) == result
    failed = AlgorithmResult("breastgate.density", "1.0.0", "1.2.3", AlgorithmStatus.FAILED, "boom")
    assert result_from_payload(result_to_payload(failed)) == failed


def test_bad_payload_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError):
        result_from_payload({"algorithm_id": "x"})


def test_payload_round_trips_findings_quality_and_threshold() -> None:
    _, result = findings_study()
    located = replace(
        result.findings[0],
        location=FindingLocation(10, "UOQ", "middle", 42.5, (1.5, -2.0, 30.25)),
        attributes={"views": 2.0, "calcification_type": "amorphous"},
        correlated_with=("mass-1",),
    )
    result = replace(result, findings=(located, *result.findings[1:]))
    payload = json.loads(json.dumps(result_to_payload(result)))
    assert result_from_payload(payload) == result
    assert payload["operating_threshold"] == 0.5
    assert payload["quality"][0] == {
        "name": "pectoral_muscle_to_pnl",
        "passed": False,
        "reason": "pectoral muscle ends above the PNL",
        "sop_instance_uid": result.quality[0].sop_instance_uid,
        "laterality": "R",
        "view": "MLO",
        "value": None,
        "unit": "",
    }


def test_finding_json_shape_follows_design() -> None:
    _, result = findings_study()
    finding = result.findings[2]
    finding = replace(
        finding,
        location=FindingLocation(clock=2, patient_mm=(1.0, 2.0, 3.0)),
        marks=(replace(finding.marks[0], patient_mm=(1.0, 2.0, 3.0)),),
    )
    doc = finding_to_json(finding)
    assert set(doc) == {
        "id",
        "kind",
        "laterality",
        "score",
        "size_mm",
        "location",
        "marks",
        "attributes",
        "correlated_with",
    }
    assert doc["kind"] == "mass" and doc["laterality"] == "L" and doc["score"] == 0.9
    assert doc["location"] == {
        "clock": 2,
        "quadrant": None,
        "depth": None,
        "distance_from_nipple_mm": None,
        "patient_mm": [1.0, 2.0, 3.0],
    }
    (mark,) = doc["marks"]
    assert mark["frame"] == 17 and mark["point"] == [640.0, 720.0]
    assert mark["bbox"] == [620.0, 705.0, 660.0, 735.0] and mark["outline"] == [] and mark["members"] == []
    assert {"sop_instance_uid", "view", "score", "laterality", "sop_class_uid", "size_mm"} <= set(mark)
    assert mark["patient_mm"] == [1.0, 2.0, 3.0]
    assert finding_from_json(json.loads(json.dumps(doc))) == finding
    del mark["patient_mm"]  # written before marks carried patient coordinates
    assert finding_from_json(doc).marks[0].patient_mm is None
    mark["patient_mm"] = [1.0, 2.0]
    with pytest.raises(InvalidInputError):
        finding_from_json(doc)


def test_mark_frame_extent_round_trips_and_old_marks_have_none() -> None:
    _, result = findings_study()
    finding = result.findings[2]
    finding = replace(finding, marks=(replace(finding.marks[0], frame=17, frames=(15, 20)),))
    doc = finding_to_json(finding)
    (mark,) = doc["marks"]
    assert mark["frame"] == 17 and mark["frames"] == [15, 20]
    assert finding_from_json(json.loads(json.dumps(doc))) == finding
    del mark["frames"]  # written before marks carried their extent
    assert finding_from_json(doc).marks[0].frames is None
    assert finding_from_json(doc).marks[0].frame_extent() == (17, 17)
    for bad in ([15], [20, 15], [0, 3]):
        mark["frames"] = bad
        with pytest.raises(InvalidInputError):
            finding_from_json(doc)


def test_old_payload_without_findings_still_reads() -> None:
    result = density_result(four_view_study())
    payload = result_to_payload(result)
    for key in ("findings", "quality", "operating_threshold"):
        del payload[key]
    assert result_from_payload(payload) == result


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "tumour"},
        {"score": 1.5},
        {"laterality": "B"},
        {"marks": []},
        {"marks": [{"sop_instance_uid": "1.2", "point": [1, 2], "bbox": [1, 2, 3], "score": 0.5}]},
    ],
)
def test_bad_finding_is_an_input_error(change: dict[str, object]) -> None:
    _, result = findings_study()
    doc = {**finding_to_json(result.findings[0]), **change}
    with pytest.raises(InvalidInputError):
        finding_from_json(doc)


def test_risk_round_trips_and_reaches_the_document() -> None:
    risk = RiskEstimate("NCI BCRAT", 1.5, 20.0, average_five_year_pct=1.0, average_lifetime_pct=12.0)
    result = AlgorithmResult("breastgate.risk.bcrat", "1.0.0", "1.2.3", AlgorithmStatus.OK, risk=risk)
    assert result_from_payload(json.loads(json.dumps(result_to_payload(result)))) == result
    doc = build_results("1.2.3", [result])
    assert doc["risk"] == {
        "model": "NCI BCRAT",
        "five_year_pct": 1.5,
        "lifetime_pct": 20.0,
        "average_five_year_pct": 1.0,
        "average_lifetime_pct": 12.0,
        "algorithm": "breastgate.risk.bcrat",
    }
    failed = replace(result, status=AlgorithmStatus.FAILED)
    assert build_results("1.2.3", [failed])["risk"] is None
    with pytest.raises(InvalidInputError):
        RiskEstimate("NCI BCRAT", 101.0, None)
