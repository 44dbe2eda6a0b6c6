"""``breastgate validate``: a retrospective silent-mode validation report from studies + outcomes.

The studies under IN are found as ``breastgate analyze`` finds them (:func:`offline.collect_studies`)
and run through the same path (:func:`offline.run_study`, the study summary and the results JSON
builder), in parallel worker processes; nothing is written per study. Each study becomes a
:class:`~breastgate.governance.validation.StudyCase` (case score, marks, AI density, device and
age from the DICOM headers), joined with the outcomes CSV, and the report folder gets
``metrics.json``, ``report.html`` and ``report.pdf`` (docs/validation.md).

Deterministic: studies are processed in any order but gathered sorted by Study Instance UID, the
bootstrap is seeded, and no timestamp is written unless ``now`` is given, so the same inputs give
byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, TextIO

import numpy
import pydicom
import scipy

from breastgate import __version__
from breastgate.algorithms.registry import Registry
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import AlgorithmStatus, StudyRef
from breastgate.governance.report_html import render_html, render_pdf
from breastgate.governance.validation import CaseMark, StudyCase, validation_metrics
from breastgate.governance.validation_outcomes import read_outcomes
from breastgate.pipeline.offline import collect_studies, run_study
from breastgate.pipeline.summary import summarise
from breastgate.results.json import build_results
from breastgate.routing.rules import Rule, rules_from_manifests
from breastgate.worklist.policy import DEFAULT_POLICY

LOGGER = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class ValidationReport:
    """What ``validate`` wrote and the headline figures the command prints."""

    folder: Path
    metrics: dict[str, Any]
    lines: list[str] = field(default_factory=list)


@cache
def _routing() -> tuple[Registry, list[Rule]]:
    """The registry and routing rules, built once per process (workers reuse them)."""
    registry = Registry.from_entry_points()
    return registry, rules_from_manifests([a.manifest for a in registry.all()])


def parse_age(patient_age: str | None, birth_date: str | None, study_date: str | None) -> float | None:
    """Age in years from Patient's Age (PS3.5 AS: ``nnnD/W/M/Y``), else from Patient's Birth
    Date and Study Date (DA ``YYYYMMDD``, whole years); None when neither is usable."""
    text = (patient_age or "").strip().upper()
    units = {"Y": 1.0, "M": 12.0, "W": 52.1775, "D": 365.25}
    if len(text) >= 2 and text[-1] in units and text[:-1].isdigit():
        return round(int(text[:-1]) / units[text[-1]], 2)
    try:
        born = date(int(birth_date[:4]), int(birth_date[4:6]), int(birth_date[6:8]))  # type: ignore[index]
        seen = date(int(study_date[:4]), int(study_date[4:6]), int(study_date[6:8]))  # type: ignore[index]
    except (TypeError, ValueError):
        return None
    years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    return float(years) if years >= 0 else None


def _headers(study: StudyRef) -> dict[str, Any]:
    """Accession number, device and age from the first mammogram's header (sorted by SOP UID)."""
    images = sorted(study.instances, key=lambda i: (i.modality != "MG", i.sop_instance_uid))
    try:
        ds = pydicom.dcmread(images[0].path, stop_before_pixels=True)
    except Exception as exc:  # the study was indexed from this file; a late read failure is not fatal
        LOGGER.warning("validate: header of %s unreadable: %s", images[0].sop_instance_uid, exc)
        return {}

    def text(keyword: str) -> str | None:
        value = str(ds.get(keyword, "") or "").strip()
        return value or None

    return {
        "accession_number": text("AccessionNumber"),
        "manufacturer": text("Manufacturer"),
        "model": text("ManufacturerModelName"),
        "age": parse_age(text("PatientAge"), text("PatientBirthDate"), text("StudyDate")),
    }


def evaluate_study(study: StudyRef) -> dict[str, Any]:
    """Run the routed algorithms on one study (in a worker process); a picklable summary of what
    the report needs: the results document, operating points, failures and header facts."""
    registry, rules = _routing()
    out: dict[str, Any] = {
        "study_instance_uid": study.study_instance_uid,
        "n_images": sum(1 for i in study.instances if i.modality == "MG"),
        **_headers(study),
    }
    try:
        results = run_study(study, registry, rules)
        summary = summarise(study, results, render=False)
        out["document"] = build_results(study.study_instance_uid, results, summary.assessment, summary.triage)
        failed = [r for r in results if r.status == AlgorithmStatus.FAILED]
        out["failed"] = [f"{r.algorithm_id}: {r.message}" for r in failed]
        out["thresholds"] = {
            r.algorithm_id: r.operating_threshold for r in results if r.operating_threshold is not None
        }
    except Exception as exc:  # one bad study is listed in the report, it does not stop the run
        LOGGER.exception("validate: study could not be analysed")
        out.update(document=None, failed=[f"{type(exc).__name__}: {exc}"], thresholds={})
    return out


def study_case(evaluated: dict[str, Any]) -> StudyCase:
    """The :class:`StudyCase` of one evaluated study: case score = assessment.suspicion_score / 100,
    else the highest finding score, else 0; marks of every finding (all scores, shown or not)."""
    doc = evaluated.get("document") or {}
    findings = doc.get("findings") or []
    assessment = doc.get("assessment")
    if assessment is not None:
        score = float(assessment["suspicion_score"]) / 100.0
    else:
        score = max((float(f["score"]) for f in findings), default=0.0)
    algorithm_scores: dict[str, float] = {a: 0.0 for a in evaluated.get("thresholds", {})}
    marks = []
    for f in findings:
        algorithm_scores[f["algorithm"]] = max(algorithm_scores.get(f["algorithm"], 0.0), float(f["score"]))
        for m in f["marks"]:
            point = (float(m["point"][0]), float(m["point"][1]))
            marks.append(CaseMark(m["sop_instance_uid"], point, float(f["score"]), f["algorithm"]))
    density = doc.get("density") or {}
    return StudyCase(
        study_instance_uid=evaluated["study_instance_uid"],
        accession_number=evaluated.get("accession_number"),
        score=score,
        n_images=int(evaluated.get("n_images", 0)),
        algorithm_scores=algorithm_scores,
        ai_density=density.get("category"),
        age=evaluated.get("age"),
        manufacturer=evaluated.get("manufacturer"),
        model=evaluated.get("model"),
        marks=marks,
        failed=list(evaluated.get("failed", [])),
    )


def _evaluate_all(studies: list[StudyRef], workers: int, progress: Progress | None) -> list[dict[str, Any]]:
    done: list[dict[str, Any]] = []

    def finished(item: dict[str, Any]) -> None:
        done.append(item)
        if progress is not None:
            progress(len(done), len(studies))

    if workers <= 1:
        for study in studies:
            finished(evaluate_study(study))
    else:
        _routing()  # loaded once here; forked workers inherit it
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(evaluate_study, s) for s in studies]
            for future in as_completed(futures):
                finished(future.result())
    return sorted(done, key=lambda d: str(d["study_instance_uid"]))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_files(files: list[Path], into: dict[str, Any]) -> None:
    """SHA-256 over the sorted SHA-256 digests of ``files`` (one hex digest per line)."""
    digests = sorted(_sha256(p) for p in files)
    into["files_sha256"] = hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _majority(values: list[float]) -> float:
    counts = Counter(values)
    return sorted(counts, key=lambda v: (-counts[v], v))[0]


def validate_folder(
    source: Path,
    outcomes_csv: Path,
    out: Path,
    *,
    workers: int | None = None,
    seed: int = 0,
    n_resamples: int = 2000,
    threshold: float | None = None,
    now: str | None = None,
    progress: Progress | None = None,
) -> ValidationReport:
    """Validate the algorithms on every study under ``source`` against ``outcomes_csv``; write
    ``out``/metrics.json, report.html and report.pdf.

    ``threshold`` is the case-score operating point of the subgroup tables (default: the triage
    policy's recall threshold). Raises :class:`InvalidInputError` (bad outcomes CSV, no study, no
    outcome matching a study) or :class:`~breastgate.governance.errors.ReportError` (no PDF engine).
    """
    outcomes_bytes = outcomes_csv.read_bytes()
    try:
        text = outcomes_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{outcomes_csv.name}: not UTF-8 text ({exc})") from None
    outcomes = read_outcomes(text, outcomes_csv.name)
    if not outcomes:
        raise InvalidInputError(f"{outcomes_csv.name}: no outcome rows")
    files = sorted(p for p in source.rglob("*") if p.is_file())
    provenance: dict[str, Any] = {
        "input_folder": str(source.resolve()),
        "input_files": len(files),
    }
    hasher = threading.Thread(target=_hash_files, args=(files, provenance), daemon=True)
    hasher.start()  # hashlib releases the GIL: hashing overlaps the analysis
    studies, unreadable = collect_studies(source)
    if not studies:
        raise InvalidInputError(f"no DICOM study found under {source}")
    evaluated = _evaluate_all(studies, workers or os.cpu_count() or 1, progress)
    hasher.join()
    cases = [study_case(e) for e in evaluated]
    keys = {c.study_instance_uid for c in cases} | {c.accession_number for c in cases}
    if not any(o.study_instance_uid in keys or o.accession_number in keys for o in outcomes):
        raise InvalidInputError(
            f"none of the {len(outcomes)} studies in {outcomes_csv.name} is among the {len(studies)} "
            f"studies under {source} (matched by study_instance_uid, else accession_number)"
        )
    seen: dict[str, list[float]] = {}
    for e in evaluated:
        for algorithm_id, t in e.get("thresholds", {}).items():
            seen.setdefault(algorithm_id, []).append(float(t))
    registry, _ = _routing()
    provenance.update(
        outcomes_csv=str(outcomes_csv.resolve()),
        outcomes_sha256=hashlib.sha256(outcomes_bytes).hexdigest(),
        breastgate_version=__version__,
        seed=seed,
        bootstrap_resamples=n_resamples,
        numpy_version=numpy.__version__,
        scipy_version=scipy.__version__,
        pydicom_version=pydicom.__version__,
    )
    metrics = validation_metrics(
        cases,
        outcomes,
        threshold=DEFAULT_POLICY.recall_threshold / 100.0 if threshold is None else threshold,
        algorithm_thresholds={a: _majority(v) for a, v in seen.items()},
        seed=seed,
        n_resamples=n_resamples,
        provenance=provenance,
        models=[_manifest_json(a.manifest) for a in registry.all()],
        unreadable_files=unreadable,
    )
    if now:
        metrics["generated_at"] = now
    html = render_html(metrics, now=now)
    pdf = render_pdf(html)
    out.mkdir(parents=True, exist_ok=True)
    document = json.dumps(metrics, indent=2, ensure_ascii=False) + "\n"
    (out / "metrics.json").write_text(document, encoding="utf-8")
    (out / "report.html").write_text(html, encoding="utf-8")
    (out / "report.pdf").write_bytes(pdf)
    return ValidationReport(out, metrics, _summary_lines(metrics, out))


def _manifest_json(manifest: Any) -> dict[str, Any]:
    data = asdict(manifest)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _summary_lines(metrics: dict[str, Any], out: Path) -> list[str]:
    counts = metrics["counts"]
    auc = metrics["auc"]
    auc_text = "n/a (needs cancers and non-cancers)"
    if auc and auc["value"] is not None:
        auc_text = f"{auc['value']:.3f} (95% CI {auc['ci_low']:.3f}-{auc['ci_high']:.3f})"
    return [
        f"studies {counts['studies']}, matched {counts['matched']} "
        f"({counts['cancer']} cancer, {counts['benign']} benign, {counts['normal']} normal)",
        f"studies without an outcome: {len(counts['studies_without_outcome'])}; "
        f"outcomes without a study: {len(counts['outcomes_without_study'])}; "
        f"failed studies: {len(counts['failed_studies'])}",
        f"case-level AUC {auc_text}",
        f"report: {out / 'report.html'}, {out / 'report.pdf'}, {out / 'metrics.json'}",
    ]


class ConsoleProgress:
    """A progress display for ``validate``: a rich progress bar on a terminal, otherwise a plain
    ``validate: k/n studies`` line at every tenth of the way (and at the end)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._bar: Any = None
        self._task: Any = None
        self._next = 0

    def __call__(self, done: int, total: int) -> None:
        if self.stream.isatty():
            if self._bar is None:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

                self._bar = Progress(
                    "validate",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    console=Console(file=self.stream),
                )
                self._bar.start()
                self._task = self._bar.add_task("studies", total=total)
            self._bar.update(self._task, completed=done)
            if done >= total:
                self._bar.stop()
            return
        if done >= self._next or done >= total:
            print(f"validate: {done}/{total} studies", file=self.stream, flush=True)
            self._next = done + max(1, total // 10)

    def close(self) -> None:
        """Stop the bar if a run ended early (an error)."""
        if self._bar is not None:
            self._bar.stop()
