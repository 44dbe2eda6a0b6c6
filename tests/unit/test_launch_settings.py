"""Sectra URL launch settings: refused at start-up when incomplete; references built from them."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from breastgate.domain.errors import ConfigurationError
from breastgate.integrations.sectra.config import SectraConfig, launch_config
from breastgate.integrations.sectra.refs import LaunchRefs
from breastgate.runtime.settings import load_settings
from tests.unit.test_sectra_launch import _cert, _key, _pem

SECRET = base64.b64encode(bytes(range(32))).decode()
IDS7 = "https://pacs.example.org/ids7/3pstart.aspx"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sectra_launch_mode": "shared_secret", "sectra_launch_secret": SECRET}, "needs BG_SECTRA_IDS7_URL"),
        ({"sectra_launch_mode": "shared_secret", "sectra_ids7_url": IDS7}, "needs BG_SECTRA_LAUNCH_SECRET"),
        (
            {
                "sectra_launch_mode": "shared_secret",
                "sectra_ids7_url": IDS7,
                "sectra_launch_secret": "c2hvcnQ=",
            },
            "32 bytes",
        ),
        ({"sectra_launch_mode": "pki", "sectra_ids7_url": IDS7}, "needs BG_SECTRA_LAUNCH_KEY"),
        ({"public_url": "ftp://breastgate"}, "BG_PUBLIC_URL"),
    ],
)
def test_incomplete_launch_settings_stop_the_start(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(home=tmp_path, **overrides)


def test_no_mode_no_links_and_references_need_a_public_url(tmp_path: Path) -> None:
    assert launch_config(load_settings(home=tmp_path)) is None
    settings = load_settings(
        home=tmp_path, sectra_launch_mode="shared_secret", sectra_ids7_url=IDS7, sectra_launch_secret=SECRET
    )
    assert (
        SectraConfig.from_settings(settings).launch_refs(absolute=True) is None
    )  # webhooks and the ORU need absolute links
    settings = load_settings(
        home=tmp_path,
        sectra_launch_mode="shared_secret",
        sectra_ids7_url=IDS7,
        sectra_launch_secret=SECRET,
        public_url="https://bg.example.org:8443/",
    )
    assert SectraConfig.from_settings(settings).launch_refs(absolute=True) == LaunchRefs(
        ("ids7",), "https://bg.example.org:8443"
    )
    assert SECRET not in repr(settings) and SECRET not in repr(launch_config(settings))


def test_pki_reads_our_key_and_sectra_certificate_from_files(tmp_path: Path) -> None:
    ours, system = _key(), _key()
    (tmp_path / "ours.pem").write_bytes(_pem(ours))
    (tmp_path / "sectra.pem").write_bytes(_cert(system, "Sectra URL launch"))
    config = launch_config(
        load_settings(
            home=tmp_path,
            sectra_launch_mode="pki",
            sectra_uniview_url="https://pacs.example.org/uniview/#/apiLaunch",
            sectra_launch_key=str(tmp_path / "ours.pem"),
            sectra_launch_certificate=str(tmp_path / "sectra.pem"),
        )
    )
    assert config is not None and config.mode == "pki" and config.ids7_url is None
    with pytest.raises(ConfigurationError, match=r"not a readable X\.509 certificate"):
        load_settings(
            home=tmp_path,
            sectra_launch_mode="pki",
            sectra_ids7_url=IDS7,
            sectra_launch_key=str(tmp_path / "ours.pem"),
            sectra_launch_certificate=str(tmp_path / "ours.pem"),
        )
