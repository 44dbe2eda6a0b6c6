"""Configuration changes are audited at start-up, without secrets."""

from __future__ import annotations

from pathlib import Path

from breastgate.domain.audit import AuditKind
from breastgate.governance.audit import verify_database
from breastgate.governance.configuration import record_configuration
from breastgate.runtime.app import configuration_snapshot
from breastgate.runtime.settings import Settings
from breastgate.store import audit
from breastgate.store.db import Database


def snapshot(tmp_path: Path, **overrides: object) -> dict[str, object]:
    settings = Settings(home=tmp_path / "var", **overrides)  # type: ignore[arg-type]
    return configuration_snapshot(settings, "breastgate.triage@1.0.0")


def events(db: Database) -> list[dict[str, object]]:
    with db.session() as s:
        return [dict(e.data) for e in audit.iter_events(s) if e.kind == AuditKind.CONFIGURATION_CHANGED]


def test_first_start_records_everything_then_only_changes(db: Database, tmp_path: Path) -> None:
    first = record_configuration(db, snapshot(tmp_path))
    assert "ae_title" in first and first["ae_title"] == {"old": None, "new": "BREASTGATE"}
    assert record_configuration(db, snapshot(tmp_path)) == {}  # same configuration: nothing new
    changed = record_configuration(db, snapshot(tmp_path, stable_seconds=30.0, pacs="PACS@10.0.0.1:104"))
    assert changed == {
        "pacs": {"old": "", "new": "PACS@10.0.0.1:104"},
        "stable_seconds": {"old": 10.0, "new": 30.0},
    }
    assert len(events(db)) == 2
    assert verify_database(db).ok


def test_secrets_and_credentials_never_enter_the_trail(db: Database, tmp_path: Path) -> None:
    secret = "s3cr3t-value-that-must-not-leak-0123456789"
    record_configuration(
        db,
        snapshot(
            tmp_path,
            webhook_secret=secret,
            database_url="postgresql+psycopg://bg:hunter2@db.example:5432/bg",
        ),
    )
    (data,) = events(db)
    text = str(data)
    assert secret not in text and "hunter2" not in text
    configuration = data["configuration"]
    assert isinstance(configuration, dict)
    assert configuration["webhook_secret"] == "(set)"
    assert configuration["database_url"] == "postgresql+psycopg://***@db.example:5432/bg"


def test_tokens_in_webhook_urls_never_enter_the_trail(db: Database, tmp_path: Path) -> None:
    record_configuration(
        db,
        snapshot(
            tmp_path,
            webhook_secret="x" * 40,
            webhooks="https://a.example.org/in?token=t0p-s3cret,https://user:pw@b.example.org/hook#k=v",
        ),
    )
    (data,) = events(db)
    text = str(data)
    assert "t0p-s3cret" not in text and "pw@" not in text and "k=v" not in text
    configuration = data["configuration"]
    assert isinstance(configuration, dict)
    assert configuration["webhooks"] == (
        "https://a.example.org/in?(redacted),https://***@b.example.org/hook?(redacted)"
    )


def test_policy_and_engine_files_are_fingerprinted(db: Database, tmp_path: Path) -> None:
    engines = tmp_path / "engines.toml"
    engines.write_text("# none yet\n")
    record_configuration(db, snapshot(tmp_path, engines=str(engines)))
    engines.write_text("# a vendor engine was added\n")
    changed = record_configuration(db, snapshot(tmp_path, engines=str(engines)))
    assert list(changed) == ["engines_sha256"]


def test_a_changed_hl7_profile_file_and_launch_secret_are_recorded_without_the_secret(
    db: Database, tmp_path: Path
) -> None:
    profile = tmp_path / "hl7.toml"
    profile.write_text('[profile]\nbase = "sectra"\n')
    secret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    launch = {
        "sectra_launch_mode": "shared_secret",
        "sectra_ids7_url": "https://pacs/ids7/3pstart.aspx",
        "sectra_launch_secret": secret,
    }
    record_configuration(db, snapshot(tmp_path, hl7_profile=str(profile), **launch))
    profile.write_text('[profile]\nbase = "sectra"\nupdate_message = "omi"\n')
    changed = record_configuration(db, snapshot(tmp_path, hl7_profile=str(profile), **launch))
    assert list(changed) == ["hl7_profile_sha256"]
    assert all(secret not in str(data) for data in events(db))
