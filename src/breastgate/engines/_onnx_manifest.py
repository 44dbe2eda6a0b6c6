"""The ``manifest.toml`` of an ONNX model folder (format: :mod:`.onnx_runner`), checked on reading."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import NOT_FOR_DIAGNOSTIC_USE, AlgorithmManifest, FindingKind
from breastgate.engines._scores import ScoreScale
from breastgate.imaging.pixels import MG_FOR_PRESENTATION

MANIFEST_FILE = "manifest.toml"
OUTPUTS = ("detections", "density")
NORMALISATIONS = ("minmax", "zscore", "none")
LAYOUTS = ("NCHW", "NHWC")
#: Representative percent density of categories a-d (middles of breastgate.density's ranges).
CATEGORY_PERCENT = (5.0, 21.5, 49.0, 82.5)


_KEYS = frozenset(
    {
        "id", "version", "name", "intended_use", "manufacturer", "label", "modalities", "views",
        "sop_class_uids", "output", "kind", "input_size", "normalisation", "layout", "score_scale",
        "operating_threshold", "input_name", "output_name", "category_percent",
    }
)  # fmt: skip


@dataclass(frozen=True)
class OnnxModelSpec:
    """A model folder's ``manifest.toml``, checked (valid once built)."""

    manifest: AlgorithmManifest
    output: str
    input_size: tuple[int, int]
    normalisation: str = "minmax"
    layout: str = "NCHW"
    score_scale: ScoreScale = field(default_factory=ScoreScale)
    operating_threshold: float | None = None  # raw scale
    kind: FindingKind | None = None
    input_name: str | None = None
    output_name: str | None = None
    category_percent: tuple[float, float, float, float] = CATEGORY_PERCENT


def _text(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{key} must be a non-empty string, got {value!r}")
    return value.strip()


def _texts(data: dict[str, Any], key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    value = data.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigurationError(f"{key} must be a list of strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _numbers(data: dict[str, Any], key: str, count: int) -> tuple[float, ...]:
    value = data.get(key)
    if (
        not isinstance(value, list)
        or len(value) != count
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ConfigurationError(f"{key} must be a list of {count} numbers, got {value!r}")
    return tuple(float(v) for v in value)


def parse_model_manifest(data: dict[str, Any]) -> OnnxModelSpec:
    """Check a parsed ``manifest.toml``; ConfigurationError naming the first problem."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigurationError(f"unknown keys {unknown}; known: {sorted(_KEYS)}")
    output = _text(data, "output")
    if output not in OUTPUTS:
        raise ConfigurationError(f"output must be one of {list(OUTPUTS)}, got {output!r}")
    modalities = _texts(data, "modalities", ("MG",))
    if "MG" not in modalities:
        raise ConfigurationError(
            f"the ONNX runner reads 2-D mammograms: modalities must include MG, got {modalities}"
        )
    manifest = AlgorithmManifest(
        id=_text(data, "id"),
        version=_text(data, "version"),
        name=_text(data, "name"),
        intended_use=_text(data, "intended_use"),
        modalities=modalities,
        sop_class_uids=_texts(data, "sop_class_uids", (MG_FOR_PRESENTATION,)),
        views=tuple(v.upper() for v in _texts(data, "views")),
        outputs=(output,),
        manufacturer=_text(data, "manufacturer"),
        label=_text(data, "label", NOT_FOR_DIAGNOSTIC_USE),
    )
    height, width = _numbers(data, "input_size", 2)
    if height != int(height) or width != int(width) or not (1 <= height <= 16384 and 1 <= width <= 16384):
        raise ConfigurationError(
            f"input_size must be two whole numbers 1-16384 [H, W], got {data['input_size']!r}"
        )
    normalisation = _text(data, "normalisation", "minmax")
    if normalisation not in NORMALISATIONS:
        raise ConfigurationError(
            f"normalisation must be one of {list(NORMALISATIONS)}, got {normalisation!r}"
        )
    layout = _text(data, "layout", "NCHW").upper()
    if layout not in LAYOUTS:
        raise ConfigurationError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    try:
        scale = ScoreScale.parse(data.get("score_scale", [0.0, 1.0]))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    threshold = data.get("operating_threshold")
    if threshold is not None:
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            raise ConfigurationError(f"operating_threshold must be a number, got {threshold!r}")
        try:
            scale.normalise(float(threshold))
        except ValueError as exc:
            raise ConfigurationError(f"operating_threshold: {exc}") from None
    kind = None
    if output == "detections":
        try:
            kind = FindingKind(_text(data, "kind"))
        except ValueError:
            known = [k.value for k in FindingKind]
            raise ConfigurationError(f"kind must be one of {known}, got {data.get('kind')!r}") from None
    percent = CATEGORY_PERCENT
    if "category_percent" in data:
        percent = _numbers(data, "category_percent", 4)  # type: ignore[assignment]
        if not all(0.0 <= p <= 100.0 for p in percent):
            raise ConfigurationError(f"category_percent must lie in 0-100, got {list(percent)}")
    return OnnxModelSpec(
        manifest=manifest,
        output=output,
        input_size=(int(height), int(width)),
        normalisation=normalisation,
        layout=layout,
        score_scale=scale,
        operating_threshold=None if threshold is None else float(threshold),
        kind=kind,
        input_name=_text(data, "input_name") if "input_name" in data else None,
        output_name=_text(data, "output_name") if "output_name" in data else None,
        category_percent=percent,
    )


def read_model_manifest(folder: Path) -> OnnxModelSpec:
    """Read and check ``folder/manifest.toml``; ConfigurationError naming the file and the problem."""
    path = folder / MANIFEST_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot be read: {exc}") from None
    try:
        return parse_model_manifest(data)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
