"""Checking and converting an HTTP engine's answer (the contract: :mod:`.http_engine`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from breastgate.domain.model import (
    AlgorithmStatus,
    BreastDensity,
    DensityAssessment,
    Finding,
    FindingKind,
    FindingLocation,
    ImageOutcome,
    InstanceRef,
    Mark,
)
from breastgate.engines._scores import ScoreScale

#: How much of an engine's text goes into a message.
MESSAGE_CHARS = 300
DEPTHS = frozenset({"anterior", "middle", "posterior"})
CATEGORIES = frozenset({"a", "b", "c", "d"})


class EngineResponseError(ValueError):
    """An engine's answer breaks the response contract (the message says where)."""


def _number(value: Any, where: str, *, low: float | None = None, high: float | None = None) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise EngineResponseError(f"{where} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise EngineResponseError(f"{where} {value!r} outside {low}..{high}")
    return float(value)


def _pair(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise EngineResponseError(f"{where} must be [col, row], got {value!r}")
    col, row = (_number(v, where, low=0.0) for v in value)
    return round(col, 2), round(row, 2)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EngineResponseError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def _scale(data: Mapping[str, Any], default: ScoreScale) -> ScoreScale:
    if "score_scale" not in data:
        return default
    try:
        return ScoreScale.parse(data["score_scale"])
    except ValueError as exc:
        raise EngineResponseError(str(exc)) from None


def _mark(
    data: Any, where: str, instances: Mapping[str, InstanceRef], scale: ScoreScale, finding_raw: float
) -> tuple[Mark, float]:
    mark = _object(data, where)
    uid: Any = mark.get("sop_instance_uid")
    if uid not in instances:
        raise EngineResponseError(
            f"{where} references SOP Instance UID {uid!r}, which was not in the request"
        )
    ref = instances[uid]
    point = _pair(mark["point"], f"{where}.point") if "point" in mark else None
    bbox: tuple[float, float, float, float] | None = None
    if "bbox" in mark:
        box = mark["bbox"]
        if not isinstance(box, list) or len(box) != 4:
            raise EngineResponseError(f"{where}.bbox must be [c0, r0, c1, r1], got {box!r}")
        c0, r0 = _pair(box[:2], f"{where}.bbox")
        c1, r1 = _pair(box[2:], f"{where}.bbox")
        if c1 < c0 or r1 < r0:
            raise EngineResponseError(f"{where}.bbox {box!r} has c1 < c0 or r1 < r0")
        bbox = (c0, r0, c1, r1)
    if point is None and bbox is None:
        raise EngineResponseError(f"{where} has neither point nor bbox")
    if point is None:
        assert bbox is not None
        point = (round((bbox[0] + bbox[2]) / 2, 2), round((bbox[1] + bbox[3]) / 2, 2))
    frame = None
    if mark.get("frame") is not None:
        frame_value = mark["frame"]
        if not isinstance(frame_value, int) or isinstance(frame_value, bool):
            raise EngineResponseError(f"{where}.frame must be a whole number, got {frame_value!r}")
        if not 1 <= frame_value <= max(1, ref.number_of_frames):
            raise EngineResponseError(
                f"{where}.frame {frame_value} outside 1..{ref.number_of_frames} of {ref.sop_instance_uid}"
            )
        frame = frame_value
    outline = tuple(_pair(p, f"{where}.outline") for p in _list(mark.get("outline", []), f"{where}.outline"))
    raw = _number(mark["score"], f"{where}.score") if "score" in mark else finding_raw
    score = _normalised(scale, raw, f"{where}.score")
    built = Mark(
        sop_instance_uid=ref.sop_instance_uid,
        point=point,
        bbox=bbox if bbox is not None else (*point, *point),
        score=score,
        laterality=ref.laterality,
        view=ref.view,
        frame=frame,
        sop_class_uid=ref.sop_class_uid,
        outline=outline,
    )
    return built, raw


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise EngineResponseError(f"{where} must be a list, got {type(value).__name__}")
    return value


def _normalised(scale: ScoreScale, raw: float, where: str) -> float:
    try:
        return scale.normalise(raw)
    except ValueError as exc:
        raise EngineResponseError(f"{where}: {exc}") from None


def _location(data: Any, where: str) -> FindingLocation:
    loc = _object(data, where)
    clock = loc.get("clock")
    if clock is not None and (not isinstance(clock, int) or isinstance(clock, bool) or not 1 <= clock <= 12):
        raise EngineResponseError(f"{where}.clock must be a whole number 1-12, got {clock!r}")
    quadrant = loc.get("quadrant")
    if quadrant is not None and not isinstance(quadrant, str):
        raise EngineResponseError(f"{where}.quadrant must be a string, got {quadrant!r}")
    depth = loc.get("depth")
    if depth is not None and depth not in DEPTHS:
        raise EngineResponseError(f"{where}.depth must be one of {sorted(DEPTHS)}, got {depth!r}")
    distance = loc.get("distance_from_nipple_mm")
    return FindingLocation(
        clock=clock,
        quadrant=quadrant,
        depth=depth,
        distance_from_nipple_mm=None if distance is None else _number(distance, f"{where}.distance", low=0.0),
    )


def _finding(data: Any, n: int, instances: Mapping[str, InstanceRef], scale: ScoreScale) -> Finding:
    where = f"findings[{n}]"
    item = _object(data, where)
    try:
        kind = FindingKind(str(item.get("kind")))
    except ValueError:
        known = [k.value for k in FindingKind]
        raise EngineResponseError(f"{where}.kind {item.get('kind')!r} is not one of {known}") from None
    if "score" not in item:
        raise EngineResponseError(f"{where} has no score")
    raw = _number(item["score"], f"{where}.score")
    score = _normalised(scale, raw, f"{where}.score")
    marks_data = _list(item.get("marks"), f"{where}.marks")
    if not marks_data:
        raise EngineResponseError(f"{where} has no marks")
    marks = [_mark(m, f"{where}.marks[{i}]", instances, scale, raw)[0] for i, m in enumerate(marks_data)]
    sides = {m.laterality for m in marks if m.laterality in ("L", "R")}
    laterality = item.get("laterality")
    if laterality is None:
        if len(sides) != 1:
            raise EngineResponseError(f"{where} has no laterality and its marked images do not give one")
        laterality = sides.pop()
    if laterality not in ("L", "R"):
        raise EngineResponseError(f"{where}.laterality must be L or R, got {laterality!r}")
    if sides - {laterality}:
        raise EngineResponseError(
            f"{where}.laterality {laterality} contradicts its marked images ({sorted(sides)})"
        )
    size = item.get("size_mm")
    identifier = item.get("id", f"{kind.value}-{n + 1}")
    if not isinstance(identifier, str) or not identifier:
        raise EngineResponseError(f"{where}.id must be a non-empty string, got {identifier!r}")
    return Finding(
        id=identifier,
        kind=kind,
        laterality=laterality,
        score=score,
        marks=tuple(marks),
        size_mm=None if size is None else round(_number(size, f"{where}.size_mm", low=0.0), 1),
        location=None if item.get("location") is None else _location(item["location"], f"{where}.location"),
        attributes={"raw_score": raw},
    )


def _density(data: Any) -> DensityAssessment:
    dens = _object(data, "density")

    def level(value: Mapping[str, Any], where: str) -> tuple[str, float]:
        category = value.get("category")
        if category not in CATEGORIES:
            raise EngineResponseError(f"{where}.category must be one of a-d, got {category!r}")
        if "percent_dense" not in value:
            raise EngineResponseError(f"{where}.percent_dense is missing")
        return category, round(
            _number(value["percent_dense"], f"{where}.percent_dense", low=0.0, high=100.0), 2
        )

    category, percent = level(dens, "density")
    per_breast = {}
    for side, value in _object(dens.get("per_breast", {}), "density.per_breast").items():
        if side not in ("L", "R"):
            raise EngineResponseError(f"density.per_breast key must be L or R, got {side!r}")
        cat, pct = level(_object(value, f"density.per_breast.{side}"), f"density.per_breast.{side}")
        per_breast[side] = BreastDensity(side, cat, pct)
    return DensityAssessment(category=category, percent_dense=percent, per_breast=per_breast)


def _image_overrides(data: Any, instances: Mapping[str, InstanceRef]) -> dict[str, ImageOutcome]:
    out: dict[str, ImageOutcome] = {}
    for n, value in enumerate(_list(data, "images")):
        item = _object(value, f"images[{n}]")
        uid: Any = item.get("sop_instance_uid")
        if uid not in instances:
            raise EngineResponseError(
                f"images[{n}] references SOP Instance UID {uid!r}, which was not in the request"
            )
        try:
            status = AlgorithmStatus(str(item.get("status")))
        except ValueError:
            raise EngineResponseError(f"images[{n}].status must be ok, failed or skipped") from None
        message = item.get("message", "")
        ref = instances[uid]
        out[uid] = ImageOutcome(uid, status, str(message)[:MESSAGE_CHARS], ref.laterality, ref.view)
    return out


def convert_response(
    data: Any, inputs: Sequence[InstanceRef], default_scale: ScoreScale
) -> tuple[tuple[Finding, ...], DensityAssessment | None, dict[str, ImageOutcome]]:
    """Check an engine's answer against the contract and convert it: (findings, density, per-image
    outcomes the engine reported). EngineResponseError names the first problem."""
    body = _object(data, "the answer")
    instances = {ref.sop_instance_uid: ref for ref in inputs}
    scale = _scale(body, default_scale)
    if "findings" not in body:
        raise EngineResponseError("the answer has no findings list")
    findings = tuple(
        _finding(f, n, instances, scale) for n, f in enumerate(_list(body["findings"], "findings"))
    )
    ids = [f.id for f in findings]
    if len(set(ids)) != len(ids):
        raise EngineResponseError(f"finding ids are not unique: {ids}")
    density = None if body.get("density") is None else _density(body["density"])
    overrides = {} if body.get("images") is None else _image_overrides(body["images"], instances)
    return findings, density, overrides
