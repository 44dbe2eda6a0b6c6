"""Structured screening report draft from breastgate's own results (DESIGN §4 results JSON).

:func:`build_draft` turns the document :func:`breastgate.results.json.build_results` produces into
a :class:`~breastgate.domain.report.ReportDraft`; :func:`render_text` prints it as the plain text an
HL7 ORU or a speech-recognition system receives. The draft stays ``DRAFT`` with the label
"AI-generated draft — not for diagnostic use unless validated by the site" until a radiologist
confirms it, which is not done here.

Wording
-------
- Composition: the 21 CFR 900.12(c)(1)(vi) sentence of the density category, verbatim
  (:func:`breastgate.reporting.letters.density_sentence`).
- Findings: only those at or above their algorithm's operating point (``shown``), one sentence each
  in BI-RADS lexicon terms: "mass", "grouped calcifications" (a cluster; BI-RADS 5th edition's
  "grouped", formerly "clustered"), "architectural distortion", "asymmetry"; "in the right/left
  breast", the quadrant, "at N o'clock", "anterior/middle/posterior depth", "N cm from the nipple",
  the size in mm. Shape, margin, calcification morphology and distribution appear only when the
  algorithm gave them (``Finding.attributes``), never inferred; unknown values are dropped.
- Enhancing lesions (DCE-MRI) in BI-RADS MRI lexicon terms as far as they are measured: "enhancing
  lesion" (mass or non-mass enhancement is not measured, so not said), side, clock, distance from
  the nipple, three orthogonal diameters ("measuring 14 x 10 x 8 mm") when given, and the kinetic
  curve assessment: initial phase slow / medium / fast, delayed phase persistent / plateau /
  washout and the curve type I-III.
- Comparison: "Compared with prior study of YYYY-MM-DD.", then per finding new / stable /
  increased / decreased "versus the prior of YYYY-MM-DD" (with the prior and current sizes when
  both are known), then the density against the prior's ("Breast density unchanged (category
  b)."). Prior dates come from the caller, else from the document itself (``findings[].comparison
  .prior_study_date``, ``density_change.prior_study_date``). Without a comparison, the priors'
  status (``algorithms[].priors``) says why: "No prior available for comparison.", "Prior not
  fetched in time; no comparison was made.", or, when no algorithm said, "No prior studies
  available for comparison."

Assessment rules (version :data:`RULES_VERSION`), evaluated in order; the first that applies wins
---------------------------------------------------------------------------------------------------
The draft assumes a screening examination (the results JSON does not carry the indication). A
"shown" finding is one at or above its algorithm's operating threshold. "Typically benign" is a
calcification cluster whose algorithm-given morphology is one of BI-RADS 5th edition's typically
benign types (:data:`TYPICALLY_BENIGN_CALCIFICATIONS`: vascular, coarse or popcorn-like, large
rod-like, rim, dystrophic, milk of calcium, skin, suture); round and punctate are not counted as
benign here, since grouped round/punctate calcifications may need work-up.

====  ==================================================================  ========  ===================
rule  condition                                                           BI-RADS   recommendation
====  ==================================================================  ========  ===================
R1M   shown findings, all DCE-MRI enhancing lesions (category 0 is        none      Recommendation to be
      discouraged on MRI; kinetics alone do not make a category)                    made by the
                                                                                    radiologist.
R1    a shown finding that is not typically benign                        0         Recall for
                                                                                    additional imaging
                                                                                    and/or comparison
                                                                                    with prior
                                                                                    examination(s).
R2    shown findings, all typically benign                                2 Benign  Routine mammography
                                                                                    screening.
R3    no shown finding, but the pipeline's case assessment is 0 or 3-6    0         as R1
      (e.g. another policy or engine recalls)
R4    no shown finding and a lesion detector ran ok (an assessment is     1         Routine mammography
      present, or an algorithm of ``lesion_algorithms`` has status ok)    Negative  screening.
R5    none of the above: no lesion-detection result                       none      Recommendation to be
                                                                                    made by the
                                                                                    radiologist.
====  ==================================================================  ========  ===================

Category 0 reads "Incomplete - Need Additional Imaging Evaluation", 1 "Negative", 2 "Benign";
recommendations are the BI-RADS 5th edition management phrases of each category. An AI alone never
drafts 3 (needs a diagnostic work-up first), 4 or 5 (a biopsy decision after diagnostic imaging) or
6 (needs pathology); a 3-6 from the pipeline is not copied, it makes the draft a 0 (R3).
Positioning problems (quality verdict "inadequate") are added to the impression but change no
category: BI-RADS does not use category 0 for technical repeats.
"""

from __future__ import annotations

import logging
import textwrap
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from breastgate.domain.density import density_sentence
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import FindingKind
from breastgate.domain.report import (
    DRAFT_LABEL,
    AlgorithmUsed,
    Change,
    DraftFinding,
    ReportDraft,
    ReportStatus,
)

__all__ = [
    "CATEGORY_NAMES",
    "DEFAULT_LESION_ALGORITHMS",
    "NO_PRIORS",
    "PRIOR_STATUS_SENTENCES",
    "RECOMMENDATIONS",
    "RULES_ID",
    "RULES_VERSION",
    "TYPICALLY_BENIGN_CALCIFICATIONS",
    "ReportDraft",
    "build_draft",
    "render_text",
]

LOGGER = logging.getLogger(__name__)

RULES_ID = "breastgate.report-draft"
RULES_VERSION = "1.1.0"
LINE_WIDTH = 80

#: BI-RADS 5th edition category names, ASCII.
CATEGORY_NAMES: Mapping[str, str] = {
    "0": "Incomplete - Need Additional Imaging Evaluation",
    "1": "Negative",
    "2": "Benign",
}
#: BI-RADS 5th edition management phrase per category; ``None`` = no category drafted.
RECOMMENDATIONS: Mapping[str | None, str] = {
    "0": "Recall for additional imaging and/or comparison with prior examination(s).",
    "1": "Routine mammography screening.",
    "2": "Routine mammography screening.",
    None: "Recommendation to be made by the radiologist.",
}
NO_PRIORS = "No prior studies available for comparison."
#: Comparison sentence per prior status (results JSON ``algorithms[].priors.status``) when no
#: finding and no density was compared.
PRIOR_STATUS_SENTENCES: Mapping[str, str] = {
    "none_available": "No prior available for comparison.",
    "not_in_time": "Prior not fetched in time; no comparison was made.",
}
NO_COMPOSITION = "Breast composition not assessed by AI."
NO_FINDINGS = "No findings at the AI operating point."
NO_LESION_RESULT = "Not assessed: no AI lesion-detection result."

#: Lesion detectors whose "ok" status with no shown finding supports a Negative draft (R4).
DEFAULT_LESION_ALGORITHMS = frozenset(
    {"breastgate.calcifications", "breastgate.masses", "breastgate.kinetics", "breastgate.ultrasound"}
)
#: How the draft names a finding of another study that is the same lesion.
_CORRESPONDING_SUBJECTS = {
    "mass": "mass",
    "us_lesion": "mass",
    "enhancing_lesion": "enhancing lesion",
    "calcification_cluster": "calcifications",
    "architectural_distortion": "architectural distortion",
    "asymmetry": "asymmetry",
}
#: How the draft names a study by its modality ("on the mammogram of …").
_MODALITY_WORDS = {
    "MG": "mammogram",
    "DBT": "tomosynthesis",
    "US": "ultrasound",
    "MR": "MRI",
}

_SIDES = {"L": "left", "R": "right"}
_QUADRANTS = {
    "UOQ": "upper outer quadrant",
    "UIQ": "upper inner quadrant",
    "LOQ": "lower outer quadrant",
    "LIQ": "lower inner quadrant",
}
_DEPTHS = frozenset({"anterior", "middle", "posterior"})
_SHAPES = {"oval": "oval", "round": "round", "irregular": "irregular", "lobular": "lobular"}
_MARGINS = {
    "circumscribed": "circumscribed",
    "obscured": "obscured",
    "microlobulated": "microlobulated",
    "indistinct": "indistinct",
    "spiculated": "spiculated",
}
_CALCIFICATION_TYPES = {
    "fine_pleomorphic": "fine pleomorphic",
    "amorphous": "amorphous",
    "punctate": "punctate",
    "coarse_heterogeneous": "coarse heterogeneous",
    "fine_linear": "fine linear",
    "fine_linear_branching": "fine linear branching",
    "round": "round",
    "vascular": "vascular",
    "coarse": "coarse or popcorn-like",
    "large_rod_like": "large rod-like",
    "rim": "rim",
    "dystrophic": "dystrophic",
    "milk_of_calcium": "milk of calcium",
    "skin": "skin",
    "suture": "suture",
}
_DISTRIBUTIONS = {
    "diffuse": "diffuse",
    "regional": "regional",
    "grouped": "grouped",
    "linear": "linear",
    "segmental": "segmental",
}
#: BI-RADS 5th edition "typically benign" calcification morphologies (R3).
TYPICALLY_BENIGN_CALCIFICATIONS = frozenset(
    {"vascular", "coarse", "large_rod_like", "rim", "dystrophic", "milk_of_calcium", "skin", "suture"}
)
#: BI-RADS ultrasound lexicon (5th ed.): mass shape, orientation, margin, echo pattern, posterior features.
_US_WORDS: Mapping[str, Mapping[str, str]] = {
    "shape": {"oval": "oval", "round": "round", "irregular": "irregular"},
    "orientation": {"parallel": "parallel", "not_parallel": "not parallel"},
    "margin": {
        "circumscribed": "circumscribed",
        "not_circumscribed": "not circumscribed",
        "indistinct": "indistinct",
        "angular": "angular",
        "microlobulated": "microlobulated",
        "spiculated": "spiculated",
    },
    "echo_pattern": {
        "anechoic": "anechoic",
        "hyperechoic": "hyperechoic",
        "complex": "complex cystic and solid",
        "hypoechoic": "hypoechoic",
        "isoechoic": "isoechoic",
        "heterogeneous": "heterogeneous",
    },
    "posterior": {
        "none": "no posterior features",
        "enhancement": "posterior enhancement",
        "shadowing": "posterior shadowing",
        "combined": "combined posterior pattern",
    },
}
#: Descriptor vocabularies per finding kind: only these are ever written.
_VOCABULARY: Mapping[FindingKind, Mapping[str, Mapping[str, str]]] = {
    FindingKind.MASS: {"shape": _SHAPES, "margin": _MARGINS},
    FindingKind.US_LESION: _US_WORDS,
    FindingKind.CALCIFICATION_CLUSTER: {
        "calcification_type": _CALCIFICATION_TYPES,
        "distribution": _DISTRIBUTIONS,
    },
}
_SUBJECTS = {
    FindingKind.ARCHITECTURAL_DISTORTION: "architectural distortion",
    FindingKind.ASYMMETRY: "asymmetry",
    FindingKind.ENHANCING_LESION: "enhancing lesion",
    FindingKind.US_LESION: "lesion on ultrasound",
}
_KINETIC_WORDS = {
    "initial_phase": ({"slow", "medium", "fast"}, "{} initial phase"),
    "delayed_phase": ({"persistent", "plateau", "washout"}, "{} delayed phase"),
}
_ASCII = str.maketrans({"—": "-", "–": "-", "≥": ">=", "≤": "<=", "’": "'", "“": '"', "”": '"'})


def _decimal(value: float, places: int) -> str:
    """``value`` rounded half up to ``places`` decimals, without a trailing ``.0``."""
    quantum = Decimal(1).scaleb(-places)
    text = str(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))
    return text[:-2] if text.endswith(".0") else text


def _size_text(mm: float) -> str:
    return _decimal(mm, 0 if mm >= 10 else 1)


def _descriptors(kind: FindingKind, attributes: Mapping[str, Any]) -> dict[str, str]:
    """Descriptor keys the algorithm gave for this kind, restricted to the lexicon vocabulary."""
    out: dict[str, str] = {}
    for name, words in _VOCABULARY.get(kind, {}).items():
        value = str(attributes.get(name, "")).strip().lower()
        if value in words:
            out[name] = value
        elif value:
            LOGGER.debug("report draft: %s %r is not a lexicon term, left out", name, value)
    return out


def _subject(kind: FindingKind, descriptors: Mapping[str, str]) -> str:
    if kind == FindingKind.MASS:
        shape = _SHAPES.get(descriptors.get("shape", ""))
        margin = _MARGINS.get(descriptors.get("margin", ""))
        text = f"{shape} mass" if shape else "mass"
        return f"{text} with {margin} margins" if margin else text
    if kind == FindingKind.CALCIFICATION_CLUSTER:
        morphology = _CALCIFICATION_TYPES.get(descriptors.get("calcification_type", ""))
        calcs = f"{morphology} calcifications" if morphology else "calcifications"
        distribution = descriptors.get("distribution", "grouped")
        if distribution == "grouped":
            return f"grouped {calcs}"
        return f"{calcs} in a {_DISTRIBUTIONS[distribution]} distribution"
    if kind == FindingKind.US_LESION:
        return _us_subject(descriptors)
    return _SUBJECTS[kind]


def _us_subject(descriptors: Mapping[str, str]) -> str:
    """BI-RADS US wording: shape and echo pattern before "mass", then margin, orientation and
    posterior features, e.g. "irregular hypoechoic mass on ultrasound with not circumscribed
    margins, not parallel orientation, posterior shadowing," (the location follows)."""
    words = {name: _US_WORDS[name][value] for name, value in descriptors.items() if name in _US_WORDS}
    lead = " ".join(w for w in (words.get("shape"), words.get("echo_pattern")) if w)
    text = f"{lead} mass on ultrasound" if lead else "mass on ultrasound"
    tail = []
    if "margin" in words:
        tail.append(f"{words['margin']} margins")
    if "orientation" in words:
        tail.append(f"{words['orientation']} orientation")
    if "posterior" in words:
        tail.append(words["posterior"])
    return text + (" with " + ", ".join(tail) + "," if tail else "")


def _kinetics(data: Any) -> str:
    if not isinstance(data, Mapping):
        return ""
    parts = []
    for key, (allowed, pattern) in _KINETIC_WORDS.items():
        value = str(data.get(key, "")).strip().lower()
        if value in allowed:
            parts.append(pattern.format(value))
    curve = str(data.get("curve_type", "")).strip().upper()
    if curve in ("I", "II", "III"):
        parts.append(f"type {curve} curve")
    return ", kinetics: " + ", ".join(parts) if parts else ""


def _finding_sentence(kind: FindingKind, side: str, data: Mapping[str, Any], desc: Mapping[str, str]) -> str:
    loc = data.get("location") or {}
    quadrant = _QUADRANTS.get(str(loc.get("quadrant") or "").upper())
    where = f"the {quadrant} of the {_SIDES[side]} breast" if quadrant else f"the {_SIDES[side]} breast"
    text = f"{_subject(kind, desc)} in {where}"
    clock = loc.get("clock")
    if clock is not None:
        text += f" at {int(clock)} o'clock"
    extras = []
    depth = str(loc.get("depth") or "").lower()
    if depth in _DEPTHS:
        extras.append(f"{depth} depth")
    distance = loc.get("distance_from_nipple_mm")
    if distance is not None:
        extras.append(f"{_decimal(float(distance) / 10.0, 1)} cm from the nipple")
    size = data.get("size_mm")
    diameters = _diameters(data.get("diameters_mm"))
    if diameters is not None:
        extras.append("measuring " + " x ".join(_size_text(d) for d in diameters) + " mm")
    elif _two_sizes(data) is not None:
        extras.append("measuring " + " x ".join(_size_text(d) for d in _two_sizes(data) or ()) + " mm")
    elif size is not None:
        verb = "spanning" if kind == FindingKind.CALCIFICATION_CLUSTER else "measuring"
        extras.append(f"{verb} {_size_text(float(size))} mm")
    text += "".join(f", {e}" for e in extras) + _kinetics(data.get("kinetics"))
    return text[0].upper() + text[1:] + "."


def _two_sizes(data: Mapping[str, Any]) -> tuple[float, float] | None:
    """Width and depth (mm) of a lesion measured in one plane (ultrasound), when both are given."""
    attributes = data.get("attributes") or {}
    try:
        width, depth = float(attributes["width_mm"]), float(attributes["depth_mm"])
    except (KeyError, TypeError, ValueError):
        return None
    return (width, depth) if width > 0 and depth > 0 else None


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _diameters(value: Any) -> tuple[float, float, float] | None:
    """Three positive diameters (mm) of a 3-D lesion, largest first; None unless all three."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
        return None
    values = sorted((float(v) for v in value), reverse=True)
    return (values[0], values[1], values[2]) if all(v > 0 for v in values) else None


def _day(value: Any) -> date | None:
    """A DICOM DA (YYYYMMDD) or ISO date, None when absent or unreadable (read tolerantly)."""
    text = str(value or "").strip().replace("-", "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _kinetic_fields(data: Any) -> dict[str, Any]:
    """DraftFinding kinetics from results JSON ``kinetics``: lexicon values only."""
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, (allowed, _) in _KINETIC_WORDS.items():
        value = str(data.get(key, "")).strip().lower()
        if value in allowed:
            out[key] = value
    curve = str(data.get("curve_type", "")).strip().upper()
    if curve in ("I", "II", "III"):
        out["curve_type"] = curve
    peak = data.get("peak_enhancement_pct")
    if peak is not None:
        out["peak_enhancement_pct"] = float(peak)
    return out


def _draft_finding(
    number: int, data: Mapping[str, Any], by_study: Mapping[str, date], latest: date | None
) -> DraftFinding:
    """One shown finding; its prior is dated from ``by_study``, else the most recent prior."""
    kind = FindingKind(data["kind"])
    side = str(data["laterality"])
    if side not in _SIDES:
        raise InvalidInputError(f"finding {data.get('id')!r}: laterality {side!r} is not L or R")
    desc = _descriptors(kind, data.get("attributes") or {})
    loc = data.get("location") or {}
    comparison = data.get("comparison") or {}
    change = Change(comparison["change"]) if comparison.get("change") else None
    clock = loc.get("clock")
    depth = str(loc.get("depth") or "").lower()
    quadrant = str(loc.get("quadrant") or "").upper()
    finding = DraftFinding(
        number=number,
        id=str(data["id"]),
        kind=kind,
        laterality=side,
        sentence=_finding_sentence(kind, side, data, desc),
        score=float(data["score"]),
        algorithm=str(data.get("algorithm") or ""),
        clock=None if clock is None else int(clock),
        quadrant=quadrant if quadrant in _QUADRANTS else None,
        depth=depth if depth in _DEPTHS else None,
        distance_from_nipple_mm=_opt_float(loc.get("distance_from_nipple_mm")),
        size_mm=_opt_float(data.get("size_mm")),
        descriptors=desc,
        change=change,
        size_change_mm=_opt_float(comparison.get("size_change_mm")),
        prior_size_mm=_opt_float(comparison.get("prior_size_mm")),
        diameters_mm=_diameters(data.get("diameters_mm")),
        **_kinetic_fields(data.get("kinetics")),
    )
    if change is None:
        return finding
    prior = by_study.get(str(comparison.get("prior_study_instance_uid") or ""), latest)
    return replace(finding, prior_date=prior)


def _correspondence(row: Mapping[str, Any]) -> str:
    """'the 10 mm mass at 10 o'clock on the mammogram of 2026-03-01' from a lesion-table row."""
    subject = _CORRESPONDING_SUBJECTS.get(str(row.get("kind") or ""), "finding")
    size = _opt_float(row.get("size_mm"))
    text = f"the {_size_text(size)} mm {subject}" if size else f"the {subject}"
    clock = row.get("clock")
    if clock is not None:
        text += f" at {int(clock)} o'clock"
    modality = _MODALITY_WORDS.get(str(row.get("modality") or "").upper(), "study")
    text += f" on the {modality}"
    day = _day(row.get("study_date"))
    return text + (f" of {day.isoformat()}" if day else "")


def _corresponding(
    finding: DraftFinding, correspondences: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]]
) -> DraftFinding:
    """The finding with the same lesion in other studies named in its sentence, oldest first."""
    rows = correspondences.get((finding.algorithm, finding.id)) or ()
    if not rows:
        return finding
    ordered = sorted(rows, key=lambda r: (str(r.get("study_date") or ""), str(r.get("modality") or "")))
    said = tuple(_correspondence(r) for r in ordered)
    sentence = finding.sentence + " It corresponds to " + _join(said) + "."
    return replace(finding, correspondences=said, sentence=sentence)


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _shown(findings: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Findings at or above their operating point, right breast first, then by falling score."""
    shown = [f for f in findings if f.get("shown", True)]
    return sorted(shown, key=lambda f: (str(f.get("laterality")) != "R", -float(f["score"]), str(f["id"])))


def _date_text(day: date | None) -> str:
    return f"the prior of {day.isoformat()}" if day else "the prior study"


def _size_change(f: DraftFinding) -> str:
    by = f" by {_size_text(abs(f.size_change_mm))} mm" if f.size_change_mm else ""
    if f.prior_size_mm is not None and f.size_mm is not None:
        by += f" ({_size_text(f.prior_size_mm)} to {_size_text(f.size_mm)} mm)"
    return by


def _density_comparison(current: str | None, change: Mapping[str, Any] | None) -> list[str]:
    """The density sentence against the prior's (results JSON ``density_change``)."""
    if not change or not current:
        return []
    prior = str(change.get("prior_category") or "").strip().lower()
    if prior not in ("a", "b", "c", "d"):
        return []
    if prior == current:
        return [f"Breast density unchanged (category {current})."]
    points = change.get("change_pp")
    by = "" if points is None else f" (percent density {float(points):+.1f} percentage points)"
    return [f"Breast density changed from category {prior} to {current}{by}."]


def _prior_status(algorithms: Sequence[Mapping[str, Any]]) -> str | None:
    """The study's prior status: held when any algorithm compared, else the most telling one."""
    statuses = {str((a.get("priors") or {}).get("status") or "") for a in algorithms} - {""}
    return next((s for s in ("held", "not_in_time", "none_available", "not_sought") if s in statuses), None)


def _comparison(
    findings: Sequence[DraftFinding],
    prior_dates: Sequence[date],
    prior_status: str | None = None,
    density: Sequence[str] = (),
) -> tuple[str, ...]:
    compared = [f for f in findings if f.change is not None]
    if not prior_dates and not compared and not density and prior_status != "held":
        return (PRIOR_STATUS_SENTENCES.get(prior_status or "", NO_PRIORS),)
    lines = []
    if prior_dates:
        days = [d.isoformat() for d in prior_dates]
        listed = days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1]
        lines.append(f"Compared with prior stud{'y' if len(days) == 1 else 'ies'} of {listed}.")
    else:
        lines.append("Compared with a prior study (date not available).")
    for f in findings:
        versus = _date_text(f.prior_date)
        if f.change == Change.NEW:
            lines.append(f"Finding {f.number} is new versus {versus}.")
        elif f.change == Change.STABLE:
            lines.append(f"Finding {f.number} is stable versus {versus}.")
        elif f.change in (Change.INCREASED, Change.DECREASED):
            lines.append(f"Finding {f.number} has {f.change.value} in size{_size_change(f)} versus {versus}.")
        else:
            lines.append(f"Finding {f.number} was not compared with a prior by the algorithms.")
    return (*lines, *density)


def _assess(
    findings: Sequence[DraftFinding],
    pipeline: Mapping[str, Any] | None,
    algorithms: Sequence[AlgorithmUsed],
    lesion_algorithms: Collection[str],
) -> tuple[str, str | None, str]:
    """(rule, category, reason) by the rule table of the module docstring."""
    benign = [
        f
        for f in findings
        if f.kind == FindingKind.CALCIFICATION_CLUSTER
        and f.descriptors.get("calcification_type") in TYPICALLY_BENIGN_CALCIFICATIONS
    ]
    suspicious = [f for f in findings if f not in benign]
    if suspicious and all(f.kind == FindingKind.ENHANCING_LESION for f in suspicious):
        # Breast MRI: category 0 is for rare technical recalls, and a category needs morphology
        # (mass / non-mass, shape, margin), which kinetics alone does not give.
        curves = ", ".join(f"{f.number} type {f.curve_type or '?'}" for f in suspicious)
        return (
            "R1M",
            None,
            f"Enhancing lesion(s) at the operating point ({curves}): kinetics only; morphology and "
            "the BI-RADS category are for the radiologist.",
        )
    if suspicious:
        numbers = ", ".join(str(f.number) for f in suspicious)
        return "R1", "0", f"AI finding(s) at the operating point need additional evaluation: {numbers}."
    if benign:
        return "R2", "2", "Only calcifications of typically benign morphology at the operating point."
    pipeline_category = None if pipeline is None else str(pipeline.get("birads") or "").upper() or None
    if pipeline_category is not None and pipeline_category not in ("1", "2"):
        return "R3", "0", "The AI case suspicion reaches the recall threshold."
    lesion_ok = any(a.status == "ok" and a.id in lesion_algorithms for a in algorithms)
    if pipeline is not None or lesion_ok:
        return "R4", "1", NO_FINDINGS
    return "R5", None, "No BI-RADS category drafted: no AI lesion-detection result is available."


def build_draft(
    results: Mapping[str, Any],
    *,
    prior_study_dates: Sequence[date] = (),
    prior_dates_by_study: Mapping[str, date] | None = None,
    lesion_algorithms: Collection[str] = DEFAULT_LESION_ALGORITHMS,
    correspondences: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]] | None = None,
) -> ReportDraft:
    """The report draft of one study's results document (``schema: breastgate.results/1``).

    Parameters
    ----------
    results
        The dict :func:`breastgate.results.json.build_results` returns (or its JSON round trip).
    prior_study_dates
        Dates of the prior studies available for comparison (any order).
    prior_dates_by_study
        Study date per prior Study Instance UID, to date a finding's ``comparison``; a finding
        whose prior is not listed is compared "versus" the most recent of ``prior_study_dates``.
    lesion_algorithms
        Algorithm ids whose "ok" status counts as a lesion-detection result (rule R4).
    correspondences
        By (algorithm id, finding id): the same lesion's findings in the woman's other studies
        (rows of the lesion table: ``modality``, ``study_date``, ``kind``, ``size_mm``, ``clock``),
        said after the finding's sentence ("It corresponds to the 10 mm mass at 10 o'clock on the
        mammogram of 2026-03-01.").

    Raises
    ------
    InvalidInputError
        When the document is malformed (unknown density category, finding kind or laterality).
    """
    try:
        return _build(
            results, prior_study_dates, prior_dates_by_study or {}, lesion_algorithms, correspondences or {}
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(f"results document cannot be drafted: {exc!r}") from exc


def _document_dates(results: Mapping[str, Any]) -> dict[str, date]:
    """Prior study dates the document itself names (findings' comparisons, density change)."""
    named = [f.get("comparison") or {} for f in results.get("findings") or []]
    named.append(results.get("density_change") or {})
    out: dict[str, date] = {}
    for item in named:
        uid, day = str(item.get("prior_study_instance_uid") or ""), _day(item.get("prior_study_date"))
        if uid and day is not None:
            out[uid] = day
    return out


def _build(
    results: Mapping[str, Any],
    prior_study_dates: Sequence[date],
    by_study: Mapping[str, date],
    lesion_algorithms: Collection[str],
    correspondences: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]],
) -> ReportDraft:
    by_study = {**_document_dates(results), **by_study}
    dates = tuple(sorted({*prior_study_dates, *by_study.values()}, reverse=True))
    density = results.get("density")
    category = str(density["category"]).strip().lower() if density else None
    density_change = results.get("density_change") or None
    latest = dates[0] if dates else None
    shown = _shown(results.get("findings") or [])
    findings = [
        _corresponding(_draft_finding(n, data, by_study, latest), correspondences)
        for n, data in enumerate(shown, start=1)
    ]
    algorithms = tuple(
        AlgorithmUsed(str(a["id"]), str(a["version"]), str(a.get("status", "")))
        for a in results.get("algorithms") or []
    )
    rule, birads, reason = _assess(findings, results.get("assessment"), algorithms, lesion_algorithms)
    impression = [f"BI-RADS {birads}: {CATEGORY_NAMES[birads]}." if birads else reason]
    if birads:
        impression.append(reason)
    quality = results.get("quality") or {}
    if quality.get("verdict") == "inadequate":
        impression.append("Positioning checks failed: review image quality before interpretation.")
    return ReportDraft(
        study_instance_uid=str(results["study_instance_uid"]),
        composition_category=category,
        composition=density_sentence(category) if category else NO_COMPOSITION,
        percent_dense=_opt_float(density.get("percent_dense")) if density else None,
        findings=tuple(findings),
        comparison=_comparison(
            findings,
            dates,
            _prior_status(results.get("algorithms") or []),
            _density_comparison(category, density_change),
        ),
        birads=birads,
        birads_name=CATEGORY_NAMES.get(birads or "", ""),
        impression=tuple(impression),
        recommendation=RECOMMENDATIONS[birads],
        algorithms=algorithms,
        rule=rule,
        rules_version=RULES_VERSION,
        prior_study_dates=dates,
        prior_status=_prior_status(results.get("algorithms") or []),
        prior_composition_category=(
            str(density_change.get("prior_category") or "").lower() or None if density_change else None
        ),
        density_change_pp=_opt_float(density_change.get("change_pp")) if density_change else None,
        status=ReportStatus.DRAFT,
        label=DRAFT_LABEL,
    )


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _wrap(text: str, indent: str = "", first: str = "") -> list[str]:
    return textwrap.wrap(
        _ascii(text),
        width=LINE_WIDTH,
        initial_indent=first or indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )


def render_text(draft: ReportDraft) -> str:
    """Plain-text report: ASCII, lines of at most 80 characters, sections in capitals.

    Sections: COMPOSITION, FINDINGS (numbered), COMPARISON, IMPRESSION, RECOMMENDATION, ALGORITHMS,
    then the draft status and label.
    """
    lines = [f"BREAST IMAGING REPORT - {draft.status.value}", ""]
    lines += ["COMPOSITION:", *_wrap(draft.composition), ""]
    lines.append("FINDINGS:")
    if draft.findings:
        for f in draft.findings:
            prefix = f"{f.number}. "
            lines += _wrap(f.sentence, indent=" " * len(prefix), first=prefix)
    elif draft.rule == "R5":
        lines += _wrap(NO_LESION_RESULT)
    else:
        lines += _wrap(NO_FINDINGS)
    lines += ["", "COMPARISON:"]
    for sentence in draft.comparison:
        lines += _wrap(sentence)
    lines += ["", "IMPRESSION:"]
    for sentence in draft.impression:
        lines += _wrap(sentence)
    lines += ["", "RECOMMENDATION:", *_wrap(draft.recommendation), "", "ALGORITHMS:"]
    for a in draft.algorithms:
        lines += _wrap(f"{a.id} {a.version} ({a.status})")
    lines += _wrap(f"Report draft rules {RULES_ID} {draft.rules_version}, rule {draft.rule}.")
    lines += ["", f"STATUS: {draft.status.value}", *_wrap(draft.label)]
    return "\n".join(lines) + "\n"
