"""Settings: DESIGN §4 names and defaults, TOML file overridden by BG_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import DicomNode
from breastgate.runtime.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("BG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BG_CONFIG", str(tmp_path / "absent.toml"))


def test_embedded_defaults_match_the_design() -> None:
    s = load_settings()
    assert (s.dicom_port, s.ae_title, s.http_port, s.hl7_port, s.stable_seconds) == (
        11112,
        "BREASTGATE",
        8080,
        2575,
        10.0,
    )
    assert s.http_host == "127.0.0.1"  # no auth yet: loopback only
    assert s.home == Path("./var")
    assert s.effective_database_url == f"sqlite:///{s.home_path / 'breastgate.db'}"
    assert s.effective_queue_url.startswith("sqlite:///")
    assert s.pacs_nodes == [] and s.calling_ae_allow_list == frozenset()


def test_environment_overrides_the_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "breastgate.toml"
    toml.write_text('ae_title = "FROMFILE"\ndicom_port = 104\npacs = "PACS@10.0.0.5:104"\n')
    monkeypatch.setenv("BG_CONFIG", str(toml))
    monkeypatch.setenv("BG_DICOM_PORT", "11113")
    s = load_settings()
    assert s.ae_title == "FROMFILE" and s.dicom_port == 11113
    assert s.pacs_nodes == [DicomNode("PACS", "10.0.0.5", 104)]


def test_several_pacs_and_a_bad_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BG_PACS", "A@h1:104, B@h2:11112")
    assert [str(n) for n in load_settings().pacs_nodes] == ["A@h1:104", "B@h2:11112"]
    monkeypatch.setenv("BG_PACS", "nonsense")
    with pytest.raises(ConfigurationError, match="BG_PACS"):
        load_settings()


def test_production_refuses_an_open_dicom_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BG_ENV", "production")
    with pytest.raises(ConfigurationError, match="BG_ALLOWED_CALLING_AES"):
        load_settings()
    monkeypatch.setenv("BG_ALLOWED_CALLING_AES", "SECTRA, MOD1")
    assert load_settings().calling_ae_allow_list == frozenset({"SECTRA", "MOD1"})


def test_sectra_provider_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from breastgate.runtime.app import sectra_credentials

    assert sectra_credentials(load_settings()) is None  # open by default
    monkeypatch.setenv("BG_SECTRA_PROVIDER_PASSWORD", "pw")
    with pytest.raises(ConfigurationError, match="BG_SECTRA_PROVIDER_USER is empty"):
        load_settings()
    monkeypatch.setenv("BG_SECTRA_PROVIDER_USER", "ids7")
    credentials = sectra_credentials(load_settings())
    assert credentials is not None and (credentials.user, credentials.password) == ("ids7", "pw")
    assert "pw" not in repr(credentials) and "pw" not in repr(load_settings())


def test_production_refuses_a_sectra_provider_user_without_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BG_ALLOWED_CALLING_AES", "SECTRA")
    monkeypatch.setenv("BG_SECTRA_PROVIDER_USER", "ids7")
    assert load_settings().sectra_provider_password == ""  # development: allowed
    monkeypatch.setenv("BG_ENV", "production")
    with pytest.raises(ConfigurationError, match="BG_SECTRA_PROVIDER_PASSWORD"):
        load_settings()
    monkeypatch.setenv("BG_SECTRA_PROVIDER_PASSWORD", "a-long-provider-password")
    assert load_settings().sectra_provider_user == "ids7"
