"""The outcomes CSV of ``breastgate validate``: parsed strictly, errors name the line."""

from __future__ import annotations

import pytest

from breastgate.governance.validation import CaseMark, StudyCase, validation_metrics
from breastgate.governance.validation_outcomes import OutcomesError, read_outcomes
from breastgate.pipeline.validate import parse_age

HEADER = (
    "study_instance_uid,outcome,final_birads,radiologist_density,patient_age,"
    "lesion_id,lesion_sop_instance_uid,lesion_col,lesion_row,lesion_radius_px"
)
GOOD = f"""{HEADER}
1.2.3,cancer,5,c,52,a,1.2.3.1,100,200,30
1.2.3,cancer,5,c,,a,1.2.3.2,110,210,30
1.2.4,normal,1,b,61,,,,,
"""


def test_rows_of_a_study_merge_and_lesions_accumulate() -> None:
    first, second = read_outcomes(GOOD)
    assert first.study_instance_uid == "1.2.3" and first.cancer and first.patient_age == 52
    assert [(t.lesion_id, t.sop_instance_uid) for t in first.lesions] == [("a", "1.2.3.1"), ("a", "1.2.3.2")]
    assert first.lesions[0].is_hit_by("1.2.3.1", (120.0, 220.0))
    assert not first.lesions[0].is_hit_by("1.2.3.1", (140.0, 230.0))
    assert not first.lesions[0].is_hit_by("1.2.3.2", (100.0, 200.0))
    assert second.outcome == "normal" and not second.lesions and second.radiologist_density == "b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("study_instance_uid,outcome\n1.2,cancer\n1.3,maybe\n", "line 3: outcome 'maybe'"),
        ("study_instance_uid,outcome,radiologist_density\n1.2,normal,e\n", "line 2: radiologist_density"),
        ("study_instance_uid,outcome,patient_age\n1.2,normal,old\n", "line 2: patient_age 'old'"),
        ("study_instance_uid,outcome,final_birads\n1.2,normal,7\n", "line 2: final_birads"),
        ("study_instance_uid,outcome\n1.2,normal\n1.2,cancer\n", "line 3: outcome 'cancer' contradicts"),
        ("study_instance_uid,outcome,lesion_col\n1.2,cancer,5\n", "line 2: lesion lacks"),
        (
            "study_instance_uid,outcome,lesion_sop_instance_uid,lesion_col,lesion_row,lesion_radius_px\n"
            "1.2,benign,1.2.1,1,1,5\n",
            "line 2: lesion columns are for cancer rows",
        ),
        ("study_instance_uid,outcome\n,normal\n", "line 2: no study_instance_uid or accession_number"),
        ("study_instance_uid,result\n1.2,normal\n", "line 1: unknown column"),
        ("accession_number\nA1\n", "line 1: needs 'outcome'"),
        ("", "empty file"),
    ],
)
def test_bad_rows_name_their_line(text: str, message: str) -> None:
    with pytest.raises(OutcomesError, match=message):
        read_outcomes(text)


def test_unmatched_studies_and_outcomes_are_listed() -> None:
    outcomes = read_outcomes(
        "study_instance_uid,accession_number,outcome\n1.1,,cancer\n,ACC2,normal\n9.9,,normal\n1.4,,normal\n"
    )
    cases = [
        StudyCase("1.1", None, 0.9, 4, marks=[CaseMark("x", (1.0, 1.0), 0.9, "alg")]),
        StudyCase("1.2", "ACC2", 0.1, 4),
        StudyCase("1.3", None, 0.2, 4),
        StudyCase("1.4", None, 0.3, 4, failed=["alg: boom"]),
    ]
    doc = validation_metrics(cases, outcomes, threshold=0.5, algorithm_thresholds={}, n_resamples=100)
    counts = doc["counts"]
    assert counts["matched"] == 2 and counts["cancer"] == 1
    assert counts["studies_without_outcome"] == ["1.3"]
    assert counts["outcomes_without_study"] == ["9.9"]  # 1.4 is listed as failed instead
    assert counts["failed_studies"] == [{"study_instance_uid": "1.4", "messages": ["alg: boom"]}]
    assert doc["auc"]["value"] == 1.0
    assert doc["froc"]["n_images"] == 8 and doc["froc"]["n_lesions"] == 0


def test_parse_age() -> None:
    assert parse_age("057Y", None, None) == 57
    assert parse_age("018M", None, None) == 1.5
    assert parse_age(None, "19700615", "20240614") == 53
    assert parse_age(None, "19700615", "20240615") == 54
    assert parse_age("", "bad", "20240101") is None
