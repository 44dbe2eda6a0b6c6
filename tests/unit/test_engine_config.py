"""load_engines: an engines TOML file to HTTP engines and ONNX model runners, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from breastgate.algorithms.base import Algorithm
from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import NOT_FOR_DIAGNOSTIC_USE
from breastgate.engines.config import KINDS, environment_names, load_engines
from breastgate.engines.http_engine import HttpEngine
from breastgate.engines.onnx_runner import OnnxModelRunner
from tests.support.onnx_models import DETECTION_MANIFEST, detection_graph, model_folder

HTTP = """
[[engine]]
kind = "http"
id = "acme.cloud"
version = "3.2.0"
name = "ACME cloud CAD"
intended_use = "Mass detection on screening mammograms"
manufacturer = "ACME"
label = "ACME CAD 3.2, CE class IIa"
url = "https://acme.example/v1/analyse"
token_env = "ACME_TOKEN"
timeout_seconds = 12.5
score_scale = [0, 10]
operating_threshold = 5
dicomweb_url = "https://gateway.example/dicom-web"
views = ["cc", "MLO"]
"""

ONNX = """
[[engine]]
kind = "onnx"
folder = "models/brightest"
threads = 2
"""

MINIMAL_HTTP = """
[[engine]]
kind = "http"
id = "beta.engine"
version = "0.1.0"
name = "Beta"
intended_use = "research"
manufacturer = "Beta"
url = "http://127.0.0.1:9/analyse"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "engines.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_http_and_onnx_engines_in_file_order(tmp_path: Path) -> None:
    model_folder(tmp_path / "models", detection_graph(), DETECTION_MANIFEST)

    engines = load_engines(write(tmp_path, HTTP + ONNX), environ={"ACME_TOKEN": "s3cret"})

    http, onnx = engines
    assert all(isinstance(e, Algorithm) for e in engines)
    assert isinstance(http, HttpEngine)
    config = http.config
    assert (config.url, config.token, config.timeout_seconds) == (
        "https://acme.example/v1/analyse",
        "s3cret",
        12.5,
    )
    assert config.score_scale.as_list() == [0.0, 10.0] and config.operating_threshold == 5.0
    assert config.dicomweb_url == "https://gateway.example/dicom-web"
    assert "s3cret" not in repr(config)
    m = http.manifest
    assert (m.id, m.version, m.manufacturer, m.label) == (
        "acme.cloud",
        "3.2.0",
        "ACME",
        "ACME CAD 3.2, CE class IIa",
    )
    assert (m.modalities, m.views) == (("MG",), ("CC", "MLO"))
    assert isinstance(onnx, OnnxModelRunner)
    assert onnx.folder == tmp_path / "models" / "brightest"  # relative to the engines file
    assert onnx.threads == 2
    assert onnx.is_available() == (True, "")
    assert onnx.manifest.id == "acme.brightest"


def test_defaults(tmp_path: Path) -> None:
    (engine,) = load_engines(write(tmp_path, MINIMAL_HTTP), environ={})
    assert isinstance(engine, HttpEngine)
    assert engine.manifest.label == NOT_FOR_DIAGNOSTIC_USE
    assert engine.config.token is None and engine.config.timeout_seconds == 30.0
    assert engine.config.score_scale.as_list() == [0.0, 1.0]


def test_empty_file_is_no_engines(tmp_path: Path) -> None:
    assert load_engines(write(tmp_path, "# no engines yet\n"), environ={}) == []


def test_an_onnx_folder_with_a_bad_manifest_loads_but_is_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "brightest"
    folder.mkdir(parents=True)
    (folder / "manifest.toml").write_text('output = "nonsense"\n', encoding="utf-8")
    (engine,) = load_engines(write(tmp_path, ONNX), environ={})
    ok, why = engine.is_available()
    assert not ok and "invalid model manifest" in why


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[engine]]\nkind = "grpc"\n', "got 'grpc'"),
        ("[[engine]]\nfolder = 'x'\n", "kind must be one of"),
        (
            MINIMAL_HTTP.replace('url = "http://127.0.0.1:9/analyse"\n', ""),
            "engine #1 (beta.engine): missing url",
        ),
        (MINIMAL_HTTP.replace("http://127.0.0.1:9", "ftp://host"), "url must be http(s)"),
        (MINIMAL_HTTP + 'token = "s3cret"\n', "a token does not belong in the file"),
        (MINIMAL_HTTP + 'token_env = "BETA_TOKEN"\n', "token_env names BETA_TOKEN, which is not set"),
        (MINIMAL_HTTP + "timeout = 3\n", "unknown keys ['timeout'] for kind 'http'"),
        (MINIMAL_HTTP + "timeout_seconds = 0\n", "timeout_seconds must be > 0"),
        (MINIMAL_HTTP + "timeout_seconds = 'soon'\n", "timeout_seconds must be a number"),
        (MINIMAL_HTTP + "score_scale = [10, 0]\n", "score_scale"),
        (MINIMAL_HTTP + "operating_threshold = 2\n", "operating_threshold"),
        (MINIMAL_HTTP + "modalities = 'MG'\n", "modalities must be a list of strings"),
        (
            MINIMAL_HTTP + MINIMAL_HTTP,
            "engine #2 (beta.engine): id 'beta.engine' is already used by engine #1",
        ),
        ('[[engine]]\nkind = "onnx"\nfolder = "missing"\n', "is not a directory"),
        ('[[engine]]\nkind = "onnx"\n', "missing folder"),
        ("engine = 3\n", "engine must be an array of tables"),
        ("[engines]\n", "unknown top-level keys ['engines']"),
        ("[[engine]\n", "cannot be read"),
    ],
)
def test_bad_config(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        load_engines(path, environ={})
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="engines file not found"):
        load_engines(tmp_path / "nope.toml")


def test_the_variables_an_engines_file_names(tmp_path: Path) -> None:
    dicom = '[[engine]]\nkind = "dicom"\nid = "vendor.cad"\nsecret_env = " BG_DEID_SECRET "\n'
    assert environment_names(write(tmp_path, HTTP + dicom + ONNX)) == {"ACME_TOKEN", "BG_DEID_SECRET"}
    assert environment_names(write(tmp_path, MINIMAL_HTTP)) == frozenset()
    with pytest.raises(ConfigurationError, match="engines file not found"):
        environment_names(tmp_path / "nope.toml")


def test_kinds_are_a_table() -> None:
    # Another kind (e.g. "dicom") is one more entry here; the loader's checks apply to it unchanged.
    assert {"http", "onnx"} <= set(KINDS)
    assert all(kind.required.isdisjoint(kind.optional) for kind in KINDS.values())
