"""The `glucomag` command line.

Bad input gets one line on stderr and exit code 2, never a traceback; every health figure
printed is marked informational only.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, TextIO

import polars as pl
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
pull_app = typer.Typer(no_args_is_help=True,
                       help="Fetch data from your own services (uses the network).")
app.add_typer(pull_app, name="pull")
foods_app = typer.Typer(no_args_is_help=True,
                        help="Magnesium matching: look names up, fix unmatched foods.")
app.add_typer(foods_app, name="foods")

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
    pull_error = (result["nightscout"] or {}).get("error")
    if pull_error:
        typer.echo(f"error: {pull_error}", err=True)
    user_foods_error = result["enrichment"]["error"]
    if user_foods_error:
        typer.echo(f"error: {user_foods_error}", err=True)
    for summary in summaries:
        typer.echo(summary.line(), err=summary.status == "failed")
    for failure in result["failures"]:
        typer.echo(f"error: {failure}", err=True)
    for mart in result["marts"]:
        typer.echo(f"validated {mart['suite']}: {'passed' if mart['success'] else 'FAILED'}")
    typer.echo(f"report: {Path(result['report']).resolve()}")
    typer.echo(INFORMATIONAL)
    if (pull_error or user_foods_error or result["failures"]
            or any(summary.status == "failed" for summary in summaries)):
        raise typer.Exit(code=2)


def _run_nightly(settings: Settings) -> dict:
    from flows.nightly import nightly

    _wait_for_warehouse(settings)
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


def show_progress(file_count: int, stream: TextIO) -> bool:
    """A progress bar only for several files on a terminal: one file is done before a bar
    tells anything, and pipes, cron mail and tests want the plain lines only."""
    return file_count > 1 and stream.isatty()


def _with_progress(files: list[Path]) -> Iterable[Path]:
    """`files`, with a transient bar on stderr while they are imported when it helps."""
    if not show_progress(len(files), sys.stderr):
        return files
    from rich.console import Console
    from rich.progress import track

    return track(files, description="importing", console=Console(stderr=True), transient=True)


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
    from transforms.pipeline import import_and_file, refresh_enrichment

    settings = _settings(home, timezone=timezone)
    failed = 0
    _, user_foods_error = refresh_enrichment(settings)
    if user_foods_error:
        typer.echo(f"error: {user_foods_error}", err=True)
        failed += 1
    for path in _with_progress(files):
        if not path.is_file():
            typer.echo(f"error: {path}: no such file", err=True)
            failed += 1
            continue
        for summary in import_and_file(settings, path, keep_original=True,
                                       format_name=format_name):
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


def _month_bounds(month: str) -> tuple[date, date]:
    """First and last day of --month, or a one-line usage error."""
    from transforms.runs import parse_month

    try:
        return parse_month(month)
    except ValueError:
        raise UsageError(f"--month '{month}' is not YYYY-MM") from None


def _month_option(month: str | None) -> str | None:
    if month is not None:
        _month_bounds(month)
    return month


def _wait_for_warehouse(settings: Settings) -> None:
    """Wait for another run here, before a flow: giving up is then one line, not a failed
    task (and an older warehouse is upgraded once, before the tasks open it)."""
    from transforms.pipeline import warehouse

    with warehouse(settings):
        pass


@run_app.command("monthly-report")
def run_monthly_report(
    month: Annotated[str | None, typer.Option(
        "--month", help="Month to report, YYYY-MM (default: last month, your time zone).")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Rebuild marts and write a month's report (by default last month's)."""
    from flows.monthly_report import monthly_report

    settings = _settings(home)
    month = _month_option(month)
    _wait_for_warehouse(settings)
    result = monthly_report(home=str(settings.home), month=month)
    typer.echo(f"report: {Path(result['report']).resolve()}")
    typer.echo(INFORMATIONAL)


@run_app.command("backfill")
def run_backfill(
    from_: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    home: HomeOption = None,
) -> None:
    """Re-resolve magnesium, rebuild marts and rewrite the reports for a date range (after
    new aliases, custom foods or reference data)."""
    from flows.backfill import backfill

    start, end = _metric_range(from_, to, None)
    if start is None or end is None:
        raise UsageError("give both --from and --to")
    settings = _settings(home)
    _wait_for_warehouse(settings)
    result = backfill(home=str(settings.home), start=start, end=end)
    if result["enrichment"]["error"]:
        typer.echo(f"error: {result['enrichment']['error']}", err=True)
    typer.echo(f"{result['enrichment']['changed']} entries updated")
    for path in result["reports"]:
        typer.echo(f"report: {Path(path).resolve()}")
    typer.echo(INFORMATIONAL)
    if result["enrichment"]["error"]:
        raise typer.Exit(code=2)


@app.command()
def serve(home: HomeOption = None) -> None:
    """Run the nightly and monthly flows on their schedules (config: nightly_cron,
    monthly_cron), with a local Prefect server and UI on 127.0.0.1, until Ctrl-C."""
    from glucomag.serve import ServeError
    from glucomag.serve import serve as serve_flows

    settings = _settings(home)
    _wait_for_warehouse(settings)
    try:
        serve_flows(settings)
    except ServeError as error:
        raise UsageError(str(error)) from None


@app.command()
def doctor(home: HomeOption = None) -> None:
    """Check the installation and the data folder; say what to fix."""
    from glucomag.doctor import run_checks

    checks = run_checks(_settings(home))
    for check in checks:
        typer.echo(check.line())
    if any(not check.ok for check in checks):
        raise typer.Exit(code=1)


@app.command()
def report(
    month: Annotated[str, typer.Option("--month", help="Month to report, YYYY-MM.")],
    home: HomeOption = None,
    pdf: Annotated[bool, typer.Option(
        "--pdf", help="Also print it to a PDF beside it (needs Chromium or Chrome).")] = False,
) -> None:
    """Write the report for one calendar month."""
    from reports.data import report_path, write_period_report
    from reports.pdf import PdfError, html_to_pdf
    from transforms.pipeline import rebuild_marts

    start, end = _month_bounds(month)
    settings = _settings(home)
    rebuild_marts(settings)
    replaced = report_path(settings, "monthly", month).exists()
    path = write_period_report(settings, start, end, kind="monthly", label=month)
    typer.echo(f"report: {path.resolve()}" + (" (replaced the earlier one for this month)"
                                              if replaced else ""))
    if pdf:
        try:
            typer.echo(f"pdf: {html_to_pdf(path, path.with_suffix('.pdf')).resolve()}")
        except PdfError as error:
            raise UsageError(str(error)) from None
    typer.echo(INFORMATIONAL)


@app.command()
def metrics(
    from_: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    month: Annotated[str | None, typer.Option("--month", help="A calendar month, YYYY-MM.")
                     ] = None,
    by: Annotated[str, typer.Option(
        "--by", help="One row per day, week, month, or the whole range.")] = "range",
    time_of_day: Annotated[bool, typer.Option(
        "--time-of-day", help="Split each period into night/morning/afternoon/evening.")
    ] = False,
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    home: HomeOption = None,
) -> None:
    """Glucose metrics (consensus set, AGP-based variability) for a period; default: the
    last 14 days with data."""
    import json

    from transforms.glucose.marts import period_metrics
    from transforms.glucose.metrics import METRICS_VERSION
    from transforms.pipeline import warehouse

    if by not in ("day", "week", "month", "range"):
        raise UsageError(f"--by '{by}' is not one of day, week, month, range")
    if output not in ("table", "json", "csv"):
        raise UsageError(f"--format '{output}' is not one of table, json, csv")
    start, end = _metric_range(from_, to, month)
    with warehouse(_settings(home)) as con:
        frame = period_metrics(con, start, end, by, by_time_of_day=time_of_day)
    if frame.is_empty():
        raise UsageError("no CGM sensor readings in that period")
    frame = frame.with_columns(pl.col("period_start", "period_end").cast(pl.String))
    if output == "csv":
        typer.echo(frame.write_csv(), nl=False)
        typer.echo(INFORMATIONAL, err=True)
        return
    if output == "json":
        typer.echo(json.dumps({"informational_only": INFORMATIONAL, "definitions": METRICS_VERSION,
                               "metrics": frame.to_dicts()}, indent=2))
        return
    _print_metrics_table(frame)
    typer.echo(f"Definitions: {METRICS_VERSION}.")
    typer.echo(INFORMATIONAL)


def _metric_range(from_: str | None, to: str | None, month: str | None
                  ) -> tuple[date | None, date | None]:
    if month is not None:
        if from_ or to:
            raise UsageError("use either --month or --from/--to, not both")
        return _month_bounds(month)
    days = []
    for option, text in (("--from", from_), ("--to", to)):
        try:
            days.append(date.fromisoformat(text) if text else None)
        except ValueError:
            raise UsageError(f"{option} '{text}' is not YYYY-MM-DD") from None
    if days[0] and days[1] and days[0] > days[1]:
        raise UsageError("--from is after --to")
    return days[0], days[1]


def _print_metrics_table(frame: pl.DataFrame) -> None:
    """Metrics down the side, periods across: easier to read than 20 columns."""
    from rich.console import Console
    from rich.table import Table

    label_columns = [c for c in ("period_start", "period_end", "time_of_day") if c in frame.columns]
    table = Table(title="Glucose metrics (sensor readings)")
    table.add_column("metric")
    for row in frame.iter_rows(named=True):
        table.add_column(" ".join(str(row[c]) for c in label_columns), justify="right")
    for name in frame.columns:
        if name in ("subject_id", *label_columns):
            continue
        table.add_row(name, *(_number(v, 2) if isinstance(v, float) else str(v)
                              for v in frame[name].to_list()))
    Console(soft_wrap=True).print(table, markup=False)


@app.command()
def export(
    file_format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder to write to (default: <home>/export/<timestamp>/).")] = None,
    home: HomeOption = None,
) -> None:
    """Write every table and public view of your data to files (mode 0600)."""
    from transforms.export import FORMATS, ExportError, default_folder, export_warehouse
    from transforms.pipeline import warehouse

    if file_format not in FORMATS:
        raise UsageError(f"--format '{file_format}' is not one of {', '.join(FORMATS)}")
    settings = _settings(home)
    try:
        with warehouse(settings) as con:
            result = export_warehouse(con, out or default_folder(settings.home), file_format)
    except ExportError as error:
        raise UsageError(str(error)) from None
    typer.echo(f"exported {len(result.rows)} tables and views "
               f"({sum(result.rows.values())} rows) to {result.folder.resolve()}")
    typer.echo("These files hold your personal health data: keep them private.")


@app.command()
def status(home: HomeOption = None) -> None:
    """What is in the warehouse, and the last imports and validations."""
    from transforms.pipeline import warehouse_status

    settings = _settings(home)
    typer.echo(warehouse_status(settings))
    typer.echo(INFORMATIONAL)


@foods_app.command("lookup")
def foods_lookup(
    names: Annotated[list[str], typer.Argument(help="Food names as you would log them.")],
    amount: Annotated[str | None, typer.Option(
        "--amount", help='Amount and unit, e.g. "1 cup", "150 g" (default "1 serving").')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list, for scripts.")] = False,
    home: HomeOption = None,
) -> None:
    """Show how each name gets its magnesium: match, mg/100 g, grams, mg, method, confidence."""
    import json

    from transforms.pipeline import lookup_foods

    result = lookup_foods(_settings(home), names, amount)
    records = [_lookup_record(row) for row in result.iter_rows(named=True)]
    if as_json:
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Magnesium lookup ({amount or '1 serving'})")
    for column in ("query", "match", "mg/100 g", "grams", "mg", "method", "confidence",
                   "next candidates"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r["query"], r["food_name"] or f"— ({r['unknown_reason']})",
            _number(r["magnesium_mg_per_100g"]), _number(r["grams"]),
            _number(r["magnesium_mg"]), r["method"], _number(r["confidence"], 2),
            "; ".join(f"{c['food_name']} ({c['score']:.0f})" for c in r["candidates"][:3]))
    Console(soft_wrap=True).print(table, markup=False)
    typer.echo(INFORMATIONAL)


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _lookup_record(row: dict) -> dict:
    import json

    return {
        "query": row["query"],
        "food_id": row["match_food_id"],
        "food_name": row["match_food_name"],
        "magnesium_mg_per_100g": row["magnesium_mg_per_100g"],
        "grams": row["grams"] if row["grams"] is not None else row["portion_grams"],
        "magnesium_mg": row["magnesium_mg"],
        "method": row["match_method"],
        "confidence": row["match_confidence"],
        "unknown_reason": row["unknown_reason"],
        "candidates": json.loads(row["candidates"]) if row["candidates"] else [],
    }


@foods_app.command("unmatched")
def foods_unmatched(
    limit: Annotated[int, typer.Option("--limit", help="How many names to show.")] = 25,
    home: HomeOption = None,
) -> None:
    """Logged foods without a magnesium value, most frequent first, with candidates."""
    import json

    from transforms.pipeline import unmatched_foods

    rows = unmatched_foods(_settings(home), limit)
    if rows.is_empty():
        typer.echo("Every logged food has a magnesium value.")
        return
    for row in rows.iter_rows(named=True):
        candidates = json.loads(row["fuzzy_candidates"]) if row["fuzzy_candidates"] else []
        best = "; ".join(f"{c['food_id']} {c['food_name']} ({c['score']:.0f})"
                         for c in candidates)
        matched = f" → {row['match_food_name']}" if row["match_food_name"] else ""
        typer.echo(f"{row['unknown']:>5} × {row['example_name']}{matched}: "
                   f"{row['unknown_reason']}" + (f"\n        candidates: {best}" if best else ""))
    typer.echo('Fix one with: glucomag foods alias "NAME" FOOD_ID, or add it to '
               "custom_foods.csv in the data folder.")


@foods_app.command("alias")
def foods_alias(
    name: Annotated[str, typer.Argument(help="The food name as you log it.")],
    food_id: Annotated[str, typer.Argument(help="Reference food id, e.g. sr28:11457.")],
    home: HomeOption = None,
) -> None:
    """Use a reference food for a name from now on (and for entries already stored)."""
    from transforms.pipeline import add_user_alias

    try:
        food_name, changed = add_user_alias(_settings(home), name, food_id)
    except KeyError:
        raise UsageError(f"no reference food with id '{food_id}' "
                         "(find ids with: glucomag foods lookup NAME)") from None
    typer.echo(f"alias: '{name}' → {food_name} ({food_id}); {changed} entries updated")


@foods_app.command("import-fdc")
def foods_import_fdc(
    folder: Annotated[Path, typer.Argument(help="Folder with FoodData Central CSV files.")],
    home: HomeOption = None,
) -> None:
    """Add the official FoodData Central CSV download as reference data."""
    from transforms.importers.base import BadFileError
    from transforms.pipeline import import_fdc

    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    try:
        foods, portions, changed = import_fdc(_settings(home), folder)
    except BadFileError as error:
        raise UsageError(str(error)) from None
    typer.echo(f"FoodData Central: {foods} foods, {portions} portions loaded; "
               f"{changed} entries updated")


@foods_app.command("enrich")
def foods_enrich(home: HomeOption = None) -> None:
    """Re-read custom_foods.csv and supplements.csv and re-resolve every entry's magnesium."""
    from transforms.pipeline import refresh_enrichment

    changed, error = refresh_enrichment(_settings(home))
    if error:
        raise UsageError(error)
    typer.echo(f"{changed} entries updated")


def _pull_since(text: str | None, settings: Settings) -> datetime | None:
    """--since as local wall clock in the configured zone; by default where every pull
    starts (`nightscout_since`)."""
    from zoneinfo import ZoneInfo

    from transforms.pipeline import nightscout_since

    if text:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(f"--since {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM"
                             ) from None
        return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(settings.timezone))
    return nightscout_since(settings)


@pull_app.command("nightscout")
def pull_nightscout(
    url: Annotated[str, typer.Argument(help="Your Nightscout site, e.g. https://my-ns.example")],
    token: Annotated[str | None, typer.Option(
        "--token", envvar="NIGHTSCOUT_TOKEN",
        help="API token (better: $NIGHTSCOUT_TOKEN, out of shell history); never printed.")
    ] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only entries after this local time (default: 24 h before the newest "
                        "stored).")] = None,
    home: HomeOption = None,
) -> None:
    """Pull glucose entries from your Nightscout site over HTTP and import them."""
    from transforms.pipeline import import_and_file
    from transforms.pull.nightscout import PullError, pull_entries

    settings = _settings(home)
    try:
        path = pull_entries(url, token, _pull_since(since, settings), settings.inbox)
    except PullError as error:
        raise UsageError(str(error)) from None
    if path is None:
        typer.echo("Nightscout: no new entries")
        return
    summaries = import_and_file(settings, path, keep_original=False,
                                format_name="nightscout_entries")
    for summary in summaries:
        typer.echo(summary.line(), err=summary.status == "failed")
    if any(summary.status == "failed" for summary in summaries):
        raise typer.Exit(code=2)


def main() -> None:
    import duckdb

    from transforms.migrations import WarehouseError

    try:
        app()
    except (UsageError, WarehouseError) as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except duckdb.IOException as error:
        typer.echo(f"error: cannot open the warehouse ({str(error).splitlines()[0]})", err=True)
        sys.exit(2)
