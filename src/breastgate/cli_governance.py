"""Governance commands: ``audit verify|export``, ``algorithms``, ``mode set|list``, ``users``,
``outcomes import``.

They act on the gateway's database directly, so they are for the machine's operator (whoever can
read the database can run them); each change is audited with the operating-system user as
``cli:<user>``. Over HTTP the same changes need an identity with the right role.
"""

from __future__ import annotations

import getpass
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from breastgate.store.db import Database

audit_app = typer.Typer(
    help="Audit trail: verify the hash chain, export it for regulators.", no_args_is_help=True
)
mode_app = typer.Typer(help="Modes of algorithm versions per destination.", no_args_is_help=True)
users_app = typer.Typer(help="API users, roles and tokens.", no_args_is_help=True)
outcomes_app = typer.Typer(help="Outcomes (final BI-RADS, pathology) for monitoring.", no_args_is_help=True)


def _db() -> Database:
    from breastgate.cli import _settings
    from breastgate.store.db import Database
    from breastgate.store.migrate import upgrade

    settings = _settings()
    settings.home_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    return Database(settings.effective_database_url)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name on this system
        return "cli:unknown"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@audit_app.command("verify")
def audit_verify(
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Verify an exported JSON-lines file instead of the database."),
    ] = None,
) -> None:
    """Recompute the chain; exit 0 when intact, 1 with every break and where it is."""
    from breastgate.domain.errors import InvalidInputError
    from breastgate.governance.audit import verify_database, verify_export

    try:
        report = verify_export(file) if file is not None else verify_database(_db())
    except (InvalidInputError, OSError) as exc:
        raise _fail(str(exc)) from exc
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
    after: Annotated[int, typer.Option(help="Only events after this sequence number.")] = 0,
) -> None:
    """Write the chain as JSON lines (one event per line, hashes included)."""
    from breastgate.governance.audit import export

    db = _db()
    if out is None:
        count, head_seq, head_hash = export(db, sys.stdout, after=after)
    else:
        with out.open("w", encoding="utf-8") as handle:
            count, head_seq, head_hash = export(db, handle, after=after)
    typer.echo(f"exported {count} events; chain head {head_seq} {head_hash}", err=True)


def algorithms() -> None:
    """Register the algorithms this installation can run and list every version with its modes."""
    from breastgate.algorithms.registry import Registry
    from breastgate.cli import _settings
    from breastgate.domain.governance import Mode
    from breastgate.engines.config import load_engines
    from breastgate.governance.registry import register_algorithms
    from breastgate.store import governance as store

    settings = _settings()
    db = _db()
    registry = Registry.from_entry_points()
    if settings.engines:
        for engine in load_engines(Path(settings.engines)):
            registry.add(engine)
    register_algorithms(db, registry, Mode(settings.initial_mode))
    with db.session() as session:
        modes = store.modes(session)
        for version in store.versions(session):
            state = "available" if version.available else f"unavailable ({version.availability})"
            typer.echo(f"{version.algorithm_id}@{version.version}  {version.name}  [{state}]")
            for m in modes:
                if (m.algorithm_id, m.version) == (version.algorithm_id, version.version):
                    approval = " +approval" if m.approval_required else ""
                    typer.echo(
                        f"    {m.destination:<9} {m.mode.value}{approval}  ({m.changed_by}: {m.reason})"
                    )


@mode_app.command("set")
def mode_set(
    algorithm: Annotated[str, typer.Argument(help="ID@VERSION, e.g. breastgate.masses@0.3.0")],
    mode: Annotated[str, typer.Argument(help="silent | assistive | integrated")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required; audited).")],
    destination: Annotated[
        str, typer.Option("--destination", "-d", help="api, webhook, pacs, worklist, report, hl7 or * (all)")
    ] = "*",
    approval: Annotated[
        bool | None,
        typer.Option("--approval/--no-approval", help="Results wait for a radiologist's approval."),
    ] = None,
) -> None:
    """Promote or demote an algorithm version at a destination."""
    from breastgate.domain.errors import InvalidInputError
    from breastgate.domain.governance import Destination, Mode
    from breastgate.store import governance as store

    algorithm_id, _, version = algorithm.partition("@")
    if not (algorithm_id and version):
        raise _fail("name the version as ID@VERSION (see `breastgate algorithms`)")
    if len(reason.strip()) < 3:
        raise _fail("a mode change needs a reason")
    try:
        new_mode = Mode.parse(mode)
        targets = list(Destination) if destination == "*" else [Destination.parse(destination)]
    except InvalidInputError as exc:
        raise _fail(str(exc)) from exc
    db = _db()
    with db.session() as session:
        known = {(v.algorithm_id, v.version) for v in store.versions(session)}
        if (algorithm_id, version) not in known:
            raise _fail(f"{algorithm} is not registered (run `breastgate algorithms` to list and register)")
        for target in targets:
            done = store.set_mode(
                session,
                algorithm_id=algorithm_id,
                version=version,
                destination=target,
                mode=new_mode,
                actor=_actor(),
                reason=reason.strip(),
                approval_required=approval,
            )
            flag = " +approval" if done.approval_required else ""
            typer.echo(f"{algorithm} {done.destination}: {done.mode.value}{flag}")


@mode_app.command("list")
def mode_list() -> None:
    """Every recorded mode."""
    from breastgate.store import governance as store

    with _db().session() as session:
        for m in store.modes(session):
            approval = " +approval" if m.approval_required else ""
            typer.echo(f"{m.algorithm_id}@{m.version}  {m.destination:<9} {m.mode.value}{approval}")


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (shown in the audit trail).")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="one or more of radiologist, technologist, ai_admin, auditor, integration (comma-separated)",
        ),
    ],
    password: Annotated[
        bool, typer.Option("--password", help="Set a sign-in password (asked twice, not echoed).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    token: Annotated[
        bool, typer.Option("--token/--no-token", help="Issue an API token (printed once, stored hashed).")
    ] = True,
) -> None:
    """Create or update a user: roles, an API token (printed once) and/or a password (argon2 hash)."""
    from breastgate.domain.errors import InvalidInputError
    from breastgate.domain.governance import Role, roles_text
    from breastgate.governance.accounts import hash_password
    from breastgate.store import governance as store

    try:
        parsed = Role.parse_many(role)
        hashed = hash_password(_password(password_stdin)) if password or password_stdin else None
    except InvalidInputError as exc:
        raise _fail(str(exc)) from exc
    if not name.strip() or len(name) > 128:
        raise _fail("a user name is 1-128 characters")
    if hashed is None and not token:
        raise _fail("give the user a token, a password, or both")
    issued = secrets.token_urlsafe(32) if token else None
    with _db().session() as session:
        store.add_user(
            session, name.strip(), roles_text(parsed), issued, actor=_actor(), password_hash=hashed
        )
    if issued is not None:
        typer.echo(issued)


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument()],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Set a user's sign-in password (and unlock the account)."""
    from breastgate.domain.errors import InvalidInputError
    from breastgate.governance.accounts import hash_password
    from breastgate.store import governance as store

    try:
        hashed = hash_password(_password(password_stdin))
    except InvalidInputError as exc:
        raise _fail(str(exc)) from exc
    with _db().session() as session:
        user = store.get_user(session, name)
        if user is None:
            raise _fail(f"no user {name!r}")
        store.add_user(session, name, user.role, actor=_actor(), password_hash=hashed)
    typer.echo(f"{name}: password set")


@users_app.command("list")
def users_list() -> None:
    from breastgate.store import governance as store

    with _db().session() as session:
        for user in store.users(session):
            typer.echo(f"{user.name}  {user.role}  {'active' if user.active else 'disabled'}")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument()]) -> None:
    from breastgate.store import governance as store

    with _db().session() as session:
        if not store.deactivate_user(session, name, actor=_actor()):
            raise _fail(f"no user {name!r}")
    typer.echo(f"{name} disabled")


@outcomes_app.command("import")
def outcomes_import(csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Import historical outcomes from CSV (all rows or none; a bad row names its line)."""
    from breastgate.domain.errors import InvalidInputError
    from breastgate.governance.outcomes import import_csv

    try:
        text = csv_file.read_text(encoding="utf-8-sig")
        with _db().session() as session:
            count = import_csv(session, text, actor=_actor())
    except (InvalidInputError, UnicodeDecodeError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"imported {count} outcomes")
