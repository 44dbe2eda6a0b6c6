"""``breastgate analyze``: the gateway's analysis on local files, without a database or network.

IN is a folder of DICOM files (one study) or a folder of such folders at any depth; files are
grouped by Study Instance UID, so both layouts give one result per study. Per study:
``OUT/<StudyInstanceUID>/results.json`` plus the DICOM outputs beside it.

Priors offline: when IN holds several studies of one patient (same Patient ID), each study gets
the patient's studies with an earlier Study Date as its priors (most recent first, status
``held``), so the prior comparison runs offline as it does behind routing; a study without any is
``not_sought`` (nobody asked a PACS).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite

from breastgate.algorithms.registry import Registry
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, InstanceRef, PriorStatus, StudyRef
from breastgate.pipeline.analysis import OutputObject, analyse
from breastgate.pipeline.summary import summarise
from breastgate.results.json import build_results
from breastgate.routing.rules import Rule, route, rules_from_manifests
from breastgate.store.headers import header_from_dataset

LOGGER = logging.getLogger(__name__)


@dataclass
class AnalysisReport:
    """What ``analyze`` did: one line per study, and how many could not be analysed."""

    studies: list[str] = field(default_factory=list)
    failed: int = 0
    unreadable_files: int = 0
    lines: list[str] = field(default_factory=list)


def collect_studies(source: Path) -> tuple[list[StudyRef], int]:
    """Read every DICOM header under ``source``; group instances by study. Returns (studies, unreadable)."""
    by_study: dict[str, list[InstanceRef]] = defaultdict(list)
    about: dict[str, tuple[str | None, str | None, str | None]] = {}
    unreadable = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            syntax = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in ds.file_meta else None
            header = header_from_dataset(ds, syntax)
        except (InvalidDicomError, InvalidInputError, OSError, ValueError, AttributeError, EOFError):
            unreadable += 1
            continue
        if header.study_instance_uid not in about or about[header.study_instance_uid] == (None, None, None):
            about[header.study_instance_uid] = (header.patient_id, header.study_date, header.accession_number)
        by_study[header.study_instance_uid].append(
            InstanceRef(
                study_instance_uid=header.study_instance_uid,
                series_instance_uid=header.series_instance_uid,
                sop_instance_uid=header.sop_instance_uid,
                sop_class_uid=header.sop_class_uid,
                modality=header.modality or "",
                path=str(path.resolve()),
                laterality=header.laterality,
                view=header.view,
                presentation_intent=header.presentation_intent,
                number_of_frames=header.number_of_frames,
            )
        )
    studies = [
        StudyRef(
            uid,
            tuple(instances),
            patient_id=about[uid][0],
            accession_number=about[uid][2],
            study_date=about[uid][1],
        )
        for uid, instances in sorted(by_study.items())
    ]
    return attach_priors(studies), unreadable


def attach_priors(studies: list[StudyRef]) -> list[StudyRef]:
    """Each study with the same patient's earlier studies (by Study Date) as priors, most recent
    first (status ``held``); studies without an ID, a date or an earlier study keep ``not_sought``."""
    out = []
    for study in studies:
        if not study.patient_id or not study.study_date:
            out.append(study)
            continue
        earlier = sorted(
            (
                s
                for s in studies
                if s.patient_id == study.patient_id
                and s.study_date
                and s.study_date < study.study_date
                and s.study_instance_uid != study.study_instance_uid
            ),
            key=lambda s: (s.study_date or "", s.study_instance_uid),
            reverse=True,
        )
        if earlier:
            study = replace(study, priors=tuple(earlier), prior_status=PriorStatus.HELD)
        out.append(study)
    return out


def run_study(study: StudyRef, registry: Registry, rules: list[Rule]) -> list[AlgorithmResult]:
    """Run the algorithms the rules route ``study`` to (in routing order); write nothing."""
    return [result for result, _ in _analysed(study, registry, rules)]


def _analysed(
    study: StudyRef, registry: Registry, rules: list[Rule]
) -> list[tuple[AlgorithmResult, list[OutputObject]]]:
    """Each routed algorithm's result and objects; one that fails is reported failed, the rest go on."""
    return [analyse(registry.get(algorithm_id), study) for algorithm_id in route(study, rules)]


def analyze_study(study: StudyRef, registry: Registry, rules: list[Rule], out: Path) -> list[AlgorithmResult]:
    """Run the routed algorithms on one study; write results.json and the DICOM outputs."""
    folder = out / study.study_instance_uid
    folder.mkdir(parents=True, exist_ok=True)
    analysed = _analysed(study, registry, rules)
    results = [result for result, _ in analysed]
    summary = summarise(study, results)
    for output in [o for _, objects in analysed for o in objects] + list(summary.outputs):
        buffer = BytesIO()
        dcmwrite(buffer, output.dataset, enforce_file_format=True)
        (folder / f"{output.kind}-{output.sop_instance_uid}.dcm").write_bytes(buffer.getvalue())
    document = build_results(study.study_instance_uid, results, summary.assessment, summary.triage)
    (folder / "results.json").write_text(json.dumps(document, indent=2, sort_keys=False))
    return results


def analyze_folder(source: Path, out: Path, registry: Registry | None = None) -> AnalysisReport:
    """Analyse every study under ``source`` into ``out``."""
    registry = registry or Registry.from_entry_points()
    rules = rules_from_manifests([a.manifest for a in registry.all()])
    studies, unreadable = collect_studies(source)
    report = AnalysisReport(unreadable_files=unreadable)
    for study in studies:
        report.studies.append(study.study_instance_uid)
        try:
            results = analyze_study(study, registry, rules, out)
        except Exception as exc:  # one study's failure never stops the batch
            LOGGER.exception("study could not be analysed")
            report.failed += 1
            report.lines.append(f"{study.study_instance_uid}: failed: {type(exc).__name__}: {exc}")
            continue
        statuses = ", ".join(f"{r.algorithm_id} {r.status.value}" for r in results) or "no algorithm applies"
        summary = next((f"density {r.density.category}" for r in results if r.density is not None), "")
        report.lines.append(f"{study.study_instance_uid}: {statuses}{'; ' + summary if summary else ''}")
        if any(r.status == AlgorithmStatus.FAILED for r in results):
            report.failed += 1
    if unreadable:
        report.lines.append(f"{unreadable} file(s) were not DICOM or lacked study/series/instance UIDs")
    return report
