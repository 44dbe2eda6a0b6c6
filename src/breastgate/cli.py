"""Command line (Typer): serve, worker, phantom, demo, analyze, validate, compare, db upgrade, and the
governance commands audit, algorithms, mode, users, outcomes (DESIGN §4)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from breastgate import __version__, cli_governance

if TYPE_CHECKING:
    from breastgate.runtime.settings import Settings

app = typer.Typer(
    help="breastgate: vendor-neutral gateway between PACS/RIS and breast imaging AI.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(cli_governance.audit_app, name="audit")
app.add_typer(cli_governance.mode_app, name="mode")
app.add_typer(cli_governance.users_app, name="users")
app.add_typer(cli_governance.outcomes_app, name="outcomes")
app.command("algorithms")(cli_governance.algorithms)
LOGGER = logging.getLogger("breastgate.cli")


def _settings() -> Settings:
    """The settings; a refusal is one line on stderr (DESIGN §4) and exit code 2."""
    from breastgate.domain.errors import ConfigurationError
    from breastgate.runtime.logs import configure
    from breastgate.runtime.settings import load_settings

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    configure(settings.log_level)
    return settings


@app.command()
def serve(
    no_workers: Annotated[bool, typer.Option("--no-workers", help="Run no in-process workers.")] = False,
) -> None:
    """Start the gateway: DICOM SCP, HTTP API, assembly, outbox sender and workers."""
    import uvicorn

    from breastgate.runtime.app import Gateway
    from breastgate.web.app import create_app

    settings = _settings()
    gateway = Gateway(settings, workers_in_process=not no_workers)
    gateway.start()
    workers = (
        f"{settings.workers} in-process" if gateway.workers_in_process else "none (run `breastgate worker`)"
    )
    typer.echo(f"breastgate {__version__} serving from {settings.home_path}")
    typer.echo(f"  DICOM SCP   {settings.ae_title}@{settings.dicom_host}:{gateway.scp.port}")
    typer.echo(f"  HTTP API    http://{settings.http_host}:{settings.http_port}/api/health")
    typer.echo(f"  database    {_redact(settings.effective_database_url)}")
    typer.echo(f"  queue       {_redact(settings.effective_queue_url)}")
    typer.echo(f"  workers     {workers}")
    typer.echo(f"  deliver to  {', '.join(str(n) for n in settings.pacs) or '(no BG_PACS set)'}")
    sys.stdout.flush()
    try:
        uvicorn.run(
            create_app(gateway.context()),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            # Open event streams (the pages' live worklist) end at most this long after a stop.
            timeout_graceful_shutdown=5,
        )
    finally:
        gateway.stop()


@app.command()
def worker(
    threads: Annotated[int, typer.Option(help="Worker threads (default BG_WORKERS).")] = 0,
) -> None:
    """Run job workers against the shared database and queue (distributed or separate process)."""
    from breastgate.runtime.app import Core

    settings = _settings()
    core = Core(settings, "worker")
    typer.echo(f"breastgate worker on {_redact(settings.effective_queue_url)}")
    sys.stdout.flush()
    try:
        core.queue.run_consumer_forever(threads or max(settings.workers, 1))
    finally:
        core.close()


@app.command()
def phantom(
    out: Annotated[Path, typer.Option("--out", help="Folder to write studies into.")],
    count: Annotated[int, typer.Option(min=1)] = 1,
    seed: Annotated[int, typer.Option()] = 0,
    kind: Annotated[
        str,
        typer.Option(
            help="mg (FFDM), dbt (tomosynthesis + synthesized 2D), mri|mr (breast DCE-MRI) or us "
            "(breast ultrasound B-mode captures with burned-in annotation)"
        ),
    ] = "mg",
    prior: Annotated[bool, typer.Option("--prior", help="Also write a prior study.")] = False,
    pixel_mm: Annotated[
        float | None, typer.Option("--pixel-mm", help="dbt only: reconstruction pixel in mm (default 0.1).")
    ] = None,
    form: Annotated[
        str | None,
        typer.Option("--form", help="mri only: series-per-phase (default), multiphase or enhanced."),
    ] = None,
    size: Annotated[
        str | None, typer.Option("--size", help="mri only: ROWSxCOLSxSLICES (default 128x128x32).")
    ] = None,
    phases: Annotated[
        int | None, typer.Option("--phases", help="mri only: 1 pre + 3-8 post phases (default 6).")
    ] = None,
    cine: Annotated[
        bool, typer.Option("--cine", help="us only: also write a multi-frame cine sweep per study.")
    ] = False,
    frames: Annotated[
        int | None, typer.Option("--frames", help="us only: frames of the cine (4-120, default 24).")
    ] = None,
) -> None:
    """Write synthetic studies with ground truth (truth.json beside each study)."""
    from breastgate.phantoms import write_phantoms

    if kind == "us":
        _phantom_us(out, count, seed, prior, pixel_mm, form, size, phases, cine, frames)
        return
    if cine or frames is not None:
        typer.echo("error: --cine and --frames apply to --kind us only", err=True)
        raise typer.Exit(2)
    if kind in ("mri", "mr"):
        _phantom_mri(out, count, seed, prior, pixel_mm, form, size, phases)
        return
    if form is not None or size is not None or phases is not None:
        typer.echo("error: --form, --size and --phases apply to --kind mri only", err=True)
        raise typer.Exit(2)
    if prior and kind != "mg":
        typer.echo(
            "error: --prior is not available yet (prior studies come with the prior-comparison issue)",
            err=True,
        )
        raise typer.Exit(2)
    try:
        if prior:  # kind mg: each study and the same woman a year earlier (phantoms.prior)
            from breastgate.phantoms.prior import write_mg_prior_phantoms

            if pixel_mm is not None:
                raise ValueError("--pixel-mm applies to kind 'dbt' only")
            folders = write_mg_prior_phantoms(out, count, seed)
        else:
            folders = write_phantoms(out, count, seed, kind=kind, pixel_mm=pixel_mm)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for folder in folders:
        typer.echo(str(folder))


def _phantom_mri(
    out: Path,
    count: int,
    seed: int,
    prior: bool,
    pixel_mm: float | None,
    form: str | None,
    size: str | None,
    phases: int | None,
) -> None:
    """``phantom --kind mri``: DCE-MRI studies (and their priors with ``--prior``)."""
    from breastgate.phantoms import write_dce_phantoms
    from breastgate.phantoms.mri import DEFAULT_SIZE

    if pixel_mm is not None:
        typer.echo("error: --pixel-mm applies to --kind dbt only", err=True)
        raise typer.Exit(2)
    try:
        shape = DEFAULT_SIZE
        if size is not None:
            parts = size.lower().split("x")
            if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
                raise ValueError(f"--size must be ROWSxCOLSxSLICES, got {size!r}")
            shape = (int(parts[0]), int(parts[1]), int(parts[2]))
        folders = write_dce_phantoms(
            out, count, seed, form=form or "series-per-phase", size=shape, phases=phases or 6, prior=prior
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for folder in folders:
        typer.echo(str(folder))


def _phantom_us(
    out: Path,
    count: int,
    seed: int,
    prior: bool,
    pixel_mm: float | None,
    form: str | None,
    size: str | None,
    phases: int | None,
    cine: bool,
    frames: int | None,
) -> None:
    """``phantom --kind us``: breast ultrasound studies (single-frame captures, optional cine)."""
    from breastgate.phantoms.us import write_us_phantoms

    if prior or any(v is not None for v in (pixel_mm, form, size, phases)):
        typer.echo(
            "error: --prior, --pixel-mm, --form, --size and --phases do not apply to --kind us", err=True
        )
        raise typer.Exit(2)
    try:
        folders = write_us_phantoms(out, count, seed, cine=cine, frames=frames or 24)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for folder in folders:
        typer.echo(str(folder))


@app.command()
def demo(
    to: Annotated[
        str, typer.Option("--to", help="Gateway DICOM node AE@HOST:PORT.")
    ] = "BREASTGATE@127.0.0.1:11112",
    count: Annotated[int, typer.Option(min=1)] = 1,
    seed: Annotated[int, typer.Option()] = 0,
    calling_ae: Annotated[str, typer.Option(help="Our calling AE title.")] = "BGDEMO",
) -> None:
    """Send N synthetic 4-view studies over DICOM to a running gateway."""
    from breastgate.delivery.dicom import send_files
    from breastgate.phantoms import write_phantoms

    with tempfile.TemporaryDirectory(prefix="bg-demo-") as tmp:
        failures = 0
        for folder in write_phantoms(Path(tmp), count, seed):
            files = sorted(folder.glob("*.dcm"))
            statuses = send_files(to, files, calling_ae=calling_ae)
            bad = [s for s in statuses if s != 0]
            failures += len(bad)
            typer.echo(f"{folder.name}: sent {len(files)} instances, {len(bad)} failed")
    if failures:
        raise typer.Exit(1)


@app.command()
def analyze(
    source: Annotated[Path, typer.Argument(help="A folder of DICOM files (one study) or of such folders.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder: <out>/<StudyInstanceUID>/results.json")],
) -> None:
    """Run the algorithms offline on local DICOM files; write results JSON and DICOM outputs."""
    from breastgate.pipeline.offline import analyze_folder

    _settings()
    if not source.is_dir():
        typer.echo(f"error: {source} is not a folder", err=True)
        raise typer.Exit(2)
    report = analyze_folder(source, out)
    for line in report.lines:
        typer.echo(line)
    if not report.studies:
        typer.echo(f"error: no DICOM study found under {source}", err=True)
        raise typer.Exit(1)
    if report.failed:
        typer.echo(f"error: {report.failed} of {len(report.studies)} studies could not be analysed", err=True)
        raise typer.Exit(1)


@app.command()
def validate(
    source: Annotated[Path, typer.Argument(help="A folder of DICOM studies (any depth).")],
    outcomes: Annotated[Path, typer.Option("--outcomes", help="Outcomes CSV (docs/validation.md).")],
    out: Annotated[Path, typer.Option("--out", help="Report folder: report.html, report.pdf, metrics.json")],
    workers: Annotated[int, typer.Option(min=0, help="Worker processes (0: one per CPU).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap confidence intervals.")] = 0,
    bootstrap: Annotated[int, typer.Option(min=1, help="Bootstrap resamples per AUC.")] = 2000,
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Case-score operating point of the subgroup tables."),
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Timestamp to print in the report (default: none).")
    ] = None,
) -> None:
    """Retrospective silent-mode validation: run the algorithms on STUDIES, compare with outcomes."""
    from breastgate.domain.errors import GatewayError
    from breastgate.pipeline.validate import ConsoleProgress, validate_folder

    _settings()
    if not source.is_dir():
        typer.echo(f"error: {source} is not a folder", err=True)
        raise typer.Exit(2)
    if not outcomes.is_file():
        typer.echo(f"error: outcomes file {outcomes} not found", err=True)
        raise typer.Exit(2)
    progress = ConsoleProgress()
    try:
        report = validate_folder(
            source,
            outcomes,
            out,
            workers=workers or None,
            seed=seed,
            n_resamples=bootstrap,
            threshold=threshold,
            now=now,
            progress=progress,
        )
    except (GatewayError, OSError) as exc:
        progress.close()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for line in report.lines:
        typer.echo(line)


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="Version A: ALGORITHM_ID@VERSION (e.g. breastgate.masses@1.0.0).")],
    b: Annotated[str, typer.Argument(help="Version B: ALGORITHM_ID@VERSION.")],
    out: Annotated[Path | None, typer.Option("--out", help="Also write the comparison JSON here.")] = None,
    top: Annotated[int, typer.Option(min=0, help="How many most-different studies to list.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap confidence intervals.")] = 0,
    bootstrap: Annotated[int, typer.Option(min=1, help="Bootstrap resamples per AUC.")] = 2000,
) -> None:
    """Compare two algorithm versions on the studies where both have results (shadow re-run)."""
    import json

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from breastgate.domain.errors import GatewayError
    from breastgate.governance.compare import VersionRef, compare_versions, summary_lines
    from breastgate.store.db import Database

    settings = _settings()
    try:
        ref_a, ref_b = VersionRef.parse(a), VersionRef.parse(b)
    except GatewayError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_file():
        typer.echo(f"error: no database at {url.database} (BG_HOME {settings.home_path})", err=True)
        raise typer.Exit(1)
    db = Database(settings.effective_database_url)
    try:
        with db.session() as session:
            doc = compare_versions(session, ref_a, ref_b, n_resamples=bootstrap, seed=seed, top=top)
    except GatewayError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except SQLAlchemyError as exc:
        where = _redact(settings.effective_database_url)
        typer.echo(f"error: cannot read {where} (run 'breastgate db upgrade'?): {exc.args[0]}", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    for line in summary_lines(doc):
        typer.echo(line)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}")
    if doc["n_common"] == 0:
        typer.echo(f"error: no study has an ok result of both {ref_a} and {ref_b}", err=True)
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    from breastgate.store.migrate import upgrade

    settings = _settings()
    settings.home_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    typer.echo(f"database at {_redact(settings.effective_database_url)} is up to date")


def _redact(url: str) -> str:
    """Hide a password in a URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def main() -> None:
    # Tesseract (ultrasound annotation OCR) runs 2-3x slower with its OpenMP threads on a small
    # strip of text (measured 0.8-1.0 s against 0.25-0.38 s on two cores); one thread unless the
    # operator chose otherwise. Set before any worker process or subprocess starts.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app()


if __name__ == "__main__":
    main()
