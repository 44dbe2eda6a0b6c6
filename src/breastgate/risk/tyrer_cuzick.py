"""Tyrer-Cuzick (IBIS) risk-model inputs, captured and checked, never computed.

IBIS v8 is closed software (free for research, licensed for commercial use) with no open
implementation or test vectors, so breastgate only records what it asks for, to hand to the
licensed program or to a clinician: the input list of algorithms.md §4.3 (age, height, weight,
menarche, parity and first birth, menopause, HRT, benign disease / atypical hyperplasia / LCIS,
personal ovarian cancer, BRCA1/2 results, Ashkenazi ancestry, relatives and their cancers).

Checks are basic and breastgate's own (rule prefix ``breastgate``): types, physically plausible
ranges, and consistency between answers (first birth after menarche, not after today, …). They are
not IBIS's input rules, which are not public.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from breastgate.risk.errors import RiskInputError

__all__ = [
    "Answer",
    "FamilyMember",
    "GeneResult",
    "HrtUse",
    "MenopauseStatus",
    "Relation",
    "TyrerCuzickInputs",
]

RULE_TYPE = "breastgate: value type"
RULE_RANGE = "breastgate: plausible range"
RULE_CONSISTENCY = "breastgate: consistent answers"
MAX_AGE = 110


class Answer(StrEnum):
    """A yes/no question the patient may not know the answer to."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class MenopauseStatus(StrEnum):
    """Menopausal status as IBIS asks it."""

    PRE = "pre"
    PERI = "peri"
    POST = "post"
    UNKNOWN = "unknown"


class HrtUse(StrEnum):
    """Hormone-replacement therapy use."""

    NEVER = "never"
    PAST = "past"
    CURRENT = "current"
    UNKNOWN = "unknown"


class GeneResult(StrEnum):
    """Result of a BRCA1 or BRCA2 test."""

    NOT_TESTED = "not_tested"
    NEGATIVE = "negative"
    POSITIVE = "positive"


class Relation(StrEnum):
    """A relative's relation to the patient (IBIS pedigree: parents, siblings, children, aunts ...)."""

    MOTHER = "mother"
    FATHER = "father"
    SISTER = "sister"
    BROTHER = "brother"
    DAUGHTER = "daughter"
    MATERNAL_HALF_SISTER = "maternal_half_sister"
    PATERNAL_HALF_SISTER = "paternal_half_sister"
    MATERNAL_AUNT = "maternal_aunt"
    PATERNAL_AUNT = "paternal_aunt"
    MATERNAL_GRANDMOTHER = "maternal_grandmother"
    PATERNAL_GRANDMOTHER = "paternal_grandmother"


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _age(field: str, value: object, *, low: float = 0, high: float = MAX_AGE, optional: bool = True) -> None:
    """Check an age (or other quantity) is a finite number in [low, high]; ``None`` if optional."""
    if value is None and optional:
        return
    if not _is_number(value):
        raise RiskInputError(field, RULE_TYPE, f"expected a number, got {value!r}")
    assert isinstance(value, int | float)
    if not low <= value <= high:
        raise RiskInputError(field, RULE_RANGE, f"{value} is outside [{low}, {high}]")


def _count(field: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise RiskInputError(field, RULE_TYPE, f"expected a whole number, got {value!r}")
    if not 0 <= value <= 30:
        raise RiskInputError(field, RULE_RANGE, f"{value} is outside [0, 30]")


def _enum(field: str, value: object, kind: type[StrEnum]) -> None:
    if not isinstance(value, kind):
        raise RiskInputError(field, RULE_TYPE, f"expected a {kind.__name__}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class FamilyMember:
    """One relative with breast or ovarian cancer (or a BRCA result): relation, ages at diagnosis."""

    relation: Relation
    breast_cancer_age: float | None = None  # age at first breast-cancer diagnosis; None = none
    bilateral: bool = False
    ovarian_cancer_age: float | None = None  # age at ovarian-cancer diagnosis; None = none
    brca1: GeneResult = GeneResult.NOT_TESTED
    brca2: GeneResult = GeneResult.NOT_TESTED

    def __post_init__(self) -> None:
        _enum("relation", self.relation, Relation)
        _age("breast_cancer_age", self.breast_cancer_age)
        _age("ovarian_cancer_age", self.ovarian_cancer_age)
        if not isinstance(self.bilateral, bool):
            raise RiskInputError("bilateral", RULE_TYPE, f"expected True/False, got {self.bilateral!r}")
        if self.bilateral and self.breast_cancer_age is None:
            raise RiskInputError("bilateral", RULE_CONSISTENCY, "bilateral without a breast-cancer diagnosis")
        _enum("brca1", self.brca1, GeneResult)
        _enum("brca2", self.brca2, GeneResult)


# relations counted by each family-size field (affected relatives cannot outnumber them)
_FAMILY_SIZE = {
    "number_of_sisters": (Relation.SISTER,),
    "number_of_daughters": (Relation.DAUGHTER,),
    "number_of_half_sisters": (Relation.MATERNAL_HALF_SISTER, Relation.PATERNAL_HALF_SISTER),
    "number_of_aunts": (Relation.MATERNAL_AUNT, Relation.PATERNAL_AUNT),
}
_ONLY_ONE = (Relation.MOTHER, Relation.FATHER, Relation.MATERNAL_GRANDMOTHER, Relation.PATERNAL_GRANDMOTHER)


@dataclass(frozen=True, kw_only=True)
class TyrerCuzickInputs:
    """The answers the IBIS (Tyrer-Cuzick) model asks for; ``None`` / ``UNKNOWN`` = not known.

    Built objects are well-typed, in plausible ranges and consistent; no risk is computed.
    """

    age: float
    height_m: float | None = None
    weight_kg: float | None = None
    age_at_menarche: float | None = None
    parity: int | None = None  # live births; 0 = nulliparous
    age_at_first_birth: float | None = None
    menopause_status: MenopauseStatus = MenopauseStatus.UNKNOWN
    age_at_menopause: float | None = None
    hrt_use: HrtUse = HrtUse.UNKNOWN
    benign_breast_disease: Answer = Answer.UNKNOWN  # biopsy-proven benign disease
    atypical_hyperplasia: Answer = Answer.UNKNOWN
    lcis: Answer = Answer.UNKNOWN
    ovarian_cancer: Answer = Answer.UNKNOWN  # the patient's own
    ashkenazi_ancestry: Answer = Answer.UNKNOWN
    brca1: GeneResult = GeneResult.NOT_TESTED
    brca2: GeneResult = GeneResult.NOT_TESTED
    number_of_sisters: int | None = None
    number_of_daughters: int | None = None
    number_of_half_sisters: int | None = None
    number_of_aunts: int | None = None
    family: tuple[FamilyMember, ...] = ()

    def __post_init__(self) -> None:
        _age("age", self.age, low=18, optional=False)
        _age("height_m", self.height_m, low=1.0, high=2.5)
        _age("weight_kg", self.weight_kg, low=25, high=350)
        _age("age_at_menarche", self.age_at_menarche, low=6, high=25)
        _count("parity", self.parity)
        _age("age_at_first_birth", self.age_at_first_birth, low=10, high=60)
        _age("age_at_menopause", self.age_at_menopause, low=20, high=70)
        for name, kind in (
            ("menopause_status", MenopauseStatus),
            ("hrt_use", HrtUse),
            ("benign_breast_disease", Answer),
            ("atypical_hyperplasia", Answer),
            ("lcis", Answer),
            ("ovarian_cancer", Answer),
            ("ashkenazi_ancestry", Answer),
            ("brca1", GeneResult),
            ("brca2", GeneResult),
        ):
            _enum(name, getattr(self, name), kind)
        for name in _FAMILY_SIZE:
            _count(name, getattr(self, name))
        if not isinstance(self.family, tuple) or not all(isinstance(m, FamilyMember) for m in self.family):
            raise RiskInputError("family", RULE_TYPE, "expected a tuple of FamilyMember")
        self._check_reproductive()
        self._check_family()

    def _not_after_today(self, field: str, value: float | None) -> None:
        if value is not None and value > self.age:
            raise RiskInputError(field, RULE_CONSISTENCY, f"{value} is after the current age")

    def _check_reproductive(self) -> None:
        for field in ("age_at_menarche", "age_at_first_birth", "age_at_menopause"):
            self._not_after_today(field, getattr(self, field))
        menarche, first = self.age_at_menarche, self.age_at_first_birth
        if first is not None and self.parity == 0:
            raise RiskInputError("age_at_first_birth", RULE_CONSISTENCY, "given with parity 0 (nulliparous)")
        if first is not None and menarche is not None and first < menarche:
            raise RiskInputError("age_at_first_birth", RULE_CONSISTENCY, "before menarche")
        menopause = self.age_at_menopause
        if menopause is not None and self.menopause_status != MenopauseStatus.POST:
            raise RiskInputError(
                "age_at_menopause", RULE_CONSISTENCY, "given but status is not post-menopausal"
            )
        if menopause is not None and menarche is not None and menopause <= menarche:
            raise RiskInputError("age_at_menopause", RULE_CONSISTENCY, "not after menarche")
        atypia_or_lcis = Answer.YES in (self.lcis, self.atypical_hyperplasia)
        if atypia_or_lcis and self.benign_breast_disease == Answer.NO:
            detail = "'no' but atypical hyperplasia or LCIS is 'yes'"
            raise RiskInputError("benign_breast_disease", RULE_CONSISTENCY, detail)

    def _check_family(self) -> None:
        for i, member in enumerate(self.family):
            for field in ("breast_cancer_age", "ovarian_cancer_age"):
                value = getattr(member, field)
                # a daughter is younger than the patient, so was her age at diagnosis
                if member.relation == Relation.DAUGHTER and value is not None and value >= self.age:
                    raise RiskInputError(
                        f"family[{i}].{field}", RULE_CONSISTENCY, "not below the patient's age"
                    )
        for relation in _ONLY_ONE:
            if sum(m.relation == relation for m in self.family) > 1:
                raise RiskInputError("family", RULE_CONSISTENCY, f"more than one {relation.value}")
        for name, relations in _FAMILY_SIZE.items():
            size = getattr(self, name)
            affected = sum(m.relation in relations for m in self.family)
            if size is not None and affected > size:
                raise RiskInputError(name, RULE_CONSISTENCY, f"{size} but {affected} listed in family")
