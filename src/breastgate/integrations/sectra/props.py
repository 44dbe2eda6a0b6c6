"""Values a Sectra IDS7 structured-report template merges from breastgate (its Data Provider).

IDS7 templates pull flat ``PropValues`` from a registered Data Provider and bind each with
``data-merge-identifier="breastgate.<key>"`` (Sectra StructuredReportingTemplatesDevResources,
"Data provider example"). :func:`build_prop_values` makes them from a study's results document
(:func:`breastgate.results.json.build_results`, already gated by the caller) and the radiologist's
confirmation of the report, if any; :func:`prop_keys` is the full key schema, so a template can
be checked against it.

Every key of the schema is always present: a value breastgate does not have is ``""``, so a
refresh clears what an earlier pull filled in. Values are strings or numbers, as the template
merges them. Findings are numbered as in the report draft (:func:`breastgate.reporting.draft.build_draft`:
findings at the operating point, right breast first, then by falling score), in at least
:data:`FINDING_SLOTS` slots; more findings get more numbered keys.

Draft or confirmed: ``birads_status`` and ``density_status`` are ``confirmed`` when a radiologist
confirmed the report (their category overrides the AI's, which stays in ``*_ai_category``),
``draft`` for the AI's value, ``""`` when there is none. Findings are always the AI's;
``findingN_status`` carries the radiologist's latest feedback on one (accepted, rejected,
modified) or ``draft``. ``findingN_link`` / ``study_link``: breastgate's launch endpoint opening
IDS7 at the finding's image and frame / at the study (with Sectra URL launch and BG_PUBLIC_URL
configured, else empty).

Comparison with the prior (schema version 1, keys added): ``comparison_status`` is the priors'
status (held, none_available, not_in_time, not_sought; ``""`` when no algorithm read priors),
``prior_study_date`` the most recent prior compared with (ISO date), ``density_prior_category``
and ``density_change_pp`` the prior's density and the change in percentage points;
``findingN_change`` (new, stable, increased, decreased), ``_size_change_mm`` (current − prior),
``_prior_size_mm`` and ``_prior_date`` per finding. DCE-MRI lesions: ``findingN_diameters_mm``
("14 x 10 x 8"), ``_initial_phase`` (slow, medium, fast), ``_delayed_phase`` (persistent,
plateau, washout), ``_curve_type`` (I, II, III) and ``_peak_enhancement_pct``.

One lesion across modalities (schema version 1, key added): ``findingN_correspondence`` names the
same lesion in the woman's other studies ("the 10 mm mass at 10 o'clock on the mammogram of
2026-03-01"; several joined by "; "), from the lesion table; ``""`` when none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from breastgate.domain.density import DENSITY_SENTENCES
from breastgate.domain.report import BIRADS_CATEGORIES, DRAFT_LABEL, DraftFinding
from breastgate.reporting.draft import build_draft

__all__ = [
    "FINDING_FIELDS",
    "FINDING_SLOTS",
    "SCHEMA_UID",
    "SCHEMA_VERSION",
    "STUDY_KEYS",
    "PropValue",
    "ReportState",
    "build_prop_values",
    "prop_keys",
]

PropValue = str | int | float

#: Identity of this key schema (the Data Provider's ``Compatibility.Uid``): fixed for breastgate.
SCHEMA_UID = "85a38e9f-7d4f-4782-b7ce-46767dbe0624"
#: Version of the key schema (``Compatibility.Version``, a number as in Sectra's example provider):
#: raised when a key is removed or changes meaning; adding keys keeps it.
SCHEMA_VERSION = 1

#: Study-level keys, in the order a template reads them.
STUDY_KEYS: tuple[str, ...] = (
    "disclaimer",
    "report_status",
    "confirmed_by",
    "confirmed_at",
    "density_category",
    "density_sentence",
    "density_status",
    "density_ai_category",
    "percent_dense",
    "birads_category",
    "birads_name",
    "birads_status",
    "birads_ai_category",
    "recommendation",
    "suspicion_score",
    "triage_priority",
    "triage_flags",
    "triage_policy",
    "positioning_verdict",
    "positioning_issues",
    "comparison_summary",
    "comparison_status",
    "prior_study_date",
    "density_prior_category",
    "density_change_pp",
    "finding_count",
    "algorithms",
    "study_link",
)

#: Keys of one finding, each prefixed ``finding<N>_`` (N from 1).
FINDING_FIELDS: tuple[str, ...] = (
    "id",
    "kind",
    "laterality",
    "clock",
    "quadrant",
    "depth",
    "distance_mm",
    "size_mm",
    "score",
    "sentence",
    "change",
    "size_change_mm",
    "prior_size_mm",
    "prior_date",
    "diameters_mm",
    "initial_phase",
    "delayed_phase",
    "curve_type",
    "peak_enhancement_pct",
    "status",
    "algorithm",
    "link",
    "correspondence",
)

#: Finding slots always present (cleared when the study has fewer findings).
FINDING_SLOTS = 5

#: BI-RADS 5th edition names and management of every category (a radiologist may confirm 3-6).
_NAMES = {category: name for category, (name, _) in BIRADS_CATEGORIES.items()}
_MANAGEMENT = {category: management for category, (_, management) in BIRADS_CATEGORIES.items()}
_FEEDBACK = {"accept": "accepted", "reject": "rejected", "modify": "modified"}


@dataclass(frozen=True)
class ReportState:
    """The stored report of a study as the props read it (``store.reports.ReportRecord``).

    ``birads`` and ``density`` are the radiologist's, set once ``status`` is ``confirmed``.
    """

    status: str
    birads: str | None = None
    density: str | None = None
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None

    @property
    def confirmed(self) -> bool:
        return self.status == "confirmed"


def prop_keys(findings: int = FINDING_SLOTS) -> tuple[str, ...]:
    """Every key :func:`build_prop_values` returns for a study with ``findings`` findings or fewer
    (never fewer than :data:`FINDING_SLOTS` slots)."""
    slots = max(findings, FINDING_SLOTS)
    return STUDY_KEYS + tuple(f"finding{n}_{f}" for n in range(1, slots + 1) for f in FINDING_FIELDS)


def _num(value: Any, places: int) -> PropValue:
    if value is None:
        return ""
    rounded = round(float(value), places)
    return int(rounded) if places == 0 else rounded


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _finding(finding: DraftFinding, source: Mapping[str, Any]) -> dict[str, PropValue]:
    action = str((source.get("feedback") or {}).get("action") or "")
    values: dict[str, PropValue] = {
        "id": finding.id,
        "kind": finding.kind.value,
        "laterality": finding.laterality,
        "clock": _num(finding.clock, 0),
        "quadrant": _text(finding.quadrant),
        "depth": _text(finding.depth),
        "distance_mm": _num(finding.distance_from_nipple_mm, 0),
        "size_mm": _num(finding.size_mm, 1),
        "score": _num(finding.score, 2),
        "sentence": finding.sentence,
        "change": finding.change.value if finding.change is not None else "",
        "size_change_mm": _num(finding.size_change_mm, 1),
        "prior_size_mm": _num(finding.prior_size_mm, 1),
        "prior_date": finding.prior_date.isoformat() if finding.prior_date else "",
        "diameters_mm": " x ".join(f"{d:.0f}" for d in finding.diameters_mm) if finding.diameters_mm else "",
        "initial_phase": _text(finding.initial_phase),
        "delayed_phase": _text(finding.delayed_phase),
        "curve_type": _text(finding.curve_type),
        "peak_enhancement_pct": _num(finding.peak_enhancement_pct, 0),
        "status": _FEEDBACK.get(action, "draft"),
        "algorithm": finding.algorithm,
        "link": _text((source.get("launch") or {}).get("ids7")),
        "correspondence": "; ".join(finding.correspondences),
    }
    return values


def _positioning(quality: Mapping[str, Any] | None) -> tuple[str, str]:
    if not quality:
        return "", ""
    issues: list[str] = []
    for check in quality.get("checks") or []:
        if check.get("passed") or check.get("name") == "study_verdict":
            continue
        where = " ".join(str(p) for p in (check.get("laterality"), check.get("view")) if p)
        reason = str(check.get("reason") or check.get("name"))
        issue = f"{where}: {reason}" if where else reason
        if issue not in issues:
            issues.append(issue)
    return _text(quality.get("verdict")), "; ".join(issues)


def _algorithms(results: Mapping[str, Any]) -> str:
    parts = []
    for a in results.get("algorithms") or []:
        status = str(a.get("status") or "")
        parts.append(f"{a['id']} {a['version']}" + (f" ({status})" if status and status != "ok" else ""))
    return ", ".join(parts)


def build_prop_values(
    results: Mapping[str, Any],
    report: ReportState | None = None,
    *,
    correspondences: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, PropValue]:
    """The ``PropValues`` of a study: every key of :func:`prop_keys` for its finding count.

    ``results`` is the study's results document holding only what may reach the report (the
    caller's governance gate); ``report`` the stored report, None when the study has none.
    Raises InvalidInputError when ``results`` cannot be drafted.
    """
    draft = build_draft(results, correspondences=correspondences)
    drafted = bool(results.get("algorithms"))  # nothing reached the report: no AI statement at all
    confirmed = report if report is not None and report.confirmed else None
    density = results.get("density") or {}
    ai_density = _text(density.get("category")).lower() or None
    final_density = confirmed.density if confirmed and confirmed.density else ai_density
    final_birads = confirmed.birads if confirmed and confirmed.birads else draft.birads
    if confirmed and confirmed.birads:
        recommendation = _MANAGEMENT.get(confirmed.birads, "")
    else:
        recommendation = draft.recommendation if drafted else ""
    assessment = results.get("assessment") or {}
    triage = results.get("triage") or {}
    verdict, issues = _positioning(results.get("quality"))
    values: dict[str, PropValue] = {
        "disclaimer": DRAFT_LABEL,
        "report_status": report.status if report is not None else "none",
        "confirmed_by": _text(confirmed.confirmed_by) if confirmed else "",
        "confirmed_at": confirmed.confirmed_at.isoformat() if confirmed and confirmed.confirmed_at else "",
        "density_category": _text(final_density),
        "density_sentence": DENSITY_SENTENCES.get(final_density or "", ""),
        "density_status": _status(final_density, bool(confirmed and confirmed.density)),
        "density_ai_category": _text(ai_density),
        "percent_dense": _num(density.get("percent_dense"), 1),
        "birads_category": _text(final_birads),
        "birads_name": _NAMES.get(final_birads or "", ""),
        "birads_status": _status(final_birads, bool(confirmed and confirmed.birads)),
        "birads_ai_category": _text(draft.birads),
        "recommendation": recommendation,
        "suspicion_score": _num(assessment.get("suspicion_score"), 0),
        "triage_priority": _text(triage.get("priority")),
        "triage_flags": ", ".join(str(f) for f in triage.get("flags") or ()),
        "triage_policy": _text(triage.get("policy")),
        "positioning_verdict": verdict,
        "positioning_issues": issues,
        "comparison_summary": " ".join(draft.comparison) if drafted else "",
        "comparison_status": _text(draft.prior_status),
        "prior_study_date": draft.prior_study_dates[0].isoformat() if draft.prior_study_dates else "",
        "density_prior_category": _text(draft.prior_composition_category),
        "density_change_pp": _num(draft.density_change_pp, 1),
        "finding_count": len(draft.findings) if drafted else "",
        "algorithms": _algorithms(results),
        "study_link": _text((results.get("launch") or {}).get("ids7")),
    }
    sources = {str(f.get("id")): f for f in results.get("findings") or []}
    for n, finding in enumerate(draft.findings, start=1):
        for field, value in _finding(finding, sources.get(finding.id, {})).items():
            values[f"finding{n}_{field}"] = value
    return {key: values.get(key, "") for key in prop_keys(len(draft.findings))}


def _status(value: str | None, confirmed: bool) -> str:
    if confirmed:
        return "confirmed"
    return "draft" if value else ""
