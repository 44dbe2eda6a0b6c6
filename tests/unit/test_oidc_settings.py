"""SSO settings (BG_OIDC_*) and the mapping of an IdP's claims to breastgate users and roles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from breastgate.domain.errors import ConfigurationError, InvalidInputError
from breastgate.governance.sso import IDENTITY_MAP, mapped_roles, parse_role_map, user_name
from breastgate.runtime.identity import oidc_client
from breastgate.runtime.settings import load_settings
from breastgate.web.api.oidc_client import safe_next

PRODUCTION = {"BG_ENV": "production", "BG_ALLOWED_CALLING_AES": "MODALITY"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("BG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BG_CONFIG", str(tmp_path / "absent.toml"))


def test_sso_is_off_by_default_and_built_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert oidc_client(load_settings()) is None
    for name, value in {
        "BG_OIDC_ISSUER": "https://idp.example.org/realms/hospital",
        "BG_OIDC_CLIENT_ID": "breastgate",
        "BG_OIDC_CLIENT_SECRET": "s3cret",
        "BG_OIDC_SCOPES": "openid,profile roles",
        "BG_OIDC_ROLES_CLAIM": "realm_access.roles",
        "BG_OIDC_ROLE_MAP": "mammo-readers=radiologist; pacs-admins=ai_admin,auditor",
        "BG_PUBLIC_URL": "https://bg.example.org",
    }.items():
        monkeypatch.setenv(name, value)
    client = oidc_client(load_settings())
    assert client is not None
    config = client.config
    assert config.scopes == ("openid", "profile", "roles")
    assert config.roles_claim == "realm_access.roles" and config.user_claim == "preferred_username"
    assert config.role_map == {
        "mammo-readers": frozenset({"radiologist"}),
        "pacs-admins": frozenset({"ai_admin", "auditor"}),
    }
    assert config.redirect_url == "https://bg.example.org/api/session/oidc/callback"
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"BG_OIDC_CLIENT_ID": "breastgate"}, "BG_OIDC_CLIENT_ID is set but BG_OIDC_ISSUER is empty"),
        ({"BG_OIDC_ISSUER": "idp.example.org"}, "BG_OIDC_ISSUER: expected the IdP's issuer URL"),
        ({"BG_OIDC_ISSUER": "https://idp.example.org"}, "BG_OIDC_CLIENT_ID is empty"),
        (
            {"BG_OIDC_ISSUER": "https://idp", "BG_OIDC_CLIENT_ID": "bg", "BG_OIDC_SCOPES": "profile"},
            "BG_OIDC_SCOPES: must include openid",
        ),
        (
            {
                "BG_OIDC_ISSUER": "https://idp",
                "BG_OIDC_CLIENT_ID": "bg",
                "BG_OIDC_ROLE_MAP": "readers=reader",
            },
            "BG_OIDC_ROLE_MAP: unknown role 'reader'",
        ),
        (
            {"BG_OIDC_ISSUER": "https://idp", "BG_OIDC_CLIENT_ID": "bg", **PRODUCTION},
            "BG_ENV=production with BG_OIDC_ISSUER requires BG_OIDC_CLIENT_SECRET",
        ),
        (
            {
                "BG_OIDC_ISSUER": "http://idp",
                "BG_OIDC_CLIENT_ID": "bg",
                "BG_OIDC_CLIENT_SECRET": "s",
                **PRODUCTION,
            },
            "BG_ENV=production requires an https:// BG_OIDC_ISSUER",
        ),
    ],
)
def test_unusable_sso_settings_stop_the_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], words: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=words):
        load_settings()


def test_role_map_parsing() -> None:
    assert parse_role_map("") == IDENTITY_MAP
    assert parse_role_map("a=radiologist;a=auditor;;") == {"a": frozenset({"radiologist", "auditor"})}
    for bad in ("radiologist", "=radiologist", "a="):
        with pytest.raises(InvalidInputError):
            parse_role_map(bad)


def test_claims_map_to_roles_and_a_name() -> None:
    role_map = parse_role_map("readers=radiologist;techs=technologist")
    assert mapped_roles({"roles": ["readers", "x"]}, "roles", role_map) == {"radiologist"}
    assert mapped_roles({"roles": "techs readers"}, "roles", role_map) == {"radiologist", "technologist"}
    assert mapped_roles({"groups": ["readers"]}, "roles", role_map) == frozenset()
    assert mapped_roles({"a": {"b": ["techs"]}}, "a.b", role_map) == {"technologist"}
    assert mapped_roles({"https://x.org/roles": ["readers"]}, "https://x.org/roles", role_map) == {
        "radiologist"
    }
    assert mapped_roles({"roles": {"readers": True}}, "roles", role_map) == frozenset()
    assert user_name({"preferred_username": " ann ", "sub": "1"}, "preferred_username") == "ann"
    assert user_name({"preferred_username": "", "sub": "1"}, "preferred_username") == "1"
    assert user_name({}, "preferred_username") == ""


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("/worklist?x=1", "/worklist?x=1"),
        (None, "/"),
        ("worklist", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/a\nb", "/"),
    ],
)
def test_next_stays_on_this_server(asked: str | None, kept: str) -> None:
    assert safe_next(asked) == kept
