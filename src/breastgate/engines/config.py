"""Third-party engines a site configures in a TOML file, built into Algorithms.

::

    [[engine]]
    kind = "http"                               # a vendor service (breastgate.engines.http_engine)
    id = "acme.cloud"                           # vendor.name
    version = "3.2.0"
    name = "ACME cloud CAD"
    intended_use = "Mass and calcification detection on screening mammograms"
    manufacturer = "ACME"
    label = "ACME CAD 3.2, CE class IIa"        # optional; default: not for diagnostic use
    url = "https://acme.example/v1/analyse"
    token_env = "ACME_TOKEN"                    # optional: the NAME of the variable holding the token
    timeout_seconds = 30                        # optional, default 30
    score_scale = [0, 10]                       # optional, default [0, 1]
    operating_threshold = 5                     # optional, on the raw scale
    dicomweb_url = "https://gateway.example/dicom-web"   # optional: where the engine fetches pixels
    modalities = ["MG"]                         # optional, default ["MG"]
    sop_class_uids = ["1.2.840.10008.5.1.4.1.1.1.2"]     # optional, [] = any
    views = ["CC", "MLO"]                       # optional, [] = any

    [[engine]]
    kind = "dicom"                              # a vendor DICOM node (de-identified studies out, CAD SR back)
    id = "vendor.cad"
    version = "2.1"
    node = "VENDORCAD@10.0.0.5:104"             # the engine's AE title, host and port
    return_ae = "BGRETURN"                      # where the engine sends its CAD SR back
    return_port = 11113
    secret_env = "BG_DEID_SECRET"               # NAME of the variable with the de-identification key
    score_scale = [0, 100]

    [[engine]]
    kind = "onnx"                               # a model run here (breastgate.engines.onnx_runner)
    folder = "models/acme-mass"                 # model.onnx + manifest.toml; relative to this file
    threads = 1                                 # optional, onnxruntime intra-op threads

The token itself never goes in the file. Each kind is one :class:`EngineKind` entry in
:data:`KINDS` (its keys and a builder), so adding a kind is adding an entry. Problems with the file
raise :class:`~breastgate.domain.errors.ConfigurationError` naming the file, the engine and the
key; a model folder whose manifest or model is unusable is not a file problem: its runner's
``is_available()`` says why, so the UI can show it.
"""

from __future__ import annotations

import logging
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breastgate.algorithms.base import Algorithm
from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import NOT_FOR_DIAGNOSTIC_USE, AlgorithmManifest
from breastgate.engines._scores import ScoreScale
from breastgate.engines.dicom_node import make_dicom_engine
from breastgate.engines.http_engine import HttpEngine, HttpEngineConfig
from breastgate.engines.onnx_runner import OnnxModelRunner

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineContext:
    """What a builder may need besides its table: the file's folder and the environment."""

    folder: Path
    environ: Mapping[str, str]


@dataclass(frozen=True)
class EngineKind:
    """One ``kind`` of engine: the keys its table must and may have, and how to build it."""

    required: frozenset[str]
    optional: frozenset[str]
    build: Callable[[dict[str, Any], EngineContext], Algorithm]


def _text(table: dict[str, Any], key: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{key} must be a non-empty string, got {value!r}")
    return value.strip()


def _texts(table: dict[str, Any], key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    value = table.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigurationError(f"{key} must be a list of strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _number(table: dict[str, Any], key: str, default: float | None = None) -> float | None:
    value = table.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigurationError(f"{key} must be a number, got {value!r}")
    return float(value)


def _http(table: dict[str, Any], context: EngineContext) -> Algorithm:
    output = _texts(table, "outputs", ("findings",))
    manifest = AlgorithmManifest(
        id=_text(table, "id"),
        version=_text(table, "version"),
        name=_text(table, "name"),
        intended_use=_text(table, "intended_use"),
        modalities=tuple(m.upper() for m in _texts(table, "modalities", ("MG",))),
        sop_class_uids=_texts(table, "sop_class_uids"),
        views=tuple(v.upper() for v in _texts(table, "views")),
        outputs=output,
        manufacturer=_text(table, "manufacturer"),
        label=_text(table, "label", NOT_FOR_DIAGNOSTIC_USE),
    )
    token = None
    if "token_env" in table:
        variable = _text(table, "token_env")
        token = context.environ.get(variable, "").strip()
        if not token:
            raise ConfigurationError(f"token_env names {variable}, which is not set in the environment")
    try:
        scale = ScoreScale.parse(table.get("score_scale", [0.0, 1.0]))
    except ValueError as exc:
        raise ConfigurationError(f"score_scale: {exc}") from None
    timeout = _number(table, "timeout_seconds", 30.0)
    assert timeout is not None
    config = HttpEngineConfig(
        manifest=manifest,
        url=_text(table, "url"),
        timeout_seconds=timeout,
        token=token,
        dicomweb_url=_text(table, "dicomweb_url") if "dicomweb_url" in table else None,
        score_scale=scale,
        operating_threshold=_number(table, "operating_threshold"),
    )
    return HttpEngine(config)


def _onnx(table: dict[str, Any], context: EngineContext) -> Algorithm:
    folder = Path(_text(table, "folder")).expanduser()
    folder = folder if folder.is_absolute() else context.folder / folder
    if not folder.is_dir():
        raise ConfigurationError(f"folder {folder} is not a directory")
    threads = table.get("threads", 1)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise ConfigurationError(
            f"threads must be a whole number >= 0 (0: onnxruntime decides), got {threads!r}"
        )
    return OnnxModelRunner(folder, threads=threads)


def _dicom(table: dict[str, Any], context: EngineContext) -> Algorithm:
    variable = _text(table, "secret_env")
    secret = context.environ.get(variable, "")
    if len(secret) < 32:
        raise ConfigurationError(
            f"secret_env names {variable}, which must hold a de-identification secret of at least 32 "
            "characters (it keys the replacement UIDs and pseudonyms; keep it stable and private)"
        )
    config = {k: v for k, v in table.items() if k not in ("kind", "secret_env")}
    return make_dicom_engine(config, secret.encode("utf-8"))


_MANIFEST_KEYS = frozenset({"id", "version", "name", "intended_use", "manufacturer"})
_HTTP_OPTIONAL = frozenset(
    {
        "label", "modalities", "sop_class_uids", "views", "outputs", "token_env", "timeout_seconds",
        "score_scale", "operating_threshold", "dicomweb_url",
    }
)  # fmt: skip

#: Engine kinds by their ``kind`` value.
KINDS: dict[str, EngineKind] = {
    "http": EngineKind(
        required=_MANIFEST_KEYS | {"url"},
        optional=_HTTP_OPTIONAL,
        build=_http,
    ),
    "onnx": EngineKind(required=frozenset({"folder"}), optional=frozenset({"threads"}), build=_onnx),
    "dicom": EngineKind(
        required=frozenset({"id", "version", "return_ae", "return_port", "secret_env"}),
        optional=frozenset(
            {
                "name",
                "node",
                "ae_title",
                "host",
                "port",
                "return_host",
                "calling_ae",
                "manufacturer",
                "intended_use",
                "timeout_seconds",
                "connect_timeout",
                "score_scale",
                "include_dbt",
                "echo_cache_seconds",
            }
        ),
        build=_dicom,
    ),
}


def _build(table: Any, context: EngineContext) -> Algorithm:
    if not isinstance(table, dict):
        raise ConfigurationError(f"must be a table, got {type(table).__name__}")
    kind_name = table.get("kind")
    if kind_name not in KINDS:
        raise ConfigurationError(f"kind must be one of {sorted(KINDS)}, got {kind_name!r}")
    kind = KINDS[kind_name]
    keys = set(table) - {"kind"}
    if "token" in keys:
        raise ConfigurationError(
            "a token does not belong in the file: put it in an environment variable and name it in token_env"
        )
    missing = sorted(kind.required - keys)
    if missing:
        raise ConfigurationError(f"missing {', '.join(missing)}")
    unknown = sorted(keys - kind.required - kind.optional)
    if unknown:
        raise ConfigurationError(
            f"unknown keys {unknown} for kind {kind_name!r}; known: {sorted(kind.required | kind.optional)}"
        )
    return kind.build(table, context)


def _read_tables(path: Path) -> list[Any]:
    """The ``[[engine]]`` tables of the file; ConfigurationError when it cannot be read."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: engines file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot be read: {exc}") from None
    unknown = sorted(set(data) - {"engine"})
    if unknown:
        raise ConfigurationError(f"{path}: unknown top-level keys {unknown}; engines go in [[engine]] tables")
    tables = data.get("engine", [])
    if not isinstance(tables, list):
        raise ConfigurationError(f"{path}: engine must be an array of tables ([[engine]])")
    return tables


#: The keys whose value is the NAME of an environment variable (a token, a secret).
ENVIRONMENT_KEYS = ("token_env", "secret_env")


def environment_names(path: Path) -> frozenset[str]:
    """The environment variables the engines file names (``token_env``, ``secret_env``): they are
    the site's, not settings, even when they start with ``BG_``.

    Raises
    ------
    ConfigurationError
        The file cannot be read.
    """
    return frozenset(
        table[key].strip()
        for table in _read_tables(path)
        if isinstance(table, dict)
        for key in ENVIRONMENT_KEYS
        if isinstance(table.get(key), str)
    )


def load_engines(path: Path, environ: Mapping[str, str] | None = None) -> list[Algorithm]:
    """The engines configured in ``path`` (``[[engine]]`` tables), in file order.

    ``environ`` (default ``os.environ``) supplies the tokens named by ``token_env``.

    Raises
    ------
    ConfigurationError
        The file cannot be read, or an engine's table is wrong (the message names which and why).
    """
    tables = _read_tables(path)
    context = EngineContext(path.resolve().parent, os.environ if environ is None else environ)
    engines: list[Algorithm] = []
    seen: dict[str, int] = {}
    for n, table in enumerate(tables, start=1):
        label = f"{path}: engine #{n}"
        if isinstance(table, dict) and isinstance(table.get("id"), str):
            label += f" ({table['id']})"
        try:
            engine = _build(table, context)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{label}: {exc}") from None
        engine_id = engine.manifest.id
        if engine_id in seen:
            raise ConfigurationError(
                f"{label}: id {engine_id!r} is already used by engine #{seen[engine_id]}"
            )
        seen[engine_id] = n
        engines.append(engine)
    LOGGER.info("%d engines configured in %s", len(engines), path)
    return engines
