"""``breastgate users``: several roles, a password read from stdin, and the first account of a new
development install (runtime.identity)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breastgate.cli import app
from breastgate.governance.accounts import check_password
from breastgate.runtime.identity import PASSWORD_FILE, first_user
from breastgate.runtime.settings import load_settings
from breastgate.store import governance as users
from breastgate.store.db import Database
from tests.support.db import upgrade

T0 = datetime(2030, 1, 1, tzinfo=UTC)  # a sign-in's clock (no lockout is in play)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BG_HOME", str(tmp_path))
    monkeypatch.setenv("BG_CONFIG", str(tmp_path / "none.toml"))
    return tmp_path


def test_a_user_with_two_roles_and_a_password_from_stdin(home: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["users", "add", "rita", "--role", "radiologist,ai_admin", "--password-stdin", "--no-token"],
        input="a long enough password\n",
    )
    assert made.exit_code == 0, made.output
    assert made.output.strip() == ""  # no token asked for: nothing printed
    with load_settings_db(home).session() as s:
        user = check_password(s, "rita", "a long enough password", now=T0, client="test")
        assert user.roles == frozenset({"radiologist", "ai_admin"})
    short = runner.invoke(app, ["users", "passwd", "rita", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad_role = runner.invoke(app, ["users", "add", "x", "--role", "radiologist,chief"])
    assert bad_role.exit_code == 1 and "unknown role 'chief'" in bad_role.output


def test_the_first_start_of_a_development_install_makes_admin_once(home: Path) -> None:
    settings = load_settings()
    db = load_settings_db(home)
    path = first_user(db, settings)
    assert path == str(home / PASSWORD_FILE)
    assert (home / PASSWORD_FILE).stat().st_mode & 0o777 == 0o600
    password = (home / PASSWORD_FILE).read_text().strip()
    with db.session() as s:
        assert check_password(s, "admin", password, now=T0, client="test").roles == frozenset({"ai_admin"})
    assert first_user(db, settings) is None  # a user exists: nothing made again


def test_production_makes_no_first_user(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BG_ENV", "production")
    monkeypatch.setenv("BG_ALLOWED_CALLING_AES", "MODALITY")
    monkeypatch.setenv("BG_INITIAL_MODE", "silent")
    db = load_settings_db(home)
    assert first_user(db, load_settings()) is None
    with db.session() as s:
        assert users.users(s) == []
    assert not (home / PASSWORD_FILE).exists()


def load_settings_db(home: Path) -> Database:
    url = load_settings().effective_database_url
    upgrade(url)
    return Database(url)
