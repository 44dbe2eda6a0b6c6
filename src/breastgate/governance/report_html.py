"""The validation report as HTML (and PDF through WeasyPrint), rendered from the metrics document.

Everything shown comes from :func:`breastgate.governance.validation.validation_metrics`'s
document, so ``report.html`` and ``metrics.json`` never disagree. No timestamp unless the caller
gives one (``now``): the same document renders to the same bytes. The PDF carries fixed metadata
(title, generator; creation and modification dates only with ``now``); WeasyPrint writes nothing
else that varies between runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from breastgate.governance.errors import ReportError
from breastgate.governance.plots import Series, line_plot, nice_max

__all__ = ["render_html", "render_pdf"]

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: sans-serif; font-size: 9.5pt; color: #222; }
h1 { font-size: 16pt; margin: 0 0 6pt 0; } h2 { font-size: 12pt; margin: 14pt 0 4pt 0; }
.notice { border: 2pt solid #b00020; background: #fdecea; color: #7a0014; padding: 8pt;
          font-size: 11pt; font-weight: bold; margin: 8pt 0; }
table { border-collapse: collapse; margin: 4pt 0; }
th, td { border: 0.5pt solid #aaa; padding: 2pt 4pt; text-align: right; }
th { background: #eef; } td.l, th.l { text-align: left; }
.plots svg { margin: 4pt; } .mono { font-family: monospace; font-size: 8pt; word-break: break-all; }
"""


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """An HTML table; the first ``left`` columns are left-aligned text, cells already escaped."""
    head = "".join(f'<th class="{"l" if k < left else ""}">{escape(h)}</th>' for k, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if k < left else ""}">{c}</td>' for k, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _auc_text(auc: Mapping[str, Any] | None) -> str:
    if not auc or auc.get("value") is None:
        return "– (needs cancers and non-cancers)"
    conf = round(100 * float(auc["confidence"]))
    return f"{auc['value']:.3f} ({conf}% CI {auc['ci_low']:.3f}–{auc['ci_high']:.3f})"


def _plots(doc: Mapping[str, Any]) -> str:
    roc = [(p["fpr"], p["tpr"]) for p in doc["roc"] if p["fpr"] is not None and p["tpr"] is not None]
    froc = doc["froc"]
    fro = [(p["fp_per_image"], p["sensitivity"]) for p in froc["points"] if p["sensitivity"] is not None]
    fro = [(x, y) for x, y in fro if x is not None]
    calib = [(b["mean_score"], b["observed_rate"]) for b in doc["calibration"] if b["count"]]
    auc = doc["auc"]["value"] if doc["auc"] and doc["auc"]["value"] is not None else None
    roc_label = f"AUC {auc:.3f}" if auc is not None else "AUC –"
    x_max = nice_max(max([1.0, *(x for x, _ in fro)]))
    svgs = [
        line_plot(
            "ROC (case score)",
            [Series(roc_label, roc)] if len(roc) > 1 else [],
            x_label="1 − specificity",
            y_label="sensitivity",
            diagonal=True,
        ),
        line_plot(
            f"FROC ({froc['n_lesions']} lesions, {froc['n_images']} images)",
            [Series("lesion sensitivity", fro)] if len(fro) > 1 else [],
            x_label="false marks per image",
            y_label="lesion sensitivity",
            x_max=float(x_max),
        ),
        line_plot(
            "Calibration",
            [Series("observed cancer rate", calib, dots=True)] if calib else [],
            x_label="mean case score in bin",
            y_label="observed cancer rate",
            diagonal=True,
        ),
    ]
    return '<div class="plots">' + "".join(svgs) + "</div>"


def _point_rows(points: Sequence[Mapping[str, Any]], first: str) -> list[list[str]]:
    return [
        [
            _fmt(p.get(first)),
            _fmt(p.get("threshold"), 2),
            _pct(p["sensitivity"]),
            _pct(p["specificity"]),
            _pct(p["recall_rate"]),
            _pct(p["ppv"]),
            _fmt(p["cdr_per_1000"], 1),
            _pct(p["workload"]),
        ]
        for p in points
    ]


def _subgroups(doc: Mapping[str, Any]) -> str:
    titles = {"density": "Breast density", "age_band": "Age band", "device": "Device (manufacturer / model)"}
    parts = [f"<h2>Subgroups (case score ≥ {_fmt(doc['threshold'], 2)})</h2>"]
    for by, title in titles.items():
        rows = [
            [
                _fmt(r["group"]),
                str(r["n"]),
                str(r["positives"]),
                _auc_text(r["auc"]),
                _pct(r["sensitivity"]),
                _pct(r["specificity"]),
                _pct(r["recall_rate"]),
                _pct(r["ppv"]),
            ]
            for r in doc["subgroups"][by]
        ]
        headers = [title, "n", "cancers", "AUC", "sensitivity", "specificity", "recall rate", "PPV1"]
        parts.append(_table(headers, rows))
    return "".join(parts)


def _completeness(counts: Mapping[str, Any]) -> str:
    rows = [
        ["studies found", str(counts["studies"])],
        ["outcome rows (studies)", str(counts["outcome_rows"])],
        ["matched (in the metrics)", str(counts["matched"])],
        ["cancer / benign / normal", f"{counts['cancer']} / {counts['benign']} / {counts['normal']}"],
        ["studies without an outcome", str(len(counts["studies_without_outcome"]))],
        ["outcomes without a study", str(len(counts["outcomes_without_study"]))],
        ["studies an algorithm failed on", str(len(counts["failed_studies"]))],
        ["files that are not DICOM or unreadable", str(counts["unreadable_files"])],
    ]
    parts = [_table(["", "count"], rows)]
    lists = (
        ("Studies without an outcome", counts["studies_without_outcome"]),
        ("Outcomes without a study", counts["outcomes_without_study"]),
        (
            "Failed studies",
            [f"{f['study_instance_uid']}: {'; '.join(f['messages'])}" for f in counts["failed_studies"]],
        ),
    )
    for title, items in lists:
        if items:
            parts.append(f"<p><b>{escape(title)}:</b></p><ul class='mono'>")
            parts.extend(f"<li>{escape(str(i))}</li>" for i in items)
            parts.append("</ul>")
    return "".join(parts)


def _density(agreement: Mapping[str, Any]) -> str:
    if not agreement["n"]:
        return "<p>No study has both an AI and a radiologist density.</p>"
    matrix = agreement["confusion_ai_rows_radiologist_columns"]
    rows = [[f"AI {c}", *(str(v) for v in matrix[k])] for k, c in enumerate("abcd")]
    return (
        f"<p>n = {agreement['n']}; exact agreement {_pct(agreement['exact_agreement'])}; "
        f"Cohen's kappa linear {_fmt(agreement['kappa_linear'])}, "
        f"quadratic {_fmt(agreement['kappa_quadratic'])}.</p>"
        + _table(["", "radiologist a", "b", "c", "d"], rows)
    )


def render_html(doc: Mapping[str, Any], *, now: str | None = None) -> str:
    """The full report; ``now`` (an ISO timestamp) is printed only when given."""
    counts = doc["counts"]
    prov = doc["provenance"]
    title = "breastgate retrospective validation report"
    meta = [f'<meta name="generator" content="breastgate {escape(str(prov.get("breastgate_version", "")))}">']
    if now:
        meta.append(f'<meta name="dcterms.created" content="{escape(now)}">')
        meta.append(f'<meta name="dcterms.modified" content="{escape(now)}">')
    point_headers = ["operating point", "threshold", "sens.", "spec.", "recall", "PPV1", "CDR/1000"]
    point_headers.append("workload")
    models = [
        [_fmt(m["id"]), _fmt(m["version"]), _fmt(m.get("name")), _fmt(m.get("intended_use"))]
        for m in doc["models"]
    ]
    provenance = [[escape(k), f'<span class="mono">{_fmt(v)}</span>'] for k, v in prov.items()]
    studies = [
        [
            f'<span class="mono">{escape(s["study_instance_uid"])}</span>',
            _fmt(s["outcome"]),
            _fmt(s["score"], 4),
            _fmt(s["ai_density"]),
            _fmt(s["radiologist_density"]),
            _fmt(s["age_band"]),
            _fmt(f"{s['manufacturer'] or 'unknown'} / {s['model'] or 'unknown'}"),
            str(s["marks"]),
            str(s["lesions"]),
        ]
        for s in doc["studies"]
    ]
    body = [
        f"<h1>{title}</h1>",
        f'<div class="notice">{escape(doc["notice"])}</div>',
        f"<p>Generated {escape(now)}.</p>" if now else "",
        f"<p><b>Case-level AUC:</b> {_auc_text(doc['auc'])}; {counts['matched']} studies "
        f"({counts['cancer']} cancers). Case score: {escape(doc['case_score'])}.</p>",
        _plots(doc),
        "<h2>Operating points</h2><p>Recall when the score is at or above the threshold; workload is "
        "the fraction of studies a radiologist still reads when those below it are triaged out.</p>",
        _table(point_headers, _point_rows(doc["operating_points"], "label")),
        _subgroups(doc),
        "<h2>Density agreement (AI vs radiologist)</h2>",
        _density(doc["density_agreement"]),
        "<h2>Data completeness</h2>",
        _completeness(counts),
        "<h2>Models</h2>",
        _table(["algorithm", "version", "name", "intended use"], models, left=4),
        "<h2>Provenance</h2>",
        _table(["", "value"], provenance, left=2),
        "<h2>Per-study scores</h2>",
        _table(
            ["study", "outcome", "score", "AI density", "rad. density", "age", "device", "marks", "lesions"],
            studies,
            left=2,
        ),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        + "".join(meta)
        + f"<style>{_CSS}</style></head><body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body></html>\n"
    )


def render_pdf(html: str) -> bytes:
    """The report as PDF bytes (WeasyPrint, imported here so HTML-only use needs no Pango).

    Raises
    ------
    ReportError
        When WeasyPrint or its system libraries cannot be loaded (the message says what to install).
    """
    try:
        weasyprint = importlib.import_module("weasyprint")
    except (ImportError, OSError) as exc:
        raise ReportError(
            f"PDF reports need WeasyPrint (pip install weasyprint) and Pango (apt-get install "
            f"libpango-1.0-0 libpangoft2-1.0-0): {exc}"
        ) from exc
    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    pdf = weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
    if not isinstance(pdf, bytes):
        raise TypeError(f"WeasyPrint returned {type(pdf).__name__}, not bytes")
    return pdf
