"""The `glucomag` command line.

Bad input gets one line on stderr and exit code 2, never a traceback; every health figure
printed is marked informational only.
"""

from __future__ import annotations

import re
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from glucomag.runtime import configure_prefect
from glucomag.settings import Settings, load_settings

INFORMATIONAL = ("Informational only — not a medical device; no diagnosis, treatment or dosing "
                 "advice.")
DEMO_HOME = Path("glucomag-demo")
DEMO_TIMEZONE = "America/New_York"  # the zone the sample data was generated in
SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
SAMPLE_EXPORTS = ("cronometer/servings.csv", "dexcom/clarity_export.csv")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Food log + glucose, with magnesium — local, informational only.")
run_app = typer.Typer(no_args_is_help=True, help="Run a flow by hand.")
app.add_typer(run_app, name="run")

HomeOption = Annotated[Path | None, typer.Option(
    "--home", help="Data folder (default: $GLUCOMAG_HOME or ./glucomag-data).")]


class UsageError(Exception):
    """Bad input from the user: shown as one line, exit code 2."""


def _settings(home: Path | None, **explicit: object) -> Settings:
    try:
        settings = load_settings(home, **explicit)
    except ValidationError as error:
        first = error.errors()[0]
        raise UsageError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read settings: {error}") from None
    settings.create_folders()
    configure_prefect(settings.prefect_home)
    return settings


def _print_nightly(result: dict) -> None:
    """Print the run's outcome; exit 2 after everything else ran if a file was unreadable."""
    from transforms.ingest import ImportSummary

    summaries = [ImportSummary(**summary) for summary in result["imports"]]
    for summary in summaries:
        typer.echo(summary.line(), err=summary.status == "failed")
    for mart in result["marts"]:
        typer.echo(f"validated {mart['suite']}: {'passed' if mart['success'] else 'FAILED'}")
    typer.echo(f"report: {Path(result['report']).resolve()}")
    typer.echo(INFORMATIONAL)
    if any(summary.status == "failed" for summary in summaries):
        raise typer.Exit(code=2)


def _run_nightly(settings: Settings) -> dict:
    from flows.nightly import nightly

    return nightly(home=str(settings.home))


@app.command()
def demo(home: Annotated[Path, typer.Option("--home", help="Demo data folder.")] = DEMO_HOME
         ) -> None:
    """Import the shipped sample data into a demo folder and write its report."""
    settings = _settings(home, timezone=DEMO_TIMEZONE)
    config = settings.home / "config.toml"
    if not config.exists():
        config.write_text(f'timezone = "{DEMO_TIMEZONE}"\n')
    for name in SAMPLE_EXPORTS:
        source = SAMPLE_DATA / name
        if not source.exists():
            raise UsageError(f"sample data not found at {source} (run from a source checkout: "
                             "pip install -e .)")
        shutil.copy2(source, settings.inbox / source.name)
    _print_nightly(_run_nightly(settings))


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="Export files to import.")],
    home: HomeOption = None,
    format_name: Annotated[str | None, typer.Option(
        "--format", help="Skip detection and use this importer.")] = None,
    timezone: Annotated[str | None, typer.Option(
        "--timezone", help="Time zone of the files' local times (default: config).")] = None,
) -> None:
    """Import export files now (they are copied to archive/, never moved)."""
    from transforms.pipeline import import_and_file

    settings = _settings(home, timezone=timezone)
    failed = 0
    for path in files:
        if not path.is_file():
            typer.echo(f"error: {path}: no such file", err=True)
            failed += 1
            continue
        summary = import_and_file(settings, path, keep_original=True, format_name=format_name)
        if summary.status == "failed":
            typer.echo(summary.line(), err=True)
            failed += 1
        else:
            typer.echo(summary.line())
    if failed:
        raise typer.Exit(code=2)


@run_app.command("nightly")
def run_nightly(home: HomeOption = None) -> None:
    """Import the inbox, rebuild marts, write the nightly report."""
    _print_nightly(_run_nightly(_settings(home)))


@app.command()
def report(
    month: Annotated[str, typer.Option("--month", help="Month to report, YYYY-MM.")],
    home: HomeOption = None,
) -> None:
    """Write the report for one calendar month."""
    from reports.data import month_bounds, write_period_report
    from transforms.pipeline import rebuild_marts

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise UsageError(f"--month '{month}' is not YYYY-MM")
    settings = _settings(home)
    rebuild_marts(settings)
    start, end = month_bounds(date.fromisoformat(f"{month}-01"))
    path = write_period_report(settings, start, end, kind="monthly", label=month)
    typer.echo(f"report: {path.resolve()}")
    typer.echo(INFORMATIONAL)


@app.command()
def status(home: HomeOption = None) -> None:
    """What is in the warehouse, and the last imports and validations."""
    from transforms.pipeline import warehouse_status

    settings = _settings(home)
    typer.echo(warehouse_status(settings))
    typer.echo(INFORMATIONAL)


def main() -> None:
    import duckdb

    try:
        app()
    except UsageError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except duckdb.IOException as error:
        typer.echo(f"error: cannot open the warehouse ({str(error).splitlines()[0]})", err=True)
        sys.exit(2)
