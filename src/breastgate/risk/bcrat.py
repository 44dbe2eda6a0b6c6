"""NCI Breast Cancer Risk Assessment Tool (BCRAT, Gail model): absolute risk of invasive breast cancer.

A line-by-line port of ``recode.check``, ``relative.risk`` and ``absolute.risk`` of the CRAN package
BCRA 2.1.2 (the NCI-maintained R implementation of the online tool), so a report can quote the same
5-year and lifetime (to age 90) risks as the tool, for the same inputs, and refuse the inputs the
tool refuses. Constants are in :mod:`breastgate.risk._bcrat_constants`.

Three steps, as in BCRA:

1. :func:`validate` applies the tool's error rules (``recode.check``: ``Error_Ind = 1``), raising
   :class:`~breastgate.reporting.errors.BcratInputError`, and recodes the inputs to the model's
   categories (NB_Cat, AM_Cat, AF_Cat, NR_Cat, R_Hyp), recording every recoding it applies (unknown →
   reference category, race-specific pooling) so a report can show them.
2. The relative risks at ages < 50 and ≥ 50 (``relative.risk``: RR_Star1, RR_Star2).
3. :func:`absolute_risk`: the competing-risk projection over single years of attained age
   (``absolute.risk``), for the woman and for the "average" woman of the same age and race group.

Inputs use natural values (``None`` = unknown); :meth:`BcratInputs.from_bcra_codes` accepts BCRA's
own codes (99 = unknown, 98 = nulliparous). Beyond the tool's rules breastgate rejects values R would
silently mis-code (a negative or non-integer number of biopsies, a first birth at age ≤ 0, counts of
99 or more that collide with the "unknown" code); those errors carry the rule prefix ``breastgate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

from breastgate.risk import _bcrat_constants as C
from breastgate.risk.errors import BcratInputError

__all__ = [
    "MODEL",
    "AtypicalHyperplasia",
    "BcratCovariates",
    "BcratInputs",
    "BcratRace",
    "BcratRecoding",
    "BcratResult",
    "absolute_risk",
    "validate",
]

_E = TypeVar("_E", bound=IntEnum)

MODEL = "NCI BCRAT (Gail model), CRAN BCRA 2.1.2"
UNKNOWN_CODE = 99
NULLIPAROUS_CODE = 98
LIFETIME_AGE = 90.0

RULE_T1 = "BCRA recode.check: 20 <= T1 < 90"
RULE_T2 = "BCRA recode.check: T2 <= 90"
RULE_T1_T2 = "BCRA recode.check: T1 < T2"
RULE_A = "BCRA recode.check requirement (A): HypPlas = 99 when N_Biop is 0 or 99 (unknown)"
RULE_B = "BCRA recode.check requirement (B): HypPlas in {0, 1, 99} when N_Biop is 1-98"
RULE_AGEMEN = "BCRA recode.check: 0 < AgeMen <= T1, or 99 (unknown)"
RULE_AGE1ST_T1 = "BCRA recode.check: Age1st <= T1, or 98 (nulliparous) / 99 (unknown)"
RULE_AGE1ST_MEN = "BCRA recode.check: Age1st >= AgeMen"
RULE_NRELS = "BCRA recode.check: N_Rels is 0, 1, 2-98 or 99 (unknown)"
RULE_RACE = "BCRA recode.check: Race in 1-11"
RULE_TYPE = "breastgate: value type"
RULE_CODE = "breastgate: 98/99 are BCRA codes, use None (unknown) or nulliparous=True"
RULE_RANGE = "breastgate: value BCRA would mis-code"


class BcratRace(IntEnum):
    """Race/ethnicity group, valued as BCRA's ``Race`` code (it selects the rates and coefficients)."""

    WHITE = 1
    AFRICAN_AMERICAN = 2
    HISPANIC_US_BORN = 3
    OTHER_OR_UNKNOWN = 4  # Native American, other, unknown: white rates and coefficients
    HISPANIC_FOREIGN_BORN = 5
    CHINESE = 6
    JAPANESE = 7
    FILIPINO = 8
    HAWAIIAN = 9
    OTHER_PACIFIC_ISLANDER = 10
    OTHER_ASIAN = 11


_HISPANIC = frozenset({BcratRace.HISPANIC_US_BORN, BcratRace.HISPANIC_FOREIGN_BORN})
_ASIAN = frozenset(BcratRace(code) for code in range(6, 12))


class AtypicalHyperplasia(IntEnum):
    """Atypical hyperplasia on any biopsy, valued as BCRA's ``HypPlas`` code."""

    NO = 0
    YES = 1
    UNKNOWN = 99  # also "not applicable" (no biopsy)


def _fmt(value: object) -> str:
    return "unknown" if value is None else str(value)


def _number(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BcratInputError(name, RULE_TYPE, f"expected a finite number, got {value!r}")


def _code(kind: type[_E], value: object) -> _E | None:
    """The member of a BCRA code enum for ``value`` (a member or its integer code), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        return kind(value)
    except ValueError:
        return None


def _count(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise BcratInputError(name, RULE_TYPE, f"expected a whole number or None, got {value!r}")
    if value >= UNKNOWN_CODE:
        raise BcratInputError(name, RULE_CODE, f"{value} collides with BCRA's unknown code 99")


@dataclass(frozen=True, kw_only=True)
class BcratInputs:
    """The eight BCRAT questions, in natural units; ``None`` means "unknown".

    Built objects have the right types and no values that collide with BCRA's codes; the tool's
    own consistency rules are checked by :func:`validate`.
    """

    current_age: float  # T1, years (may be fractional)
    projection_age: float | None = None  # T2 of an extra projection; 5-year and lifetime always given
    age_at_menarche: float | None
    age_at_first_live_birth: float | None
    nulliparous: bool = False
    number_of_biopsies: int | None
    atypical_hyperplasia: AtypicalHyperplasia
    first_degree_relatives: int | None  # mother, sisters, daughters with breast cancer
    race: BcratRace

    def __post_init__(self) -> None:
        _number("current_age", self.current_age, optional=False)
        _number("projection_age", self.projection_age, optional=True)
        _number("age_at_menarche", self.age_at_menarche, optional=True)
        _number("age_at_first_live_birth", self.age_at_first_live_birth, optional=True)
        _count("number_of_biopsies", self.number_of_biopsies)
        _count("first_degree_relatives", self.first_degree_relatives)
        if not isinstance(self.nulliparous, bool):
            raise BcratInputError("nulliparous", RULE_TYPE, f"expected True/False, got {self.nulliparous!r}")
        first = self.age_at_first_live_birth
        if self.nulliparous and first is not None:
            raise BcratInputError("age_at_first_live_birth", RULE_TYPE, "given for a nulliparous woman")
        if first is not None and not 0 < first < NULLIPAROUS_CODE:
            raise BcratInputError("age_at_first_live_birth", RULE_RANGE, f"{first} is not an age (0-98)")
        if self.number_of_biopsies is not None and self.number_of_biopsies < 0:
            raise BcratInputError("number_of_biopsies", RULE_RANGE, "negative (BCRA would count it as ≥ 2)")
        race = _code(BcratRace, self.race)
        if race is None:
            raise BcratInputError("race", RULE_RACE, f"{self.race!r} is not a BCRA race code")
        object.__setattr__(self, "race", race)
        hyperplasia = _code(AtypicalHyperplasia, self.atypical_hyperplasia)
        if hyperplasia is None:
            rule = RULE_A if self.number_of_biopsies in (0, None) else RULE_B
            detail = f"{self.atypical_hyperplasia!r} is not 0/1/99"
            raise BcratInputError("atypical_hyperplasia", rule, detail)
        object.__setattr__(self, "atypical_hyperplasia", hyperplasia)

    @classmethod
    def from_bcra_codes(
        cls,
        *,
        t1: float,
        t2: float | None,
        n_biop: int,
        hyp_plas: int,
        age_men: float,
        age_1st: float,
        n_rels: int,
        race: int,
    ) -> BcratInputs:
        """Build from the columns of BCRA's input data frame (99 = unknown, ``Age1st`` 98 = nulliparous)."""
        return cls(
            current_age=t1,
            projection_age=t2,
            age_at_menarche=None if age_men == UNKNOWN_CODE else age_men,
            age_at_first_live_birth=None if age_1st in (UNKNOWN_CODE, NULLIPAROUS_CODE) else age_1st,
            nulliparous=age_1st == NULLIPAROUS_CODE,
            number_of_biopsies=None if n_biop == UNKNOWN_CODE else n_biop,
            atypical_hyperplasia=hyp_plas,  # type: ignore[arg-type]  # coerced (and checked) on build
            first_degree_relatives=None if n_rels == UNKNOWN_CODE else n_rels,
            race=race,  # type: ignore[arg-type]  # coerced (and checked) on build
        )

    def bcra_codes(self) -> dict[str, Any]:
        """The inputs as BCRA's data-frame columns (for audit and for comparing with the R tool)."""
        age_1st = (
            NULLIPAROUS_CODE
            if self.nulliparous
            else (UNKNOWN_CODE if self.age_at_first_live_birth is None else self.age_at_first_live_birth)
        )
        return {
            "T1": self.current_age,
            "T2": self.projection_age,
            "N_Biop": UNKNOWN_CODE if self.number_of_biopsies is None else self.number_of_biopsies,
            "HypPlas": int(self.atypical_hyperplasia),
            "AgeMen": UNKNOWN_CODE if self.age_at_menarche is None else self.age_at_menarche,
            "Age1st": age_1st,
            "N_Rels": UNKNOWN_CODE if self.first_degree_relatives is None else self.first_degree_relatives,
            "Race": int(self.race),
        }


@dataclass(frozen=True)
class BcratRecoding:
    """One recoding the tool applies to an answer, worded for a report."""

    field: str  # BcratInputs field
    value: str  # the answer as given ("unknown", "nulliparous", "3" ...)
    variable: str  # BCRA variable set (NB_Cat, AM_Cat, AF_Cat, NR_Cat, R_Hyp)
    category: float  # value it is set to
    reason: str


@dataclass(frozen=True)
class BcratCovariates:
    """The model's covariates after ``recode.check`` and race-specific pooling."""

    race: BcratRace
    nb_cat: int  # biopsies: 0 none/unknown, 1 one, 2 two or more
    am_cat: int  # menarche: 0 ≥ 14/unknown, 1 12-13, 2 < 12
    af_cat: int  # first live birth: 0 < 20/unknown, 1 20-24, 2 25-29/nulliparous, 3 ≥ 30
    nr_cat: int  # first-degree relatives: 0 none/unknown, 1 one, 2 two or more
    r_hyp: float  # atypical-hyperplasia multiplier
    recodings: tuple[BcratRecoding, ...] = field(default=())

    @property
    def pattern_number(self) -> int:
        """BCRA's covariate pattern, 1-108."""
        return self.nb_cat * 36 + self.am_cat * 12 + self.af_cat * 3 + self.nr_cat + 1

    def relative_risks(self) -> tuple[float, float]:
        """RR_Star1 (attained ages < 50) and RR_Star2 (≥ 50), as BCRA ``relative.risk``."""
        beta = C.BETA[self.race]
        lp1 = (
            self.nb_cat * beta[0]
            + self.am_cat * beta[1]
            + self.af_cat * beta[2]
            + self.nr_cat * beta[3]
            + self.af_cat * self.nr_cat * beta[5]
            + math.log(self.r_hyp)
        )
        lp2 = lp1 + self.nb_cat * beta[4]
        return math.exp(lp1), math.exp(lp2)


@dataclass(frozen=True)
class BcratResult:
    """Absolute risks in percent; ``None`` where BCRA cannot project (end age beyond 90 or not asked)."""

    five_year_pct: float | None  # T1 → T1 + 5; None when T1 > 85
    lifetime_pct: float  # T1 → 90
    projection_pct: float | None  # T1 → projection_age, when given
    average_five_year_pct: float | None  # same, for the "average" woman of the same age and race group
    average_lifetime_pct: float
    average_projection_pct: float | None
    rr_under_50: float
    rr_50_and_over: float
    covariates: BcratCovariates
    model: str = MODEL

    @property
    def recodings(self) -> tuple[BcratRecoding, ...]:
        """Recodings the tool applied to the answers (for the report)."""
        return self.covariates.recodings


def _check_ages(inputs: BcratInputs) -> None:
    t1, t2 = inputs.current_age, inputs.projection_age
    if not 20 <= t1 < LIFETIME_AGE:
        raise BcratInputError("current_age", RULE_T1, f"{t1} is outside [20, 90)")
    if t2 is not None and t2 > LIFETIME_AGE:
        raise BcratInputError("projection_age", RULE_T2, f"{t2} is beyond 90")
    if t2 is not None and t1 >= t2:
        raise BcratInputError("projection_age", RULE_T1_T2, f"{t2} is not after the current age {t1}")


def _check_reproductive(inputs: BcratInputs) -> None:
    t1, men, first = inputs.current_age, inputs.age_at_menarche, inputs.age_at_first_live_birth
    if men is not None and not 0 < men <= t1:
        raise BcratInputError("age_at_menarche", RULE_AGEMEN, f"{men} is not in (0, current age {t1}]")
    if inputs.race == BcratRace.AFRICAN_AMERICAN or first is None:
        return  # the CARE model has no first-birth term: R sets AF_Cat = 0 before its error check
    if first > t1:
        raise BcratInputError("age_at_first_live_birth", RULE_AGE1ST_T1, f"{first} is after age {t1}")
    if men is not None and first < men:
        raise BcratInputError("age_at_first_live_birth", RULE_AGE1ST_MEN, f"{first} is before menarche")


def _check_counts(inputs: BcratInputs) -> None:
    n, hyp = inputs.number_of_biopsies, inputs.atypical_hyperplasia
    if n in (0, None) and hyp != AtypicalHyperplasia.UNKNOWN:
        raise BcratInputError("atypical_hyperplasia", RULE_A, f"must be unknown when biopsies are {_fmt(n)}")
    rels = inputs.first_degree_relatives
    if rels is not None and rels < 0:
        raise BcratInputError("first_degree_relatives", RULE_NRELS, f"{rels} is negative")


def _generic_categories(inputs: BcratInputs, rec: list[BcratRecoding]) -> tuple[int, int, int, int, float]:
    """NB_Cat, AM_Cat, AF_Cat, NR_Cat and R_Hyp before race-specific pooling (``recode.check``)."""
    n = inputs.number_of_biopsies
    nb = 0 if n in (0, None) else (1 if n == 1 else 2)
    if n is None:
        rec.append(BcratRecoding("number_of_biopsies", "unknown", "NB_Cat", 0, "unknown counted as none"))
    hyp = inputs.atypical_hyperplasia
    if nb == 0:
        r_hyp = 1.0  # no (or unknown) biopsy: hyperplasia not applicable
    elif hyp == AtypicalHyperplasia.UNKNOWN:
        r_hyp = C.R_HYP_UNKNOWN
        reason = "unknown atypical hyperplasia after a biopsy: no multiplier"
        rec.append(BcratRecoding("atypical_hyperplasia", "unknown", "R_Hyp", r_hyp, reason))
    else:
        r_hyp = C.R_HYP_HYPERPLASIA if hyp == AtypicalHyperplasia.YES else C.R_HYP_NO_HYPERPLASIA

    men = inputs.age_at_menarche
    am = 0 if men is None or men >= 14 else (1 if men >= 12 else 2)
    if men is None:
        rec.append(BcratRecoding("age_at_menarche", "unknown", "AM_Cat", 0, "unknown counted as ≥ 14"))

    first = inputs.age_at_first_live_birth
    if inputs.nulliparous:
        af = 2
    elif first is None:
        af = 0
        rec.append(
            BcratRecoding("age_at_first_live_birth", "unknown", "AF_Cat", 0, "unknown counted as < 20")
        )
    else:
        af = 0 if first < 20 else (1 if first < 25 else (2 if first < 30 else 3))

    rels = inputs.first_degree_relatives
    nr = 0 if rels in (0, None) else (1 if rels == 1 else 2)
    if rels is None:
        rec.append(BcratRecoding("first_degree_relatives", "unknown", "NR_Cat", 0, "unknown counted as none"))
    return nb, am, af, nr, r_hyp


_FIELD = {
    "NB_Cat": "number_of_biopsies",
    "AM_Cat": "age_at_menarche",
    "AF_Cat": "age_at_first_live_birth",
    "NR_Cat": "first_degree_relatives",
}
_AA = frozenset({BcratRace.AFRICAN_AMERICAN})
# Race-specific pooling of recode.check, applied to the generic categories (never chained):
# (race groups, variable, from, to, reason). Hispanic AF 2 → 1 applies to a first birth at 25-29
# only: R keeps nulliparous women (also AF 2) at 2.
_POOLING: tuple[tuple[frozenset[BcratRace], str, int, int, str], ...] = (
    (_AA, "AM_Cat", 2, 1, "CARE model: < 12 pooled with 12-13"),
    (_HISPANIC, "NB_Cat", 2, 1, "SFBCS model: ≥ 2 pooled with 1"),
    (_HISPANIC, "AF_Cat", 2, 1, "SFBCS model: 25-29 pooled with 20-24"),
    (_HISPANIC, "AF_Cat", 3, 2, "SFBCS model: ≥ 30 pooled with nulliparous"),
    (_HISPANIC, "NR_Cat", 2, 1, "SFBCS model: ≥ 2 pooled with 1"),
    (_ASIAN, "NR_Cat", 2, 1, "AABCS model: ≥ 2 pooled with 1"),
)
# Factors a race group's model leaves out (set to 0): (race groups, variable, reason)
_DROPPED: tuple[tuple[frozenset[BcratRace], str, str], ...] = (
    (_AA, "AF_Cat", "not in the CARE model for African-American women (set to 0)"),
    (
        frozenset({BcratRace.HISPANIC_US_BORN}),
        "AM_Cat",
        "not in the SFBCS model for US-born Hispanic women (set to 0)",
    ),
)


def _answer(inputs: BcratInputs, variable: str) -> str:
    if variable == "AF_Cat" and inputs.nulliparous:
        return "nulliparous"
    return _fmt(getattr(inputs, _FIELD[variable]))


def validate(inputs: BcratInputs) -> BcratCovariates:
    """Apply BCRA's error rules and recodings; return the covariates or raise ``BcratInputError``.

    The rules are those that set ``Error_Ind = 1`` in BCRA ``recode.check``; the recodings include
    the race-specific pooling of the CARE (African-American), SFBCS (Hispanic) and AABCS (Asian)
    models, recorded in ``BcratCovariates.recodings``.
    """
    _check_ages(inputs)
    _check_counts(inputs)
    _check_reproductive(inputs)
    rec: list[BcratRecoding] = []
    nb, am, af, nr, r_hyp = _generic_categories(inputs, rec)
    race = inputs.race
    generic = {"NB_Cat": nb, "AM_Cat": am, "AF_Cat": af, "NR_Cat": nr}
    cats = dict(generic)
    for groups, variable, old, new, reason in _POOLING:
        nulliparous_af = variable == "AF_Cat" and inputs.nulliparous
        if race in groups and generic[variable] == old and not nulliparous_af:
            cats[variable] = new
            rec.append(BcratRecoding(_FIELD[variable], _answer(inputs, variable), variable, new, reason))
    for groups, variable, reason in _DROPPED:
        if race in groups:
            cats[variable] = 0
            if _answer(inputs, variable) != "unknown":
                rec.append(BcratRecoding(_FIELD[variable], _answer(inputs, variable), variable, 0, reason))
    if inputs.nulliparous and race not in _AA:
        same = "≥ 30 (SFBCS model)" if race in _HISPANIC else "25-29"
        reason = f"nulliparous: same category as a first birth at {same}"
        rec.append(BcratRecoding("age_at_first_live_birth", "nulliparous", "AF_Cat", 2, reason))
    return BcratCovariates(
        race, cats["NB_Cat"], cats["AM_Cat"], cats["AF_Cat"], cats["NR_Cat"], r_hyp, tuple(rec)
    )


def _projected_pct(race: BcratRace, rr: tuple[float, float], t1: float, t2: float, *, average: bool) -> float:
    """BCRA ``absolute.risk`` for one woman from age ``t1`` to ``t2``, in percent.

    Single years of attained age j carry the hazard h_j = F·RR·λ1 (F = 1 − attributable risk, RR
    switching at attained age 50) and Γ_j = h_j + λ2; the risk is Σ h_j/Γ_j · exp(−Σ_{k<j} Γ_k L_k)
    · (1 − exp(−Γ_j L_j)), with partial first/last years of length L. The "average" woman has
    F·RR = 1 and, for race 1 and 4, the 1992-96 white rates.
    """
    if average:
        white_like = race in (BcratRace.WHITE, BcratRace.OTHER_OR_UNKNOWN)
        lambda1 = C.AVG_WHITE_LAMBDA1 if white_like else C.LAMBDA1[race]
        lambda2 = C.AVG_WHITE_LAMBDA2 if white_like else C.LAMBDA2[race]
        f_rr = (1.0, 1.0)
    else:
        lambda1, lambda2 = C.LAMBDA1[race], C.LAMBDA2[race]
        one_ar = C.ONE_MINUS_AR[race]
        f_rr = (one_ar[0] * rr[0], one_ar[1] * rr[1])
    start = math.floor(t1)
    intervals = math.ceil(t2) - start
    risk = 0.0
    cumulative = 0.0
    for j in range(intervals):
        if intervals == 1:
            length = t2 - t1
        elif j == 0:
            length = 1 - (t1 - start)
        elif j == intervals - 1:
            length = t2 - math.floor(t2) if t2 > math.floor(t2) else 1.0
        else:
            length = 1.0
        age = start + j
        band = (age - 20) // 5
        one_ar_rr = f_rr[0] if age < 50 else f_rr[1]
        gamma = lambda1[band] * one_ar_rr + lambda2[band]
        risk += ((one_ar_rr * lambda1[band] / gamma) * math.exp(-cumulative)) * (
            1 - math.exp(-gamma * length)
        )
        cumulative += gamma * length
    return 100 * risk


def absolute_risk(inputs: BcratInputs) -> BcratResult:
    """5-year, lifetime (to 90) and optional T1 → T2 absolute risk, as the NCI tool computes them.

    Raises ``BcratInputError`` for inputs the tool rejects. The 5-year risk is ``None`` above age 85
    because BCRA does not project beyond 90.
    """
    cov = validate(inputs)
    rr = cov.relative_risks()
    t1, t2 = inputs.current_age, inputs.projection_age

    def both(end: float | None) -> tuple[float | None, float | None]:
        if end is None or end > LIFETIME_AGE:
            return None, None
        return (
            _projected_pct(cov.race, rr, t1, end, average=False),
            _projected_pct(cov.race, rr, t1, end, average=True),
        )

    five, avg_five = both(t1 + 5)
    life, avg_life = both(LIFETIME_AGE)
    proj, avg_proj = both(t2)
    assert life is not None and avg_life is not None  # T1 < 90 is checked by validate
    return BcratResult(
        five_year_pct=five,
        lifetime_pct=life,
        projection_pct=proj,
        average_five_year_pct=avg_five,
        average_lifetime_pct=avg_life,
        average_projection_pct=avg_proj,
        rr_under_50=rr[0],
        rr_50_and_over=rr[1],
        covariates=cov,
    )
