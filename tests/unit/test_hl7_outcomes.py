"""Outcomes in over HL7: the radiologist's final BI-RADS and pathology results as ORU^R01."""

from __future__ import annotations

import hl7
import pytest

from breastgate.governance import outcomes
from breastgate.hl7.outcomes_in import overall_birads, pathology_outcome
from breastgate.ingest.messages import Hl7Service
from breastgate.store import audit
from breastgate.store.db import Database
from tests.support.hl7_messages import oru


def handle(db: Database, message: str) -> tuple[str, str]:
    ack = hl7.parse(Hl7Service(db).handle(message.encode()).decode())
    return ack.extract_field("MSA", 1, 1, 1, 1), ack.extract_field("MSA", 1, 3, 1, 1)


def stored(db: Database, accession: str) -> list[outcomes.OutcomeRecord]:
    with db.session() as s:
        return outcomes.for_study(s, "no-such-uid", accession)


def test_coded_birads_and_density_from_the_final_report(db: Database) -> None:
    message = oru(
        "R1",
        accession="ACC1",
        obx=(
            "CWE|BIRADS^BI-RADS assessment^L||4^Suspicious^L||||||F",
            "ST|DENSITY^Breast composition^L||c||||||F",
            "TX|REPORT^Report^L||Bilateral mammogram. Findings as above.||||||F",
        ),
    )
    assert handle(db, message)[0] == "AA"
    (record,) = stored(db, "ACC1")
    assert (record.source, record.final_birads, record.density, record.outcome) == ("hl7", "4", "c", None)
    assert record.patient_id == "PAT0001" and record.reference == "RIS R1"
    with db.session() as s:
        assert [e.kind for e in audit.iter_events(s)] == ["outcome.recorded"]


def test_per_breast_categories_give_the_overall_one_by_the_hierarchy(db: Database) -> None:
    message = oru(
        "R2",
        accession="ACC2",
        obx=("CWE|BIRADS^BI-RADS right^L||2^Benign^L||||||F", "CWE|BIRADS^BI-RADS left^L||4B||||||F"),
    )
    assert handle(db, message)[0] == "AA"
    assert stored(db, "ACC2")[0].final_birads == "4"
    assert overall_birads(["2", "0", "3"]) == "0" and overall_birads(["1", "6", "5"]) == "6"


def test_birads_from_report_text_when_not_coded(db: Database) -> None:
    message = oru(
        "R3", accession="ACC3", obx=("FT|REPORT^Report^L||IMPRESSION: negative.~BI-RADS category 1.||||||F",)
    )
    assert handle(db, message)[0] == "AA"
    (record,) = stored(db, "ACC3")
    assert record.final_birads == "1"
    with db.session() as s:
        assert outcomes.truth_of(outcomes.for_study(s, "x", "ACC3")).cancer is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Invasive ductal carcinoma, grade 2", "cancer"),
        ("Ductal carcinoma in situ (DCIS), high grade", "cancer"),
        ("Fibroadenoma. No evidence of malignancy.", "benign"),
        ("Negative for malignancy; fibrocystic change", "benign"),
        ("Benign breast tissue", "benign"),
        ("Insufficient material", None),
    ],
)
def test_pathology_text_decides_cancer_benign_or_nothing(text: str, expected: str | None) -> None:
    assert pathology_outcome(text) == expected


def test_pathology_result_records_cancer(db: Database) -> None:
    message = oru(
        "P1",
        accession="ACC4",
        sender="PATHLAB",
        obx=(
            "TX|22637-3^Pathology report final diagnosis^LN||"
            "Right breast core biopsy: invasive lobular carcinoma.||||||F",
        ),
    )
    assert handle(db, message)[0] == "AA"
    (record,) = stored(db, "ACC4")
    assert record.source == "pathology" and record.outcome == "cancer"
    assert "invasive lobular carcinoma" in (record.pathology or "")


def test_preliminary_results_are_acknowledged_not_recorded(db: Database) -> None:
    code, _reason = handle(
        db, oru("R5", accession="ACC5", status="P", obx=("CWE|BIRADS^BI-RADS^L||0||||||P",))
    )
    assert code == "AA" and stored(db, "ACC5") == []


def test_a_result_naming_no_study_is_an_application_error(db: Database) -> None:
    message = oru("R6", accession="", obx=("CWE|BIRADS^BI-RADS^L||1||||||F",)).replace("|PLC-|", "||")
    code, reason = handle(db, message)
    assert code == "AE" and "names no study" in reason


def test_study_uid_from_zds(db: Database) -> None:
    message = oru("R7", accession="ACC7", study_uid="1.2.3.4.5", obx=("CWE|BIRADS^BI-RADS^L||2||||||F",))
    assert handle(db, message)[0] == "AA"
    with db.session() as s:
        (record,) = outcomes.for_study(s, "1.2.3.4.5", None)
    assert record.final_birads == "2"
