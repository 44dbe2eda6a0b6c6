"""QIDO-RS answers (PS3.18 §10.6): query parameters -> index search -> DICOM JSON.

Matching uses the index (:mod:`breastgate.store.qido`); the other returned attributes come from
one stored header per study or series (cached), as the standard's default return keys (PS3.18
Table 10.6.3-3/4/5) plus ``includefield``. Result objects breastgate made for a study (CAD SR,
GSPS, SC, KOS ...) are listed under the study when the query names it, as far as the algorithm
version's mode lets its results reach breastgate's own pages (destination ``api``, at least
assistive): a silent version's objects stay hidden as its results do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.datadict import keyword_for_tag, tag_for_keyword
from sqlalchemy.orm import Session

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import Destination, Mode
from breastgate.governance.modes import ModeBook
from breastgate.store import qido
from breastgate.web.api import dicomweb_files as files

LOGGER = logging.getLogger(__name__)

STUDY_FIELDS = (
    "SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName",
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
    "StudyDescription", "TimezoneOffsetFromUTC",
)  # fmt: skip
SERIES_FIELDS = (
    "SpecificCharacterSet", "Modality", "SeriesDescription", "SeriesNumber", "SeriesInstanceUID",
    "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime", "SeriesDate", "SeriesTime",
    "StudyInstanceUID", "TimezoneOffsetFromUTC",
)  # fmt: skip
INSTANCE_FIELDS = (
    "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "InstanceNumber", "Rows", "Columns",
    "BitsAllocated", "NumberOfFrames", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
    "ImageLaterality", "ViewPosition", "TimezoneOffsetFromUTC",
)  # fmt: skip
#: Keys matched in the index; any other matching key is ignored (and said so in a Warning header).
MATCHED = frozenset({
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "PatientID", "PatientName",
    "AccessionNumber", "StudyDate", "ModalitiesInStudy", "Modality",
})  # fmt: skip
CONTROL = frozenset({"limit", "offset", "includefield", "fuzzymatching"})
MAX_LIMIT = 1000
_DATE = re.compile(r"^(\d{8})?(-)?(\d{8})?$")


@dataclass(frozen=True)
class Query:
    """A parsed QIDO request."""

    filters: qido.Filters
    limit: int
    offset: int
    include: frozenset[str]  # tags as 8 hex digits; "all" for every attribute
    ignored: tuple[str, ...]


def _keyword(key: str) -> str:
    text = key.strip()
    if re.fullmatch(r"[0-9A-Fa-f]{8}", text):
        return keyword_for_tag(int(text, 16)) or text.upper()
    return text


def _tag(keyword: str) -> str | None:
    if re.fullmatch(r"[0-9A-Fa-f]{8}", keyword):
        return keyword.upper()
    tag = tag_for_keyword(keyword)
    return f"{tag:08X}" if tag is not None else None


def _uids(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(u.strip() for v in values for u in re.split(r"[,\\]", v) if u.strip())


def _date_range(value: str) -> tuple[str | None, str | None]:
    match = _DATE.fullmatch(value.replace("-", "-").strip())
    if not match or not (match.group(1) or match.group(3)):
        raise InvalidInputError("StudyDate must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    low, dash, high = match.groups()
    return (low, high) if dash else (low, low)


def _int(values: Sequence[str], default: int, name: str) -> int:
    if not values:
        return default
    try:
        number = int(values[-1])
    except ValueError:
        raise InvalidInputError(f"{name} must be a whole number") from None
    if number < 0:
        raise InvalidInputError(f"{name} must not be negative")
    return number


def parse(params: Sequence[tuple[str, str]], fixed: Mapping[str, str]) -> Query:
    """Parse the query string; ``fixed`` holds the UIDs of the path (they always match)."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        name = key if key in CONTROL else _keyword(key)
        grouped.setdefault(name, []).append(value)
    for key, value in fixed.items():
        grouped[key] = [value]
    include: set[str] = set()
    for value in grouped.get("includefield", []):
        for item in value.split(","):
            if item.strip().lower() == "all":
                include.add("all")
            elif (tag := _tag(_keyword(item))) is not None:
                include.add(tag)
    date = grouped.get("StudyDate")

    def one(key: str) -> str | None:
        values = grouped.get(key)
        return values[-1].strip() or None if values else None

    filters = qido.Filters(
        study_uids=_uids(grouped.get("StudyInstanceUID", [])),
        series_uids=_uids(grouped.get("SeriesInstanceUID", [])),
        sop_uids=_uids(grouped.get("SOPInstanceUID", [])),
        sop_classes=_uids(grouped.get("SOPClassUID", [])),
        patient_id=one("PatientID"),
        patient_name=one("PatientName"),
        accession_number=one("AccessionNumber"),
        study_date=_date_range(date[-1]) if date and date[-1].strip() else None,
        modalities_in_study=_uids(grouped.get("ModalitiesInStudy", [])),
        modality=_uids(grouped.get("Modality", [])),
    )
    ignored = tuple(sorted(k for k in grouped if k not in MATCHED and k not in CONTROL))
    limit = min(_int(grouped.get("limit", []), MAX_LIMIT, "limit"), MAX_LIMIT)
    return Query(filters, limit, _int(grouped.get("offset", []), 0, "offset"), frozenset(include), ignored)


def _element(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


def _pick(sample: Mapping[str, Any], fields: Sequence[str], include: frozenset[str]) -> dict[str, Any]:
    if "all" in include:
        return {k: v for k, v in sample.items() if not k.startswith("7FE0")}
    wanted = {t for f in fields if (t := _tag(f)) is not None} | include
    return {k: v for k, v in sample.items() if k in wanted}


def _sample(path: str | None) -> Mapping[str, Any]:
    if not path:
        return {}
    try:
        return files.metadata(path)
    except (OSError, ValueError, EOFError) as exc:  # a broken file must not break the search
        LOGGER.warning("cannot read a stored header for QIDO: %s", type(exc).__name__)
        return {}


@dataclass(frozen=True)
class ResultObject:
    """A result object breastgate wrote for a study (not in the instance index)."""

    path: str
    info: Any  # HeaderInfo


def visible_results(
    session: Session, results_path: Path | None, study_uid: str, default_mode: Mode
) -> list[ResultObject]:
    """The study's result objects a reader may see (mode of their algorithm version at ``api``)."""
    paths = files.result_files(results_path, study_uid)
    if not paths:
        return []
    owners = qido.result_object_versions(session, study_uid)
    book = ModeBook.load(session, default_mode)
    found = []
    for path in paths:
        try:
            info = files.header(path)
        except (InvalidInputError, OSError):
            continue
        owner = owners.get(info.sop_instance_uid)
        if owner is not None and not book.allows(owner[0], owner[1], Destination.API):
            continue
        found.append(ResultObject(path, info))
    return found


def _matches(info: Any, filters: qido.Filters) -> bool:
    return (
        (not filters.series_uids or info.series_instance_uid in filters.series_uids)
        and (not filters.sop_uids or info.sop_instance_uid in filters.sop_uids)
        and (not filters.sop_classes or info.sop_class_uid in filters.sop_classes)
        and (not filters.modality or info.modality in filters.modality)
    )


def study_json(
    row: qido.StudyRow, extra: Sequence[ResultObject], base: str, include: frozenset[str]
) -> dict[str, Any]:
    body = _pick(_sample(row.sample_path), STUDY_FIELDS, include)
    modalities = sorted(set(row.modalities) | {r.info.modality for r in extra if r.info.modality})
    series = row.series_count + len({r.info.series_instance_uid for r in extra})
    body["0020000D"] = _element("UI", row.study_instance_uid)
    body["00080061"] = _element("CS", *modalities)
    body["00201206"] = _element("IS", series)
    body["00201208"] = _element("IS", row.instance_count + len(extra))
    body["00080056"] = _element("CS", "ONLINE")
    body["00081190"] = _element("UR", f"{base}/studies/{row.study_instance_uid}")
    return dict(sorted(body.items()))


def series_json(
    study: str,
    series: str,
    modality: str | None,
    count: int,
    sample: str | None,
    base: str,
    include: frozenset[str],
) -> dict[str, Any]:
    body = _pick(_sample(sample), SERIES_FIELDS, include)
    body["0020000D"] = _element("UI", study)
    body["0020000E"] = _element("UI", series)
    if modality:
        body["00080060"] = _element("CS", modality)
    body["00201209"] = _element("IS", count)
    body["00080056"] = _element("CS", "ONLINE")
    body["00081190"] = _element("UR", f"{base}/studies/{study}/series/{series}")
    return dict(sorted(body.items()))


def instance_json(
    study: str, series: str, sop: str, sop_class: str, path: str, base: str, include: frozenset[str]
) -> dict[str, Any]:
    body = _pick(_sample(path), INSTANCE_FIELDS, include)
    body["0020000D"] = _element("UI", study)
    body["0020000E"] = _element("UI", series)
    body["00080018"] = _element("UI", sop)
    body["00080016"] = _element("UI", sop_class)
    body["00080056"] = _element("CS", "ONLINE")
    body["00081190"] = _element("UR", f"{base}/studies/{study}/series/{series}/instances/{sop}")
    return dict(sorted(body.items()))


def series_answers(
    rows: Sequence[qido.SeriesRow], query: Query, base: str, results: Sequence[ResultObject]
) -> list[dict[str, Any]]:
    """The page of series answers: the index's rows, then the result objects' series."""
    entries = [
        (r.study_instance_uid, r.series_instance_uid, r.modality, r.instance_count, r.sample_path)
        for r in rows
    ]
    grouped: dict[tuple[str, str], list[ResultObject]] = {}
    for r in results:
        if _matches(r.info, query.filters):
            grouped.setdefault((r.info.study_instance_uid, r.info.series_instance_uid), []).append(r)
    for (study, series), objects in grouped.items():
        entries.append((study, series, objects[0].info.modality, len(objects), objects[0].path))
    page = entries[query.offset : query.offset + query.limit]
    return [series_json(*e, base, query.include) for e in page]


def instance_answers(
    rows: Sequence[qido.InstanceRow], query: Query, base: str, results: Sequence[ResultObject]
) -> list[dict[str, Any]]:
    """The page of instance answers: the index's rows, then the result objects."""
    entries = [
        (r.study_instance_uid, r.series_instance_uid, r.sop_instance_uid, r.sop_class_uid, r.path)
        for r in rows
    ]
    for r in results:
        i = r.info
        if _matches(i, query.filters):
            entries.append(
                (i.study_instance_uid, i.series_instance_uid, i.sop_instance_uid, i.sop_class_uid, r.path)
            )
    page = entries[query.offset : query.offset + query.limit]
    return [instance_json(*e, base, query.include) for e in page]
