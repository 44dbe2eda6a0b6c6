"""Response models of the risk calculators (``/api/risk``), of the launch link's JSON form
(``/api/launch/{viewer}?format=json``) and of Sectra's Data Provider (``/v1``, Sectra's shapes)."""

from __future__ import annotations

from pydantic import Field

from breastgate.web.api.schemas.base import Number, Schema

__all__ = [
    "BcraInputs",
    "BcratRecoding",
    "BcratRisk",
    "FamilyMemberAnswers",
    "LaunchLink",
    "SectraCompatibility",
    "StructuredData",
    "TyrerCuzickAnswers",
    "TyrerCuzickInputsEcho",
]


class BcratRecoding(Schema):
    """One recoding the tool applied to an answer."""

    field: str
    value: str = Field(description="The answer as given")
    variable: str = Field(description="BCRA variable it set (NB_Cat, AM_Cat, AF_Cat, NR_Cat, R_Hyp)")
    category: Number
    reason: str


class BcraInputs(Schema):
    """The answers as BCRA's data-frame columns (99 unknown, 98 nulliparous)."""

    t1: Number = Field(alias="T1")
    t2: Number | None = Field(alias="T2")
    n_biop: Number = Field(alias="N_Biop")
    hyp_plas: Number = Field(alias="HypPlas")
    age_men: Number = Field(alias="AgeMen")
    age_1st: Number = Field(alias="Age1st")
    n_rels: Number = Field(alias="N_Rels")
    race: Number = Field(alias="Race")


class BcratRisk(Schema):
    """``POST /api/risk/bcrat``: NCI BCRAT (Gail model) absolute risks in percent."""

    model: str
    algorithm_id: str
    algorithm_version: str
    five_year_pct: Number | None = Field(description="None after age 85")
    lifetime_pct: Number | None = Field(description="To age 90")
    projection_age: Number | None
    projection_pct: Number | None
    average_five_year_pct: Number | None
    average_lifetime_pct: Number | None
    average_projection_pct: Number | None
    rr_under_50: Number
    rr_50_and_over: Number
    recodings: list[BcratRecoding]
    bcra_inputs: BcraInputs
    study_instance_uid: str | None
    stored: bool = Field(description="Stored as the study's result (shown in its results JSON)")


class FamilyMemberAnswers(Schema):
    relation: str
    breast_cancer_age: Number | None
    bilateral: bool
    ovarian_cancer_age: Number | None
    brca1: str
    brca2: str


class TyrerCuzickAnswers(Schema):
    """The IBIS (Tyrer-Cuzick) answers, checked (``null`` / ``unknown``: not known)."""

    age: Number
    height_m: Number | None
    weight_kg: Number | None
    age_at_menarche: Number | None
    parity: int | None
    age_at_first_birth: Number | None
    menopause_status: str
    age_at_menopause: Number | None
    hrt_use: str
    benign_breast_disease: str
    atypical_hyperplasia: str
    lcis: str
    ovarian_cancer: str
    ashkenazi_ancestry: str
    brca1: str
    brca2: str
    number_of_sisters: int | None
    number_of_daughters: int | None
    number_of_half_sisters: int | None
    number_of_aunts: int | None
    family: list[FamilyMemberAnswers]


class TyrerCuzickInputsEcho(Schema):
    """``POST /api/risk/tyrer-cuzick-inputs``: the answers echoed; no risk is computed."""

    model: str
    algorithm_id: str
    algorithm_version: str
    computed: bool
    message: str
    inputs: TyrerCuzickAnswers
    study_instance_uid: str | None
    stored: bool


class LaunchLink(Schema):
    """``GET /api/launch/{viewer}?format=json``: a fresh launch URL for a client that opens it."""

    viewer: str
    url: str
    expires_in_seconds: Number


class SectraCompatibility(Schema):
    uid: str = Field(alias="Uid")
    version: Number = Field(alias="Version")


class StructuredData(Schema):
    """``POST /v1/getstructureddata/``: Sectra's answer shape; ``PropValues`` is a flat dict of
    scalars keyed by the template's property names (:mod:`breastgate.integrations.sectra.props`)."""

    compatibility: SectraCompatibility = Field(alias="Compatibility")
    prop_values: dict[str, str | Number] = Field(alias="PropValues")
