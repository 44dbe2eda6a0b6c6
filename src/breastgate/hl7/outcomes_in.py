"""ORU^R01 in: the radiologist's final report and pathology results, read as outcomes.

What is read (tolerantly; sites differ, so each rule is listed in docs/governance.md):

- the study: ZDS-1 (Study Instance UID), else the accession number OBR-18, else the filler
  order number OBR-3 / ORC-3; the patient: PID-3;
- the result status OBR-25: only final (F) and corrected (C) results are outcomes; preliminary
  and other results are kept in the message log and acknowledged, not recorded;
- the final BI-RADS category: an OBX whose identifier or text (OBX-3) names BI-RADS, value
  ``0``-``6`` (``4A``/``4B``/``4C`` count as 4, "BI-RADS 4: suspicious" as 4); several (one per
  breast) give the overall category by the ACR hierarchy 6, 5, 4, 0, 3, 2, 1; failing a coded
  OBX, a "BI-RADS [category] N" phrase in the report text;
- the radiologist's density: an OBX naming density or composition, value a-d;
- pathology: an OBX naming pathology or diagnosis (or LOINC 22637-3), text kept verbatim; it
  says cancer when it names a malignancy and no negation precedes it, benign when it names a
  benign diagnosis or the absence of malignancy, nothing otherwise (the text is still kept);
- a structured outcome: OBX-3 ``OUTCOME`` (breastgate's local code), value cancer | benign | normal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import hl7

from breastgate.domain.outcomes import OutcomeRecord

BIRADS_HIERARCHY = ("6", "5", "4", "0", "3", "2", "1")
_BIRADS_NAME = re.compile(r"BI-?RADS", re.IGNORECASE)
_BIRADS_VALUE = re.compile(r"(?:^|[^0-9])([0-6])(?:[ABC])?(?:[^0-9]|$)", re.IGNORECASE)
_BIRADS_TEXT = re.compile(r"BI-?RADS\W{0,3}(?:category|assessment|cat\.?)?\W{0,3}([0-6])", re.IGNORECASE)
_DENSITY_NAME = re.compile(r"density|composition", re.IGNORECASE)
_PATHOLOGY_NAME = re.compile(r"patholog|diagnos|22637-3|histolog", re.IGNORECASE)
_MALIGNANT = re.compile(
    r"carcinoma|malignan|\bDCIS\b|\bIDC\b|\bILC\b|sarcoma|lymphoma|metasta", re.IGNORECASE
)
_NEGATED = re.compile(
    r"(no|negative for|without|free of|absence of|not)\s+(\w+\s+){0,3}?"
    r"(carcinoma|malignan|DCIS|IDC|ILC|sarcoma|lymphoma|metasta)",
    re.IGNORECASE,
)
_BENIGN = re.compile(
    r"benign|fibroadenoma|fibrocystic|cyst|papilloma|fat necrosis|no malignan|negative for malignan",
    re.IGNORECASE,
)
FINAL_STATUSES = frozenset({"F", "C"})


def _get(segment: hl7.Segment | None, field_num: int, component: int = 1) -> str:
    if segment is None:
        return ""
    try:
        value = segment.extract_field(field_num=field_num, repeat_num=1, component_num=component)
        return str(value).strip() if value is not None else ""
    except (IndexError, KeyError, ValueError):
        return ""


def _field_text(segment: hl7.Segment, field_num: int) -> str:
    try:
        return str(segment[field_num]).strip() if len(segment) > field_num else ""
    except (IndexError, KeyError):
        return ""


def overall_birads(categories: Sequence[str]) -> str | None:
    """The overall category of several (one per breast): the first in the ACR hierarchy."""
    present = set(categories)
    return next((c for c in BIRADS_HIERARCHY if c in present), None)


def birads_value(value: str) -> str | None:
    match = _BIRADS_VALUE.search(value.strip())
    return match.group(1) if match else None


def pathology_outcome(text: str) -> str | None:
    """cancer | benign | None (undecided) from a pathology diagnosis text."""
    malignant = [m for m in _MALIGNANT.finditer(text)]
    negated = {m.span(3)[0] for m in _NEGATED.finditer(text)}
    if any(m.start() not in negated for m in malignant):
        return "cancer"
    if _BENIGN.search(text) or negated:
        return "benign"
    return None


def read_oru(
    segments: Sequence[tuple[str, hl7.Segment]], control_id: str, source_app: str
) -> tuple[list[OutcomeRecord], str]:
    """The outcomes an ORU^R01 carries, and a one-line summary for the message log.

    Raises ValueError (answered AE) when the message names no study at all."""
    pid = next((s for n, s in segments if n == "PID"), None)
    obr = next((s for n, s in segments if n == "OBR"), None)
    orc = next((s for n, s in segments if n == "ORC"), None)
    zds = next((s for n, s in segments if n == "ZDS"), None)
    if obr is None:
        raise ValueError("ORU without an OBR segment")
    study_uid = _get(zds, 1)[:64] or None
    accession = (_get(obr, 18) or _get(obr, 3) or _get(orc, 3))[:64] or None
    if not (study_uid or accession):
        raise ValueError(
            "ORU names no study: no ZDS-1 Study Instance UID and no accession number (OBR-18/OBR-3)"
        )
    status = _get(obr, 25).upper()
    if status not in FINAL_STATUSES:
        return [], f"result status {status or 'empty'}: not final, not recorded"
    categories: list[str] = []
    density = outcome = pathology = None
    texts: list[str] = []
    for name, seg in segments:
        if name != "OBX":
            continue
        ident = f"{_get(seg, 3, 1)} {_get(seg, 3, 2)}"
        value = _get(seg, 5, 1)
        whole = _field_text(seg, 5).replace("^", " ").replace("~", "\n")
        vtype = _get(seg, 2).upper()
        if _get(seg, 3, 1).upper() == "OUTCOME" and value.lower() in ("cancer", "benign", "normal"):
            outcome = value.lower()
        elif _BIRADS_NAME.search(ident):
            category = birads_value(value or whole)
            if category is not None:
                categories.append(category)
        elif _DENSITY_NAME.search(ident) and value.strip().lower()[:1] in ("a", "b", "c", "d"):
            density = value.strip().lower()[:1]
        elif _PATHOLOGY_NAME.search(ident):
            pathology = "\n".join(p for p in (pathology, whole) if p)
        elif vtype in ("TX", "FT", "ST"):
            texts.append(whole)
    if not categories:
        categories = [m.group(1) for t in texts for m in _BIRADS_TEXT.finditer(t)]
    birads = overall_birads(categories)
    if pathology and outcome is None:
        outcome = pathology_outcome(pathology)
    if birads is None and density is None and outcome is None and not pathology:
        return [], "final result without BI-RADS, density or pathology: nothing recorded"
    record = OutcomeRecord(
        source="pathology" if pathology else "hl7",
        study_instance_uid=study_uid,
        accession_number=accession,
        patient_id=_get(pid, 3)[:64] or None,
        final_birads=birads,
        density=density,
        outcome=outcome,
        pathology=pathology[:4000] if pathology else None,
        reported_at=(_get(obr, 22) or _get(obr, 7))[:26] or None,
        reference=f"{source_app[:40]} {control_id[:60]}".strip(),
    )
    if record.final_birads is None and record.density is None and record.outcome is None:
        # pathology text that decides nothing is kept as a pathology outcome with no verdict
        return [], "pathology text without a decidable diagnosis: kept in the message log"
    parts = [f"BI-RADS {birads}" if birads else "", f"density {density}" if density else ""]
    parts.append(f"outcome {outcome}" if outcome else "")
    return [record.validate()], "outcome: " + ", ".join(p for p in parts if p)
