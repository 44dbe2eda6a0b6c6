"""Priors as configuration: BG_PRIOR_RETRIEVE (one retrieve method per PACS node), BG_PRIOR_YEARS and
BG_PRIOR_WAIT_SECONDS parse, refuse in one line and dump as written; selection by date window and
issuer; the wait and the statuses a job's algorithm is given."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from breastgate.domain.errors import ConfigurationError, InvalidInputError
from breastgate.routing.priors import StudyMatch, select_priors, window
from breastgate.routing.retrieve import RetrieveMethod, RetrieveSpec, parse_retrieve
from breastgate.runtime.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("BG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BG_CONFIG", str(tmp_path / "absent.toml"))


def test_one_retrieve_method_per_node_and_the_dump_builds_the_same_settings() -> None:
    s = load_settings(
        pacs="ORTHANC@h1:104, VNA@h2:104, OLD@h3:104",
        prior_retrieve="ORTHANC=get; VNA@h2:104 = dicomweb:http://h2:8042/dicom-web/",
        prior_years=3,
        prior_wait_seconds=60,
    )
    assert s.prior_retrieve == {
        "ORTHANC": RetrieveSpec(RetrieveMethod.GET),
        "VNA": RetrieveSpec(RetrieveMethod.DICOMWEB, "http://h2:8042/dicom-web"),
    }
    assert s.prior_retrieve.get("OLD", RetrieveSpec()).method is RetrieveMethod.MOVE  # the default
    dumped = s.model_dump()
    assert dumped["prior_retrieve"] == "ORTHANC=get; VNA=dicomweb:http://h2:8042/dicom-web"
    assert (dumped["prior_years"], dumped["prior_wait_seconds"]) == (3.0, 60.0)
    assert load_settings(**dumped) == s
    defaults = load_settings()
    assert (defaults.prior_years, defaults.prior_wait_seconds, defaults.prior_retrieve) == (5.0, 300.0, {})


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"BG_PACS": "ORTHANC@h:104", "BG_PRIOR_RETRIEVE": "ORTHANC=fetch"},
            "BG_PRIOR_RETRIEVE: 'ORTHANC=fetch': expected NODE=move|get|dicomweb:http(s)://HOST[:PORT]/PATH "
            "entries separated by ';'",
        ),
        (
            {"BG_PACS": "ORTHANC@h:104", "BG_PRIOR_RETRIEVE": "ORTHANC=dicomweb:h:8042"},
            "BG_PRIOR_RETRIEVE: 'ORTHANC=dicomweb:h:8042': expected NODE=move|get|dicomweb:http(s)://HOST[:PORT]"
            "/PATH entries separated by ';'",
        ),
        (
            {"BG_PACS": "ORTHANC@h:104", "BG_PRIOR_RETRIEVE": "VNA=get"},
            "BG_PRIOR_RETRIEVE: VNA is not a BG_PACS node (expected the AE title of one of: ORTHANC)",
        ),
        ({"BG_PRIOR_WAIT_SECONDS": "-1"}, "BG_PRIOR_WAIT_SECONDS: '-1': expected greater than or equal to 0"),
    ],
)
def test_a_prior_setting_refusal_is_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], line: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value) == line


def test_parse_retrieve_refuses_an_entry_without_a_node() -> None:
    with pytest.raises(InvalidInputError, match="'get'"):
        parse_retrieve("get")
    assert parse_retrieve(" ; ") == {}


def test_the_window_is_before_the_study_and_within_the_years() -> None:
    assert window("20261120", 5) == ("20261120", "20211120")
    assert window("20261120", 0) == ("20261120", None)
    assert window(None, 1, today=date(2026, 3, 1)) == ("20260301", "20250301")
    assert window("not-a-date", 0, today=date(2026, 3, 1)) == ("20260301", None)


def test_selection_keeps_the_years_and_the_patients_namespace() -> None:
    matches = [
        StudyMatch("recent", "20250101", ("MG",), issuer_of_patient_id="HOSP-A"),
        StudyMatch("other-namespace", "20251001", ("MG",), issuer_of_patient_id="HOSP-B"),
        StudyMatch("no-issuer", "20240101", ("MG", "SR")),
        StudyMatch("too-old", "20190101", ("MG",)),
        StudyMatch("mri", "20250601", ("MR",)),
    ]
    chosen = select_priors(
        matches,
        "20261120",
        modalities=("MG", "DBT"),
        limit=5,
        after_date="20211120",
        issuer_of_patient_id="HOSP-A",
    )
    assert [m.study_instance_uid for m in chosen] == ["recent", "no-issuer"]
    assert [m.study_instance_uid for m in select_priors(matches, "20261120", modalities=("MR",))] == ["mri"]


def test_a_dicomweb_url_loses_its_credentials_in_messages() -> None:
    from breastgate.routing.dicomweb import without_userinfo

    assert without_userinfo("https://bg:s3cret@vna.example.org:8443/dicom-web") == (
        "https://vna.example.org:8443/dicom-web"
    )
    assert without_userinfo("http://h:8042/dicom-web") == "http://h:8042/dicom-web"
