"""Tyrer-Cuzick (IBIS) input capture: types, ranges and consistency, no computation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from breastgate.risk.errors import RiskInputError
from breastgate.risk.tyrer_cuzick import (
    Answer,
    FamilyMember,
    GeneResult,
    HrtUse,
    MenopauseStatus,
    Relation,
    TyrerCuzickInputs,
)


def _complete(**changes: Any) -> TyrerCuzickInputs:
    answers: dict[str, Any] = dict(
        age=52,
        height_m=1.65,
        weight_kg=68.0,
        age_at_menarche=12,
        parity=2,
        age_at_first_birth=29,
        menopause_status=MenopauseStatus.POST,
        age_at_menopause=50,
        hrt_use=HrtUse.PAST,
        benign_breast_disease=Answer.YES,
        atypical_hyperplasia=Answer.YES,
        lcis=Answer.NO,
        ovarian_cancer=Answer.NO,
        ashkenazi_ancestry=Answer.UNKNOWN,
        brca1=GeneResult.NEGATIVE,
        brca2=GeneResult.NEGATIVE,
        number_of_sisters=2,
        number_of_daughters=1,
        number_of_half_sisters=0,
        number_of_aunts=3,
        family=(
            FamilyMember(relation=Relation.MOTHER, breast_cancer_age=48, bilateral=True),
            FamilyMember(relation=Relation.SISTER, ovarian_cancer_age=55, brca1=GeneResult.POSITIVE),
            FamilyMember(relation=Relation.MATERNAL_AUNT, breast_cancer_age=62),
        ),
    )
    answers.update(changes)
    return TyrerCuzickInputs(**answers)


def test_complete_answers_are_captured_as_given() -> None:
    tc = _complete()
    assert tc.age == 52 and tc.parity == 2 and tc.menopause_status is MenopauseStatus.POST
    assert [m.relation for m in tc.family] == [Relation.MOTHER, Relation.SISTER, Relation.MATERNAL_AUNT]
    assert tc.family[0].bilateral and tc.family[1].brca1 is GeneResult.POSITIVE
    with pytest.raises(dataclasses.FrozenInstanceError):
        tc.age = 60  # type: ignore[misc]


def test_only_age_is_required() -> None:
    tc = TyrerCuzickInputs(age=40)
    assert tc.menopause_status is MenopauseStatus.UNKNOWN and tc.hrt_use is HrtUse.UNKNOWN
    assert tc.brca1 is GeneResult.NOT_TESTED and tc.family == ()
    assert tc.height_m is None and tc.parity is None


def test_nulliparous() -> None:
    assert _complete(parity=0, age_at_first_birth=None).parity == 0


BAD = [
    ("age not a number", {"age": "52"}, "age", "type"),
    ("age a bool", {"age": True}, "age", "type"),
    ("age NaN", {"age": float("nan")}, "age", "type"),
    ("age under 18", {"age": 15}, "age", "range"),
    ("height in cm", {"height_m": 165}, "height_m", "range"),
    ("weight implausible", {"weight_kg": 5}, "weight_kg", "range"),
    ("menarche implausible", {"age_at_menarche": 40}, "age_at_menarche", "range"),
    ("parity negative", {"parity": -1}, "parity", "range"),
    ("parity fractional", {"parity": 1.5}, "parity", "type"),
    ("status as a string", {"menopause_status": "post"}, "menopause_status", "type"),
    ("hrt as a bool", {"hrt_use": True}, "hrt_use", "type"),
    ("brca as a string", {"brca2": "positive"}, "brca2", "type"),
    ("family as a list", {"family": []}, "family", "type"),
    (
        "first birth after today",
        {
            "age": 28,
            "age_at_first_birth": 29,
            "age_at_menopause": None,
            "menopause_status": MenopauseStatus.PRE,
        },
        "age_at_first_birth",
        "consistent",
    ),
    ("first birth with parity 0", {"parity": 0}, "age_at_first_birth", "consistent"),
    (
        "first birth before menarche",
        {"age_at_menarche": 14, "age_at_first_birth": 13},
        "age_at_first_birth",
        "consistent",
    ),
    ("menopause age while pre", {"menopause_status": MenopauseStatus.PRE}, "age_at_menopause", "consistent"),
    ("menopause after today", {"age_at_menopause": 55}, "age_at_menopause", "consistent"),
    (
        "atypia but no benign disease",
        {"benign_breast_disease": Answer.NO},
        "benign_breast_disease",
        "consistent",
    ),
    ("more sisters affected than sisters", {"number_of_sisters": 0}, "number_of_sisters", "consistent"),
    (
        "two mothers",
        {"family": (FamilyMember(relation=Relation.MOTHER), FamilyMember(relation=Relation.MOTHER))},
        "family",
        "consistent",
    ),
    (
        "daughter diagnosed older than patient",
        {"family": (FamilyMember(relation=Relation.DAUGHTER, breast_cancer_age=60),)},
        "family[0].breast_cancer_age",
        "consistent",
    ),
]


@pytest.mark.parametrize(("changes", "field", "rule"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_rejected(changes: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(RiskInputError) as info:
        _complete(**changes)
    assert isinstance(info.value, ValueError)
    assert info.value.field == field
    assert info.value.rule.startswith("breastgate") and rule in info.value.rule
    assert field in str(info.value)


MEMBER_BAD = [
    ("bilateral without diagnosis", {"bilateral": True}, "bilateral"),
    ("bilateral not a bool", {"breast_cancer_age": 40, "bilateral": 1}, "bilateral"),
    ("relation as a string", {"relation": "mother"}, "relation"),
    ("diagnosis age implausible", {"breast_cancer_age": 140}, "breast_cancer_age"),
    ("ovarian age not a number", {"ovarian_cancer_age": "50"}, "ovarian_cancer_age"),
    ("brca as a string", {"brca1": "negative"}, "brca1"),
]


@pytest.mark.parametrize(("changes", "field"), [b[1:] for b in MEMBER_BAD], ids=[b[0] for b in MEMBER_BAD])
def test_family_member_rejected(changes: dict[str, Any], field: str) -> None:
    answers: dict[str, Any] = {"relation": Relation.SISTER, **changes}
    with pytest.raises(RiskInputError) as info:
        FamilyMember(**answers)
    assert info.value.field == field
