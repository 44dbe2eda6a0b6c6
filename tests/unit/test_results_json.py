"""Results JSON (DESIGN §4) and the stored per-algorithm payload."""

from __future__ import annotations

import json

import pytest

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus
from breastgate.results.json import build_results, result_from_payload, result_to_payload
from tests.support.mg_headers import density_result, four_view_study


def test_results_shape() -> None:
    headers = four_view_study()
    result = density_result(headers, failed={headers[0].SOPInstanceUID: "motion"})
    doc = build_results(result.study_instance_uid, [result])
    json.dumps(doc)  # JSON-safe
    assert doc["schema"] == "breastgate.results/1"
    assert doc["study_instance_uid"] == result.study_instance_uid
    assert doc["algorithms"] == [
        {"id": "breastgate.density", "version": "1.0.0", "status": "ok", "message": ""}
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
