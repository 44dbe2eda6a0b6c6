"""The wave-3 finding fields survive the stored payload: comparison with a prior, DCE kinetics,
3-D extent, and the priors an algorithm read (DESIGN §4 ``findings[].comparison`` / ``kinetics``)."""

from __future__ import annotations

import json

import pytest

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    ChangeKind,
    DelayedPhase,
    DensityChange,
    Finding,
    FindingComparison,
    FindingKind,
    FindingKinetics,
    InitialPhase,
    Mark,
    PriorStatus,
    PriorUse,
    ResultVolume,
)
from breastgate.domain.payload import finding_from_json, result_from_payload, result_to_payload
from breastgate.results.json import build_results

MARK = Mark("1.2.3.4", (10.0, 20.0), (5.0, 15.0, 15.0, 25.0), 0.7, "L", "CC")


def _result() -> AlgorithmResult:
    finding = Finding(
        "f1",
        FindingKind.ENHANCING_LESION,
        "L",
        0.8,
        (MARK,),
        size_mm=14.0,
        comparison=FindingComparison("9.8.7", ChangeKind.INCREASED, 3.5, 10.5, "20251201", (MARK,)),
        kinetics=FindingKinetics(InitialPhase.FAST, DelayedPhase.WASHOUT, 180.0, 0.6, 0.3, 0.1),
        diameters_mm=(14.0, 11.0, 9.5),
        volume_mm3=760.0,
    )
    volume = ResultVolume("kinetic_class", (1, 2, 2), "uint8", bytes([0, 1, 2, 3]), ("1.2.3.4",))
    return AlgorithmResult(
        "kinetics", "1.0.0", "1.2.3", AlgorithmStatus.OK, findings=(finding,), volumes=(volume,),
        priors=PriorUse(PriorStatus.NOT_IN_TIME, (), "waited 600 s"),
        density_change=DensityChange("9.8.7", "b", 22.0, 4.5, "20251201"),
    )  # fmt: skip


def test_comparison_kinetics_and_extent_round_trip_through_the_payload() -> None:
    payload = json.loads(json.dumps(result_to_payload(_result())))
    finding = payload["findings"][0]
    assert finding["comparison"]["change"] == "increased" and finding["comparison"]["size_change_mm"] == 3.5
    assert finding["kinetics"]["curve_type"] == "III" and finding["kinetics"]["delayed_phase"] == "washout"
    assert finding["diameters_mm"] == [14.0, 11.0, 9.5]
    assert "volumes" not in payload  # voxel maps feed the encoders only
    back = result_from_payload(payload)
    assert back.findings[0] == _result().findings[0]
    assert back.priors == PriorUse(PriorStatus.NOT_IN_TIME, (), "waited 600 s")
    assert back.density_change == DensityChange("9.8.7", "b", 22.0, 4.5, "20251201")


def test_results_json_says_why_there_was_no_prior() -> None:
    doc = build_results("1.2.3", [_result()])
    assert doc["algorithms"][0]["priors"]["text"] == "prior not fetched in time"
    assert doc["findings"][0]["comparison"]["prior_study_instance_uid"] == "9.8.7"
    assert doc["density_change"]["change_pp"] == 4.5


def test_a_finding_without_the_new_fields_reads_as_before() -> None:
    plain = result_to_payload(AlgorithmResult("masses", "1", "1.2.3", AlgorithmStatus.OK, findings=(
        Finding("f", FindingKind.MASS, "R", 0.5, (MARK,)),)))  # fmt: skip
    assert "comparison" not in plain["findings"][0] and "priors" not in plain
    assert result_from_payload(plain).findings[0].comparison is None


def test_an_unknown_change_is_refused() -> None:
    data = result_to_payload(_result())["findings"][0]
    data["comparison"]["change"] = "bigger"
    with pytest.raises(InvalidInputError):
        finding_from_json(data)
