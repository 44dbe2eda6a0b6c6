"""HL7 v2 messages out: ORU^R01 with a study's AI results, and the order priority update.

ORU^R01 (v2.5.1) carries, as OBX segments under one OBR for the study's order:

====  =====  =================================================================================
OBX   type   content (OBX-3 code ^ text ^ ``99BG``, breastgate's local coding system)
====  =====  =================================================================================
1     NM     ``TRIAGE_SCORE`` case suspicion 0-100 (OBX-7 reference range ``0-100``)
2     CWE    ``TRIAGE_PRIORITY`` stat | urgent | routine, with the table 0027 code (S, A, R)
3     CWE    ``TRIAGE_FLAG`` one OBX per flag (suspicious_finding, birads_0_suspected, ...)
4     ST     ``TRIAGE_POLICY`` the policy ``id@version`` that set priority and flags
5     CWE    ``DENSITY`` BI-RADS 5th edition category a-d with its regulatory sentence
6     CWE    ``BIRADS_DRAFT`` assessment category draft 0-6 (ACR BI-RADS)
7     TX     ``RECOMMENDATION`` the draft recommendation
8     CWE    ``PRIOR_STATUS`` held | none_available | not_in_time | not_sought, with its wording
             (when an algorithm read priors); then ``PRIOR_STUDY`` (ST, Study Instance UID) and
             ``PRIOR_STUDY_DATE`` (DT) of the prior compared with, when known
9     CWE    ``DENSITY_PRIOR`` the prior's category a-d; NM ``DENSITY_CHANGE`` percent density now
             minus the prior's, in percentage points (OBX-6 ``%``) (when density was compared)
10    TX     ``FINDING`` one OBX per finding shown: kind, side, clock, depth, distance, size, score,
             and its change since the prior; the rows of one finding share OBX-4 (sub-ID = its
             number, 1-based in the order given), followed by:
             CWE ``FINDING_CHANGE`` CID 6002 SNOMED CT code (``129721008^New finding^SCT``, ...)
             with breastgate's word as the alternate (``new^new^99BG``);
             NM ``FINDING_SIZE_CHANGE`` current minus prior size and NM ``FINDING_PRIOR_SIZE``
             (OBX-6 ``mm``); for DCE-MRI kinetics CWE ``KINETIC_INITIAL_PHASE`` (slow | medium |
             fast), CWE ``KINETIC_DELAYED_PHASE`` (persistent | plateau | washout), CWE
             ``KINETIC_CURVE_TYPE`` (I | II | III) and NM ``PEAK_ENHANCEMENT`` (OBX-6 ``%``)
11    ST     ``ALGORITHM`` one OBX per algorithm: ``id version status``
12    TX     ``REPORT_DRAFT`` the report draft text, one repetition per line (when given)
13    TX     ``DISCLAIMER`` the not-for-diagnostic-use label of the built-in algorithms
====  =====  =================================================================================

Result status is ``P`` (preliminary) in OBR-25 and every OBX-11: these are AI drafts until a
radiologist confirms them. Local codes are used because no standard code exists for an AI triage
score or flag (reference sectra.md §2: sites map fields to their RIS); the table above is the
contract a site's interface engine is configured against.

The priority update is ORM^O01 with ORC-1 ``XO`` and the priority in ORC-7/OBR-27 component 6
(v2.3.1 style), or OMI^O23 with TQ1-9 (v2.5.1 style); which one a RIS reads is site configuration
(reference dicom-sr.md §6.2, sectra.md §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from breastgate.domain.density import density_sentence
from breastgate.domain.model import (
    NOT_FOR_DIAGNOSTIC_USE,
    PRIOR_STATUS_TEXT,
    AlgorithmResult,
    AlgorithmStatus,
    CaseAssessment,
    ChangeKind,
    Finding,
    Priority,
    PriorStatus,
    Triage,
)
from breastgate.domain.orders import PatientDemographics
from breastgate.hl7.profile import DEFAULT_PROFILE, Hl7Profile
from breastgate.hl7.vocab import escape_hl7

CODING_SYSTEM = "99BG"
#: Table 0027 priority codes for the worklist priorities.
PRIORITY_CODE = {Priority.STAT: "S", Priority.URGENT: "A", Priority.ROUTINE: "R"}
_KIND_TEXT = {
    "mass": "mass",
    "calcification_cluster": "grouped calcifications",
    "architectural_distortion": "architectural distortion",
    "asymmetry": "asymmetry",
    "enhancing_lesion": "enhancing lesion",
    "us_lesion": "ultrasound lesion",
}
_SIDE = {"L": "left", "R": "right"}
#: PS3.16 CID 6002 "Change since last mammogram or prior surgery" (SNOMED CT; HL7 table 0396 SCT).
CHANGE_CODES = {
    ChangeKind.NEW: ("129721008", "New finding"),
    ChangeKind.STABLE: ("129723006", "No significant changes in the finding"),
    ChangeKind.INCREASED: ("15454001", "Increase in size"),
    ChangeKind.DECREASED: ("19776001", "Decrease in size"),
}
_CURVE_TEXT = {"I": "type I (persistent)", "II": "type II (plateau)", "III": "type III (washout)"}
MM = "mm^millimeter^UCUM"
PERCENT = "%^percent^UCUM"


@dataclass(frozen=True)
class MessageParties:
    """MSH-3..6 of an outbound message."""

    sending_application: str = "BREASTGATE"
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""


@dataclass(frozen=True)
class StudyOrderRef:
    """Which order and study a message is about (from the matched order, else the DICOM study)."""

    study_instance_uid: str
    patient: PatientDemographics
    accession_number: str | None = None
    placer_order_number: str | None = None
    filler_order_number: str | None = None
    requested_procedure_id: str | None = None
    procedure_code: str | None = None
    procedure_text: str | None = None
    modality: str = "MG"


def _e(value: object) -> str:
    return escape_hl7("" if value is None else str(value))


def _segment(name: str, fields: dict[int, str]) -> str:
    """A segment from {field number: encoded value}; absent fields are empty."""
    last = max((k for k, v in fields.items() if v), default=0)
    return "|".join([name] + [fields.get(k, "") for k in range(1, last + 1)])


def _msh(kind: str, control_id: str, parties: MessageParties, now: datetime, version: str) -> str:
    return "|".join(
        [
            "MSH",
            "^~\\&",
            _e(parties.sending_application),
            _e(parties.sending_facility),
            _e(parties.receiving_application),
            _e(parties.receiving_facility),
            now.strftime("%Y%m%d%H%M%S"),
            "",
            kind,
            control_id,
            "P",
            version,
        ]
    )


def _pid(patient: PatientDemographics) -> str:
    name = "^".join(_e(part) for part in (patient.name or "").split("^"))
    identifier = f"{_e(patient.patient_id)}^^^{_e(patient.issuer or '')}^MR"
    return _segment(
        "PID", {1: "1", 3: identifier, 5: name, 7: _e(patient.birth_date or ""), 8: _e(patient.sex or "")}
    )


def finding_text(finding: Finding) -> str:
    """One line per finding, in words a reader and an interface engine both take."""
    parts = [f"{_KIND_TEXT.get(finding.kind.value, finding.kind.value)}, {_SIDE[finding.laterality]} breast"]
    loc = finding.location
    if loc is not None:
        if loc.clock is not None:
            parts.append(f"{loc.clock} o'clock")
        if loc.depth:
            parts.append(f"{loc.depth} depth")
        if loc.distance_from_nipple_mm is not None:
            parts.append(f"{loc.distance_from_nipple_mm / 10:.1f} cm from the nipple")
    if finding.diameters_mm is not None:
        parts.append(" x ".join(f"{d:.0f}" for d in finding.diameters_mm) + " mm")
    elif finding.size_mm is not None:
        parts.append(f"{finding.size_mm:.0f} mm")
    parts.append(f"AI score {finding.score:.2f}")
    comparison = finding.comparison
    if comparison is not None:
        since = "since prior" + (f" of {comparison.prior_study_date}" if comparison.prior_study_date else "")
        size = comparison.size_change_mm
        grew_or_shrank = comparison.change in (ChangeKind.INCREASED, ChangeKind.DECREASED)
        by = f" by {abs(size):.1f} mm" if size and grew_or_shrank else ""
        parts.append(f"{comparison.change.value}{by} {since}")
    kinetics = finding.kinetics
    if kinetics is not None:
        parts.append(
            f"kinetics: initial phase {kinetics.initial_phase.value}, delayed phase "
            f"{kinetics.delayed_phase.value} (type {kinetics.curve_type} curve)"
        )
    return ", ".join(parts)


def prior_status(results: Sequence[AlgorithmResult]) -> PriorStatus | None:
    """The study's prior status over its ok results: held when any algorithm compared, else the
    most telling of the others; None when no algorithm read priors."""
    statuses = {r.priors.status for r in results if r.status == AlgorithmStatus.OK and r.priors}
    order = (PriorStatus.HELD, PriorStatus.NOT_IN_TIME, PriorStatus.NONE_AVAILABLE, PriorStatus.NOT_SOUGHT)
    return next((s for s in order if s in statuses), None)


def _number(value: float, places: int = 1, signed: bool = False) -> str:
    """An HL7 NM: optional leading sign, digits, optional decimal point (HL7 v2.5.1 §2.A.47)."""
    return f"{value:+.{places}f}" if signed else f"{value:.{places}f}"


def order_group(
    ref: StudyOrderRef,
    stamp: str,
    *,
    status: str,
    service: str,
    orc: dict[int, str] | None = None,
    obr: dict[int, str] | None = None,
) -> list[str]:
    """The ORC and OBR of a result about ``ref``'s order: placer, filler, accession, the ordered
    procedure (else ``service``), result status ``status`` (OBR-25), plus the extra ``orc`` and
    ``obr`` fields (already encoded)."""
    accession, placer = _e(ref.accession_number or ""), _e(ref.placer_order_number or "")
    filler = _e(ref.filler_order_number or ref.accession_number or "")
    if ref.procedure_code:
        service = f"{_e(ref.procedure_code)}^{_e(ref.procedure_text or '')}^L"
    obr_fields = {
        1: "1", 2: placer, 3: filler, 4: service, 7: stamp, 18: accession, 22: stamp,
        24: _e(ref.modality), 25: status, **(obr or {}),
    }  # fmt: skip
    return [
        _segment("ORC", {1: "RE", 2: placer, 3: filler, 5: "CM", **(orc or {})}),
        _segment("OBR", obr_fields),
    ]


def build_oru(
    ref: StudyOrderRef,
    *,
    control_id: str,
    triage: Triage,
    assessment: CaseAssessment | None,
    results: Sequence[AlgorithmResult],
    findings: Sequence[Finding],
    report_lines: Sequence[str] = (),
    parties: MessageParties | None = None,
    now: datetime | None = None,
    profile: Hl7Profile = DEFAULT_PROFILE,
    links: Sequence[tuple[str, str]] = (),
) -> str:
    """ORU^R01 v2.5.1 with the study's triage, density, BI-RADS draft, findings and algorithms.

    ``profile`` codes the priority and flags (and may put the priority in the order group);
    ``links`` are (label, URL) references, e.g. breastgate's viewer-launch endpoints, sent as
    ``LAUNCH_LINK`` OBX rows of type RP."""
    parties = parties or MessageParties()
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%d%H%M%S")
    # (type, code^text, value, reference range, abnormal flag, units, sub-ID)
    obx: list[tuple[str, str, str, str, str, str, str]] = []

    def add(
        vtype: str,
        code: str,
        text: str,
        value: str,
        extra: str = "",
        abnormal: str = "",
        *,
        units: str = "",
        sub_id: str = "",
    ) -> None:
        obx.append((vtype, f"{code}^{text}^{CODING_SYSTEM}", value, extra, abnormal, units, sub_id))

    code = profile.code(triage.priority)
    abnormal = _e(profile.abnormal_flags.get(triage.priority.value, ""))
    add("NM", "TRIAGE_SCORE", "AI triage score", f"{triage.score:.1f}", "0-100", abnormal)
    add(
        "CWE",
        "TRIAGE_PRIORITY",
        "AI triage priority",
        f"{_e(code)}^{triage.priority.value}^HL70027",
        abnormal=abnormal,
    )
    for flag in triage.flags:
        flag_code, flag_text = profile.flag(flag)
        add(
            "CWE",
            "TRIAGE_FLAG",
            "AI triage flag",
            f"{_e(flag_code)}^{_e(flag_text)}^{_e(profile.flag_coding_system)}",
            abnormal=abnormal,
        )
    add("ST", "TRIAGE_POLICY", "Triage policy", _e(triage.policy))
    density = next((r.density for r in results if r.status == AlgorithmStatus.OK and r.density), None)
    if density is not None:
        sentence = density_sentence(density.category)
        add(
            "CWE",
            "DENSITY",
            "Breast density (BI-RADS 5th ed.)",
            f"{density.category}^{_e(sentence)}^{CODING_SYSTEM}",
        )
    if assessment is not None:
        add(
            "CWE",
            "BIRADS_DRAFT",
            "BI-RADS assessment (AI draft)",
            f"{_e(assessment.birads)}^BI-RADS {_e(assessment.birads)}^{CODING_SYSTEM}",
        )
        add("TX", "RECOMMENDATION", "Recommendation (AI draft)", _e(assessment.recommendation))
    _priors(add, results, findings)
    for number, finding in enumerate(findings, start=1):
        _finding_rows(add, finding, str(number))
    for r in results:
        add("ST", "ALGORITHM", "Algorithm", _e(f"{r.algorithm_id} {r.algorithm_version} {r.status.value}"))
    if report_lines:
        add("TX", "REPORT_DRAFT", "Report draft", "~".join(_e(line) for line in report_lines))
    for label, url in links:
        add("RP", "LAUNCH_LINK", "Viewer launch link", f"{_e(url)}^BREASTGATE^HTML^{_e(label)}")
    add("TX", "DISCLAIMER", "Disclaimer", _e(NOT_FOR_DIAGNOSTIC_USE))

    tq = _priority_fields(profile.oru_priority_fields, profile, triage.priority)
    segments = [
        _msh("ORU^R01^ORU_R01", control_id, parties, now, "2.5.1"),
        _pid(ref.patient),
        *order_group(
            ref,
            stamp,
            status="P",
            service=f"BG-AI^Breast imaging AI results^{CODING_SYSTEM}",
            orc={7: tq.get("ORC-7.6", "")},
            obr={27: tq.get("OBR-27.6", "")},
        ),
        *([_segment("TQ1", {1: "1", 9: tq["TQ1-9"]})] if "TQ1-9" in tq else []),
        f"ZDS|{_e(ref.study_instance_uid)}^BREASTGATE^Application^DICOM",
    ]
    for i, (vtype, code_text, value, ref_range, flag, units, sub_id) in enumerate(obx, start=1):
        segments.append(
            _segment(
                "OBX",
                {
                    1: str(i),
                    2: vtype,
                    3: code_text,
                    4: sub_id,
                    5: value,
                    6: units,
                    7: ref_range,
                    8: flag,
                    11: "P",
                    14: stamp,
                },
            )
        )
    return "\r".join(segments) + "\r"


class _Add(Protocol):
    def __call__(
        self,
        vtype: str,
        code: str,
        text: str,
        value: str,
        extra: str = "",
        abnormal: str = "",
        *,
        units: str = "",
        sub_id: str = "",
    ) -> None: ...


def _priors(add: _Add, results: Sequence[AlgorithmResult], findings: Sequence[Finding]) -> None:
    """PRIOR_STATUS, PRIOR_STUDY(_DATE), DENSITY_PRIOR and DENSITY_CHANGE rows (when compared)."""
    ok = [r for r in results if r.status == AlgorithmStatus.OK]
    status = prior_status(ok)
    if status is not None:
        add(
            "CWE",
            "PRIOR_STATUS",
            "Comparison with prior",
            f"{status.value}^{_e(PRIOR_STATUS_TEXT[status])}^{CODING_SYSTEM}",
        )
    change = next((r.density_change for r in ok if r.density_change is not None), None)
    compared = [f.comparison for f in findings if f.comparison is not None]
    prior_uid = (
        change.prior_study_instance_uid
        if change
        else next((c.prior_study_instance_uid for c in compared), None)
    )
    prior_date = (
        change.prior_study_date
        if change
        else next((c.prior_study_date for c in compared if c.prior_study_date), None)
    )
    if prior_uid:
        add("ST", "PRIOR_STUDY", "Prior study compared with", _e(prior_uid))
    if prior_date:
        add("DT", "PRIOR_STUDY_DATE", "Prior study date", _e(prior_date))
    if change is not None:
        category = change.prior_category.lower()
        add("CWE", "DENSITY_PRIOR", "Breast density of the prior (BI-RADS 5th ed.)",
            f"{_e(category)}^{_e(density_sentence(category))}^{CODING_SYSTEM}"
            if category in ("a", "b", "c", "d") else _e(category))  # fmt: skip
        add("NM", "DENSITY_CHANGE", "Percent density change since prior (percentage points)",
            _number(change.change_pp, signed=True), units=PERCENT)  # fmt: skip


def _finding_rows(add: _Add, finding: Finding, sub_id: str) -> None:
    """The OBX rows of one finding, sharing OBX-4 ``sub_id``."""
    add("TX", "FINDING", "AI finding", _e(finding_text(finding)), sub_id=sub_id)
    comparison = finding.comparison
    if comparison is not None:
        code, meaning = CHANGE_CODES[comparison.change]
        word = comparison.change.value
        add("CWE", "FINDING_CHANGE", "Change since prior (CID 6002)",
            f"{code}^{meaning}^SCT^{word}^{word}^{CODING_SYSTEM}", sub_id=sub_id)  # fmt: skip
        if comparison.size_change_mm is not None:
            add("NM", "FINDING_SIZE_CHANGE", "Size change since prior",
                _number(comparison.size_change_mm, signed=True), units=MM, sub_id=sub_id)  # fmt: skip
        if comparison.prior_size_mm is not None:
            add("NM", "FINDING_PRIOR_SIZE", "Size on the prior",
                _number(comparison.prior_size_mm), units=MM, sub_id=sub_id)  # fmt: skip
    kinetics = finding.kinetics
    if kinetics is not None:
        initial, delayed = kinetics.initial_phase.value, kinetics.delayed_phase.value
        add("CWE", "KINETIC_INITIAL_PHASE", "DCE-MRI initial phase",
            f"{initial}^{initial}^{CODING_SYSTEM}", sub_id=sub_id)  # fmt: skip
        add("CWE", "KINETIC_DELAYED_PHASE", "DCE-MRI delayed phase",
            f"{delayed}^{delayed}^{CODING_SYSTEM}", sub_id=sub_id)  # fmt: skip
        curve = kinetics.curve_type
        add("CWE", "KINETIC_CURVE_TYPE", "DCE-MRI kinetic curve type",
            f"{curve}^{_CURVE_TEXT[curve]}^{CODING_SYSTEM}", sub_id=sub_id)  # fmt: skip
        if kinetics.peak_enhancement_pct is not None:
            add("NM", "PEAK_ENHANCEMENT", "DCE-MRI peak enhancement",
                _number(kinetics.peak_enhancement_pct, 0), units=PERCENT, sub_id=sub_id)  # fmt: skip


def _priority_fields(names: Sequence[str], profile: Hl7Profile, priority: Priority) -> dict[str, str]:
    """Encoded values of the priority fields a profile names: the TQ priority component (table
    0027) in ORC-7 / OBR-27, or TQ1-9 (CWE, table 0485)."""
    code = _e(profile.code(priority))
    values = {
        "ORC-7.6": f"^^^^^{code}",
        "OBR-27.6": f"^^^^^{code}",
        "TQ1-9": f"{code}^{priority.value}^HL70485",
    }
    return {name: values[name] for name in names}


def build_priority_update(
    ref: StudyOrderRef,
    *,
    control_id: str,
    priority: Priority,
    style: str | None = None,
    parties: MessageParties | None = None,
    now: datetime | None = None,
    profile: Hl7Profile = DEFAULT_PROFILE,
) -> str:
    """The order's new reading priority, as ``profile`` writes it: ORM^O01 (``orm``, priority in
    ORC-7.6 and OBR-27.6 by default) or OMI^O23 (``omi``, TQ1-9), ORC-1 ``XO`` by default.
    ``style`` (orm | omi) overrides the profile's message."""
    if not ref.placer_order_number and not ref.accession_number:
        raise ValueError("a priority update needs the order's placer order number or accession number")
    if style is not None:
        if style not in ("orm", "omi"):
            raise ValueError(f"unknown priority update style {style!r} (orm or omi)")
        if style != profile.update_message:
            profile = replace(profile, update_message=style, update_priority_fields=(), update_version="")
    parties = parties or MessageParties()
    now = now or datetime.now(UTC)
    tq = _priority_fields(profile.update_fields, profile, priority)
    placer, accession = _e(ref.placer_order_number or ""), _e(ref.accession_number or "")
    filler = _e(ref.filler_order_number or ref.accession_number or "")
    service = f"{_e(ref.procedure_code or '')}^{_e(ref.procedure_text or '')}"
    control, status = _e(profile.update_order_control), _e(profile.update_order_status)
    orc = _segment("ORC", {1: control, 2: placer, 3: filler, 5: status, 7: tq.get("ORC-7.6", "")})
    if profile.update_message == "omi":
        segments = [
            _msh("OMI^O23^OMI_O23", control_id, parties, now, profile.version),
            _pid(ref.patient),
            orc,
            *([_segment("TQ1", {1: "1", 9: tq["TQ1-9"]})] if "TQ1-9" in tq else []),
            _segment("OBR", {1: "1", 2: placer, 3: filler, 4: service, 27: tq.get("OBR-27.6", "")}),
            _segment(
                "IPC",
                {
                    1: accession,
                    2: _e(ref.requested_procedure_id or ""),
                    3: _e(ref.study_instance_uid),
                    5: _e(ref.modality),
                },
            ),
        ]
    else:
        segments = [
            _msh("ORM^O01", control_id, parties, now, profile.version),
            _pid(ref.patient),
            orc,
            _segment(
                "OBR",
                {
                    1: "1",
                    2: placer,
                    3: filler,
                    4: service,
                    18: accession,
                    24: _e(ref.modality),
                    27: tq.get("OBR-27.6", ""),
                },
            ),
            f"ZDS|{_e(ref.study_instance_uid)}^BREASTGATE^Application^DICOM",
        ]
    return "\r".join(segments) + "\r"
