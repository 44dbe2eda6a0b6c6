"""Settings: DESIGN §4 names and defaults, TOML file overridden by BG_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import TomlConfigSettingsSource

from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import DicomNode
from breastgate.domain.outputs import DEFAULT_PACS_OBJECTS, HttpEndpoint, MllpEndpoint
from breastgate.runtime.settings import Settings, load_settings


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
    assert s.pacs == () and s.allowed_calling_aes == frozenset()


def test_environment_overrides_the_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "breastgate.toml"
    toml.write_text('ae_title = "FROMFILE"\ndicom_port = 104\npacs = "PACS@10.0.0.5:104"\n')
    monkeypatch.setenv("BG_CONFIG", str(toml))
    monkeypatch.setenv("BG_DICOM_PORT", "11113")
    s = load_settings()
    assert s.ae_title == "FROMFILE" and s.dicom_port == 11113
    assert s.pacs == (DicomNode("PACS", "10.0.0.5", 104),)


def test_several_pacs_and_a_bad_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BG_PACS", "A@h1:104, B@h2:11112")
    assert [str(n) for n in load_settings().pacs] == ["A@h1:104", "B@h2:11112"]
    monkeypatch.setenv("BG_PACS", "nonsense")
    with pytest.raises(ConfigurationError, match="BG_PACS"):
        load_settings()


def test_production_refuses_an_open_dicom_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BG_ENV", "production")
    with pytest.raises(ConfigurationError, match="BG_ALLOWED_CALLING_AES"):
        load_settings()
    monkeypatch.setenv("BG_ALLOWED_CALLING_AES", "SECTRA, MOD1")
    assert load_settings().allowed_calling_aes == frozenset({"SECTRA", "MOD1"})


def test_sectra_provider_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from breastgate.integrations.sectra.config import SectraConfig

    def sectra_credentials(settings: object) -> object:
        return SectraConfig.from_settings(settings).provider  # type: ignore[arg-type]

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


# Typed list settings ---------------------------------------------------------------------------
def test_list_settings_are_typed_values_from_text_or_a_toml_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = tmp_path / "breastgate.toml"
    toml.write_text(
        'pacs = ["A@h1:104", " B@h2:11112 "]\n'
        'hl7_results_to = ["ris:2575", "mllp://speech:2576"]\n'
        'webhooks = ["https://a.example.org/in?ids=1,2"]\n'  # a list entry may hold a comma
        'webhook_secret = "dev"\n'
        'hl7_processing_ids = ["p", "t"]\n'
    )
    monkeypatch.setenv("BG_CONFIG", str(toml))
    monkeypatch.setenv("BG_ALLOWED_CALLING_AES", " SECTRA, MOD1 ,")
    monkeypatch.setenv("BG_HL7_PRIORITY_TO", "ris:2575")
    monkeypatch.setenv("BG_ALGORITHMS", "breastgate.density, breastgate.masses")
    monkeypatch.setenv("BG_PUBLIC_URL", " https://bg.example.org:8443/ ")
    monkeypatch.setenv("BG_LETTERS_TO", f"dir:{tmp_path / 'letters'}")
    monkeypatch.setenv("BG_SITE_NAME", "Breast Centre")
    s = load_settings()
    assert s.pacs == (DicomNode("A", "h1", 104), DicomNode("B", "h2", 11112))
    assert s.hl7_results_to == (MllpEndpoint("ris", 2575), MllpEndpoint("speech", 2576))
    assert [str(e) for e in s.hl7_priority_to] == ["mllp://ris:2575"]
    assert s.webhooks == (HttpEndpoint("https://a.example.org/in?ids=1,2"),)
    assert (
        s.hl7_processing_ids == frozenset({"P", "T"})
        and load_settings(hl7_processing_ids="").hl7_processing_ids == set()
    )
    assert s.allowed_calling_aes == frozenset({"SECTRA", "MOD1"})
    assert s.algorithms == ("breastgate.density", "breastgate.masses")
    assert s.public_url == "https://bg.example.org:8443"
    assert [str(f) for f in s.letters_to] == [f"dir:{tmp_path / 'letters'}"]
    assert s.pacs_objects == {"A@h1:104": DEFAULT_PACS_OBJECTS, "B@h2:11112": DEFAULT_PACS_OBJECTS}


def test_the_dump_is_the_text_an_operator_writes_and_builds_the_same_settings() -> None:
    s = load_settings(
        pacs="A@h1:104, B@h2:11112",
        pacs_objects="A=gsps,sc; B=cad-sr,gsps,csps,sc,kos,kinetic-map,seg,pmap",  # B: default, not dumped
        hl7_results_to="ris:2575",
        allowed_calling_aes="SECTRA,MOD1",
        hl7_processing_ids="p",
    )
    dumped = s.model_dump()
    assert (dumped["pacs"], dumped["pacs_objects"], dumped["hl7_results_to"]) == (
        "A@h1:104,B@h2:11112",
        "A@h1:104=gsps,sc",
        "mllp://ris:2575",
    )
    assert (dumped["allowed_calling_aes"], dumped["hl7_processing_ids"], dumped["webhooks"]) == (
        "MOD1,SECTRA",
        "P",
        "",
    )
    assert load_settings(**dumped) == s


# One line per refusal (DESIGN §4) --------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"BG_PACS": "A@h1:104,nonsense"}, "BG_PACS: not a DICOM node AE@HOST:PORT: 'nonsense'"),
        (
            {"BG_PACS": "SECTRA@10.0.0.5:104", "BG_PACS_OBJECTS": "SECTRA=gsps;PACS=all"},
            "BG_PACS_OBJECTS: 'PACS' is not a BG_PACS node (SECTRA)",
        ),
        (
            {"BG_PACS_OBJECTS": "SECTRA=overlay"},
            "BG_PACS_OBJECTS: 'SECTRA=overlay': unknown object kind 'overlay' "
            "(cad-sr, gsps, csps, sc, kos, tid1500, kinetic-map, seg, pmap, all, none)",
        ),
        (
            {"BG_HL7_RESULTS_TO": "mllp://ris.example.org"},
            "BG_HL7_RESULTS_TO: not mllp://HOST:PORT: 'mllp://ris.example.org'",
        ),
        (
            {
                "BG_WEBHOOKS": "https://a.example.org/in,ftp://b.example.org/in?token=abc",
                "BG_WEBHOOK_SECRET": "dev",
            },
            "BG_WEBHOOKS: entry 2 is not an http(s) URL with a host",
        ),
        ({"BG_LETTERS_TO": "letters"}, "BG_LETTERS_TO: not dir:/absolute/path: 'letters'"),
        (
            {"BG_PUBLIC_URL": "bg.example.org"},
            "BG_PUBLIC_URL: not an http(s) URL with a host: 'bg.example.org'",
        ),
        (
            {"BG_ENV": "production"},
            "BG_ENV=production requires BG_ALLOWED_CALLING_AES (the open DICOM port is for embedded use)",
        ),
        ({"BG_ENV": "prod"}, "BG_ENV: 'prod': expected 'development' or 'production'"),
        (
            {"BG_DICOM_PORT": "eleven", "BG_AE_TITLE": "A-VERY-LONG-AE-TITLE"},
            "BG_AE_TITLE: not an AE title of 1-16 characters: 'A-VERY-LONG-AE-TITLE'; "
            "BG_DICOM_PORT: 'eleven': expected a valid integer, unable to parse string as an integer",
        ),
    ],
)
def test_a_refusal_is_one_line_naming_the_setting_the_value_and_the_form(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], line: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value) == line


def test_secrets_and_webhook_urls_stay_out_of_the_refusal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = tmp_path / "breastgate.toml"
    toml.write_text("webhook_secret = 123456789\n")
    monkeypatch.setenv("BG_CONFIG", str(toml))
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value) == "BG_WEBHOOK_SECRET: (value hidden): expected a valid string"
    monkeypatch.setenv("BG_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("BG_WEBHOOKS", "ftp://a.example.org/in?token=abc123")
    with pytest.raises(ValidationError) as invalid:
        Settings()
    assert "abc123" not in str(invalid.value)  # pydantic's own message, should anyone print it


def test_a_malformed_toml_file_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "breastgate.toml"
    toml.write_text("pacs = \n")
    monkeypatch.setenv("BG_CONFIG", str(toml))
    with pytest.raises(
        ConfigurationError, match=r"breastgate\.toml: not valid TOML: Invalid value \(at line 1"
    ):
        load_settings()
    toml.write_bytes(b'ae_title = "\xff"\n')
    with pytest.raises(
        ConfigurationError, match=r"breastgate\.toml: not valid TOML: 'utf-8' codec can't decode"
    ):
        load_settings()

    def unreadable(self: TomlConfigSettingsSource, path: Path) -> dict[str, object]:
        raise PermissionError(13, "Permission denied", str(path))  # as for another user's file

    monkeypatch.setattr(TomlConfigSettingsSource, "_read_file", unreadable)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value) == f"{toml}: cannot be read: Permission denied"


# Unknown names are refused (DESIGN §4) ---------------------------------------------------------
def test_an_unknown_bg_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BG_ALLOWED_CALLING_AE", "SECTRA")
    monkeypatch.setenv("BG_SOMETHING", "x")
    with pytest.raises(ConfigurationError) as refused:
        load_settings(env="production")
    assert str(refused.value) == (
        "BG_ALLOWED_CALLING_AE: unknown variable, not a setting (did you mean 'BG_ALLOWED_CALLING_AES'?); "
        "BG_SOMETHING: unknown variable, not a setting"
    )  # reported before production's refusal, which it would explain


def test_an_unknown_toml_key_or_override_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "breastgate.toml"
    toml.write_text('ae_title = "BG"\npac = "PACS@10.0.0.5:104"\n')
    monkeypatch.setenv("BG_CONFIG", str(toml))
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value) == f"{toml}: unknown setting 'pac' (did you mean 'pacs'?)"
    toml.write_text('ae_title = "BG"\n')
    with pytest.raises(ConfigurationError) as refused:
        load_settings(stable_second=3)
    assert str(refused.value) == "override: unknown setting 'stable_second' (did you mean 'stable_seconds'?)"


def test_variables_an_engines_file_names_are_not_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engines = tmp_path / "engines.toml"
    engines.write_text('[[engine]]\nkind = "dicom"\nid = "vendor.cad"\nsecret_env = "BG_DEID_SECRET"\n')
    monkeypatch.setenv("BG_DEID_SECRET", "k" * 32)
    with pytest.raises(ConfigurationError, match=r"^BG_DEID_SECRET: unknown variable, not a setting$"):
        load_settings()
    monkeypatch.setenv("BG_ENGINES", str(engines))
    assert load_settings().engines == str(engines)
    engines.write_text('[[engine]]\nkind = "dicom"\nid = "vendor.cad"\nsecret_env = "BG_OTHER_SECRET"\n')
    with pytest.raises(ConfigurationError) as refused:  # e.g. left over when an engine was removed
        load_settings()
    assert str(refused.value) == "BG_DEID_SECRET: unknown variable, not a setting nor named by BG_ENGINES"
    monkeypatch.setenv("BG_ENGINES", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigurationError, match=r"absent\.toml: engines file not found"):
        load_settings()
