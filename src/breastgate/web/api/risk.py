"""``/api/risk``: breast-cancer risk from questionnaire answers.

- ``POST /api/risk/bcrat``: NCI BCRAT (Gail model) 5-year and lifetime risk
  (:mod:`breastgate.risk.bcrat`, a port of CRAN BCRA 2.1.2).
- ``POST /api/risk/tyrer-cuzick-inputs``: Tyrer-Cuzick (IBIS) answers, checked and echoed, never
  computed (:mod:`breastgate.risk.tyrer_cuzick`).

With a ``study_instance_uid`` of a study the gateway holds, the outcome is stored as that study's
result of algorithm ``breastgate.risk.bcrat`` / ``breastgate.risk.tyrer_cuzick_inputs`` (one row per
study and algorithm: a later answer replaces the earlier one), so the study's results document shows
the BCRAT figures in ``risk`` (DESIGN §4); storing is audited (``risk.recorded``, with the user of the
Bearer token or the anonymous client). Inputs a model rejects are a 422 problem+json whose
``field`` and ``rule`` name the answer and the rule (BCRA ``recode.check`` or breastgate's own).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind, canonical_data
from breastgate.domain.governance import Role
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, RiskEstimate
from breastgate.domain.payload import result_to_payload
from breastgate.risk import bcrat
from breastgate.risk.bcrat import AtypicalHyperplasia, BcratInputs, BcratRace, BcratResult
from breastgate.risk.errors import BcratInputError, RiskInputError
from breastgate.risk.tyrer_cuzick import (
    Answer,
    FamilyMember,
    GeneResult,
    HrtUse,
    MenopauseStatus,
    Relation,
    TyrerCuzickInputs,
)
from breastgate.store import audit, studies
from breastgate.store import results as result_store
from breastgate.web.api.access import Identity, allow
from breastgate.web.api.deps import SessionDep
from breastgate.web.api.problems import PROBLEM
from breastgate.web.api.schemas.risk import BcratRisk, TyrerCuzickInputsEcho

__all__ = ["BCRAT_ID", "BCRAT_VERSION", "TC_INPUTS_ID", "TC_INPUTS_VERSION", "input_problem", "router"]

BCRAT_ID = "breastgate.risk.bcrat"
BCRAT_VERSION = "1.0.0"  # of the port; the model it reproduces is named in bcrat.MODEL
TC_INPUTS_ID = "breastgate.risk.tyrer_cuzick_inputs"
TC_INPUTS_VERSION = "1.0.0"
TC_NOT_COMPUTED = "Tyrer-Cuzick (IBIS) inputs captured; no risk computed (IBIS is licensed software)"

RACE_NAMES = tuple(race.name.lower() for race in BcratRace)
_HYPERPLASIA = {
    "no": AtypicalHyperplasia.NO,
    "yes": AtypicalHyperplasia.YES,
    "unknown": AtypicalHyperplasia.UNKNOWN,
}

router = APIRouter(prefix="/api/risk", tags=["risk"])

#: Who records a risk questionnaire: the radiologist, the technologist at intake, the RIS.
RiskRecorder = Annotated[Identity, Depends(allow(Role.RADIOLOGIST, Role.TECHNOLOGIST, Role.INTEGRATION))]

_UID = Field(default=None, min_length=1, max_length=64, description="Store the outcome with this study")


class BcratRequest(BaseModel):
    """The eight BCRAT questions (``null`` = the patient does not know), as :class:`BcratInputs`."""

    model_config = ConfigDict(extra="forbid")

    study_instance_uid: str | None = _UID
    current_age: float = Field(description="Years; BCRAT needs 20 <= age < 90")
    projection_age: float | None = Field(default=None, description="Extra projection to this age (<= 90)")
    age_at_menarche: float | None
    age_at_first_live_birth: float | None
    nulliparous: bool = False
    number_of_biopsies: int | None
    atypical_hyperplasia: str = Field(
        description="On any biopsy: yes, no or unknown (unknown when there was no biopsy)",
        json_schema_extra={"enum": list(_HYPERPLASIA)},
    )
    first_degree_relatives: int | None = Field(description="Mother, sisters, daughters with breast cancer")
    race: str = Field(description="BCRAT race/ethnicity group", json_schema_extra={"enum": list(RACE_NAMES)})

    def to_inputs(self) -> BcratInputs:
        """The model's inputs; BcratInputError when an answer cannot be one."""
        hyperplasia = _HYPERPLASIA.get(self.atypical_hyperplasia.strip().lower())
        if hyperplasia is None:
            rule = bcrat.RULE_A if self.number_of_biopsies in (0, None) else bcrat.RULE_B
            raise BcratInputError(
                "atypical_hyperplasia", rule, f"{self.atypical_hyperplasia!r} is not yes/no/unknown"
            )
        name = self.race.strip().lower()
        if name not in RACE_NAMES:
            raise BcratInputError(
                "race", bcrat.RULE_RACE, f"{self.race!r} is not one of {', '.join(RACE_NAMES)}"
            )
        return BcratInputs(
            current_age=self.current_age,
            projection_age=self.projection_age,
            age_at_menarche=self.age_at_menarche,
            age_at_first_live_birth=self.age_at_first_live_birth,
            nulliparous=self.nulliparous,
            number_of_biopsies=self.number_of_biopsies,
            atypical_hyperplasia=hyperplasia,
            first_degree_relatives=self.first_degree_relatives,
            race=BcratRace[name.upper()],
        )


class FamilyMemberBody(BaseModel):
    """One relative with breast or ovarian cancer (or a BRCA result), as :class:`FamilyMember`."""

    model_config = ConfigDict(extra="forbid")

    relation: Relation
    breast_cancer_age: float | None = None
    bilateral: bool = False
    ovarian_cancer_age: float | None = None
    brca1: GeneResult = GeneResult.NOT_TESTED
    brca2: GeneResult = GeneResult.NOT_TESTED


class TyrerCuzickRequest(BaseModel):
    """The IBIS (Tyrer-Cuzick) answers, as :class:`TyrerCuzickInputs` (``null`` = not known)."""

    model_config = ConfigDict(extra="forbid")

    study_instance_uid: str | None = _UID
    age: float
    height_m: float | None = None
    weight_kg: float | None = None
    age_at_menarche: float | None = None
    parity: int | None = None
    age_at_first_birth: float | None = None
    menopause_status: MenopauseStatus = MenopauseStatus.UNKNOWN
    age_at_menopause: float | None = None
    hrt_use: HrtUse = HrtUse.UNKNOWN
    benign_breast_disease: Answer = Answer.UNKNOWN
    atypical_hyperplasia: Answer = Answer.UNKNOWN
    lcis: Answer = Answer.UNKNOWN
    ovarian_cancer: Answer = Answer.UNKNOWN
    ashkenazi_ancestry: Answer = Answer.UNKNOWN
    brca1: GeneResult = GeneResult.NOT_TESTED
    brca2: GeneResult = GeneResult.NOT_TESTED
    number_of_sisters: int | None = None
    number_of_daughters: int | None = None
    number_of_half_sisters: int | None = None
    number_of_aunts: int | None = None
    family: list[FamilyMemberBody] = Field(default_factory=list, max_length=50)

    def to_inputs(self) -> TyrerCuzickInputs:
        """The checked inputs; RiskInputError when the answers are implausible or inconsistent."""
        answers = self.model_dump(exclude={"study_instance_uid", "family"})
        family: list[FamilyMember] = []
        for i, member in enumerate(self.family):
            try:
                family.append(FamilyMember(**member.model_dump()))
            except RiskInputError as exc:  # name the relative, as the form lists them
                raise RiskInputError(f"family[{i}].{exc.field}", exc.rule, exc.detail) from None
        return TyrerCuzickInputs(**answers, family=tuple(family))


def _bcrat_response(result: BcratResult, inputs: BcratInputs) -> dict[str, Any]:
    return {
        "model": result.model,
        "algorithm_id": BCRAT_ID,
        "algorithm_version": BCRAT_VERSION,
        "five_year_pct": result.five_year_pct,
        "lifetime_pct": result.lifetime_pct,
        "projection_age": inputs.projection_age,
        "projection_pct": result.projection_pct,
        "average_five_year_pct": result.average_five_year_pct,
        "average_lifetime_pct": result.average_lifetime_pct,
        "average_projection_pct": result.average_projection_pct,
        "rr_under_50": result.rr_under_50,
        "rr_50_and_over": result.rr_50_and_over,
        "recodings": [asdict(r) for r in result.recodings],
        "bcra_inputs": inputs.bcra_codes(),
    }


def _store(session: Session, uid: str, result: AlgorithmResult, extra: dict[str, Any], who: str) -> None:
    """Store ``result`` (plus ``extra`` keys, kept for audit) as the study's result of its algorithm,
    and audit it (``risk.recorded``: who, which model, a digest of what was stored; no answers)."""
    study = studies.get_study_ref(session, uid)
    if study is None:
        raise HTTPException(404, "Study not found")
    payload = {**result_to_payload(result), **extra}
    result_store.save(
        session,
        study_instance_uid=uid,
        algorithm_id=result.algorithm_id,
        algorithm_version=result.algorithm_version,
        status=result.status.value,
        generation=study.generation,
        payload=payload,
    )
    audit.append(
        session,
        AuditKind.RISK_RECORDED,
        actor=who,
        study_instance_uid=uid,
        subject=f"{result.algorithm_id}@{result.algorithm_version}",
        data={
            "algorithm_id": result.algorithm_id,
            "version": result.algorithm_version,
            "status": result.status.value,
            "generation": study.generation,
            "output_digest": hashlib.sha256(canonical_data(payload).encode("utf-8")).hexdigest(),
        },
    )


@router.post("/bcrat", response_model=BcratRisk, response_model_exclude_unset=True)
def bcrat_risk(body: BcratRequest, session: SessionDep, user: RiskRecorder) -> dict[str, Any]:
    """5-year and lifetime (to 90) risk of invasive breast cancer by the NCI BCRAT (Gail model),
    with the "average" woman's figures and every recoding the tool applied to the answers."""
    inputs = body.to_inputs()
    result = bcrat.absolute_risk(inputs)
    response = _bcrat_response(result, inputs)
    uid = body.study_instance_uid
    if uid is not None:
        estimate = RiskEstimate(
            model=result.model,
            five_year_pct=result.five_year_pct,
            lifetime_pct=result.lifetime_pct,
            average_five_year_pct=result.average_five_year_pct,
            average_lifetime_pct=result.average_lifetime_pct,
        )
        stored = AlgorithmResult(BCRAT_ID, BCRAT_VERSION, uid, AlgorithmStatus.OK, risk=estimate)
        _store(session, uid, stored, {"bcrat": response}, user.actor)
    return {**response, "study_instance_uid": uid, "stored": uid is not None}


def _tc_json(inputs: TyrerCuzickInputs) -> dict[str, Any]:
    data = asdict(inputs)
    data["family"] = [asdict(m) for m in inputs.family]
    return {k: (str(v) if hasattr(v, "value") else v) for k, v in data.items()}


@router.post("/tyrer-cuzick-inputs", response_model=TyrerCuzickInputsEcho, response_model_exclude_unset=True)
def tyrer_cuzick_inputs(body: TyrerCuzickRequest, session: SessionDep, user: RiskRecorder) -> dict[str, Any]:
    """Check and echo the IBIS (Tyrer-Cuzick) answers; no risk is computed."""
    inputs = _tc_json(body.to_inputs())
    response: dict[str, Any] = {
        "model": "Tyrer-Cuzick (IBIS)",
        "algorithm_id": TC_INPUTS_ID,
        "algorithm_version": TC_INPUTS_VERSION,
        "computed": False,
        "message": TC_NOT_COMPUTED,
        "inputs": inputs,
    }
    uid = body.study_instance_uid
    if uid is not None:
        stored = AlgorithmResult(
            TC_INPUTS_ID, TC_INPUTS_VERSION, uid, AlgorithmStatus.SKIPPED, TC_NOT_COMPUTED
        )
        _store(session, uid, stored, {"tyrer_cuzick_inputs": inputs}, user.actor)
    return {**response, "study_instance_uid": uid, "stored": uid is not None}


def input_problem(_request: Request, exc: Exception) -> JSONResponse:
    """422 problem+json (RFC 9457) for a risk-model input, with ``field`` and ``rule`` members."""
    assert isinstance(exc, RiskInputError)
    body = {
        "type": "about:blank",
        "title": "Invalid risk-model input",
        "status": 422,
        "detail": str(exc),
        "field": exc.field,
        "rule": exc.rule,
    }
    return JSONResponse(body, status_code=422, media_type=PROBLEM)
