"""The steps flows and the CLI wire together, as plain functions over a data folder."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from glucomag.settings import Settings
from transforms.crashpoints import crash_point
from transforms.importers import IMPORTERS, detect_formats
from transforms.importers.archive import extract_members, is_archive, member_name
from transforms.importers.base import BadFileError, amount_and_unit, mass_grams, sha256_of
from transforms.importers.generic_csv import MAPPING_SUFFIX, mapping_path
from transforms.ingest import ImportSummary, import_file, log_failure
from transforms.magnesium.enrich import enrich_entries, lookup
from transforms.magnesium.fdc import read_fdc_dir
from transforms.magnesium.reference import load_user_foods
from transforms.marts import build_marts
from transforms.pull.nightscout import PullError, pull_entries
from transforms.runs import last_flow_runs, wait_until_settled
from transforms.validate import ValidationOutcome
from transforms.warehouse import (
    connect,
    insert_frame,
    query_frame,
    registered,
    run,
    transaction,
)

NIGHTLY_WINDOW_DAYS = 7


@contextmanager
def warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    settings.create_folders()
    con = connect(settings.warehouse)
    try:
        yield con
    finally:
        con.close()


def _place(source: Path, target: Path, keep_original: bool, step: str) -> None:
    """Copy or move `source` to `target` so that a crash never loses it: a move within one
    file system is a single rename; otherwise the copy is written under a temporary name,
    synced and renamed into place, and only then is the source removed (a crash in between
    leaves it in both places, and the next run finishes the move)."""
    if not keep_original:
        try:
            os.replace(source, target)
            crash_point(f"{step}:placed")
            return
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
    partial = target.with_name(f".{target.name}.part")
    shutil.copy2(source, partial)
    with partial.open("rb") as written:
        os.fsync(written.fileno())
    crash_point(f"{step}:copied")
    os.replace(partial, target)
    crash_point(f"{step}:placed")
    if not keep_original:
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename is on disk before the source goes
        finally:
            os.close(folder)
        source.unlink()


def _quarantine_file(settings: Settings, path: Path, sha256: str, reason: str,
                     keep_original: bool) -> Path:
    """Put an unreadable file in quarantine/ with `<name>.reason.txt` beside it (the reason
    first: a crash before the file follows leaves the file in the inbox for the next run)."""
    target = settings.quarantine / f"{sha256[:12]}-{path.name}"
    reason_file = target.with_name(target.name + ".reason.txt")
    partial = reason_file.with_name(f".{reason_file.name}.part")
    partial.write_text(reason + "\n")
    os.replace(partial, reason_file)
    crash_point("quarantine:reason_written")
    _place(path, target, keep_original, "quarantine")
    return target


def _archive_file(settings: Settings, path: Path, sha256: str, keep_original: bool) -> Path:
    """Keep the imported file as archive/<sha256><suffix>: the warehouse's sources, once each
    (with its generic-CSV mapping file beside it, if it has one)."""
    target = settings.archive / f"{sha256}{path.suffix.lower()}"
    mapping = mapping_path(path)
    if mapping is not None:
        _place(mapping, target.with_name(target.name + MAPPING_SUFFIX), keep_original,
               "archive_mapping")
    if target.exists():  # complete: files only ever appear there by an atomic rename
        if not keep_original:
            path.unlink()
    else:
        _place(path, target, keep_original, "archive")
    return target


def _formats(path: Path, format_name: str | None) -> list[str | None]:
    """The formats to import the file as; [None] lets the import report why none fits."""
    if format_name is not None:
        return [format_name]
    try:
        return [module.FORMAT for module in detect_formats(path)]
    except BadFileError:
        return [None]


def _members(path: Path, folder: Path, format_name: str | None) -> list[tuple[Path, str]]:
    """The files inside: a plain zip archive's members, else the file itself."""
    whole = format_name is not None or not is_archive(path) or any(
        hasattr(m, "detect_path") and m.detect_path(path) for m in IMPORTERS)
    if whole:
        return [(path, path.name)]
    return [(member, member_name(path, member)) for member in extract_members(path, folder)]


def import_and_file(settings: Settings, path: Path, keep_original: bool,
                    format_name: str | None = None) -> list[ImportSummary]:
    """Import one file (each member of a zip archive; each format of a multi-format export),
    then archive it, or quarantine it with its reasons if nothing in it could be read.

    `keep_original` copies (for files named on the command line) instead of moving (inbox).
    """
    summaries: list[ImportSummary] = []
    sha256 = sha256_of(path)  # once: an Apple Health export can be gigabytes
    with tempfile.TemporaryDirectory() as folder, warehouse(settings) as con:
        try:
            members = _members(path, Path(folder), format_name)
        except BadFileError as error:
            members = []
            summaries.append(log_failure(con, path.name, sha256, datetime.now(UTC), error))
        for member, name in members:
            for member_format in _formats(member, format_name):
                summary = import_file(
                    con, member, settings.timezone, settings.subject_id, member_format,
                    settings.source_priority, settings.clock_skew_seconds, display_name=name,
                    sha256=sha256 if member == path else None)
                if summary.status == "failed" and any(
                        (s.file_name, s.message) == (name, summary.message) for s in summaries):
                    continue  # both importers of an Apple Health export: one line is enough
                summaries.append(summary)
    # Committed: from here a crash leaves the file where it was, and the next run finds it
    # already imported (or its failure already logged) and only files it.
    crash_point("pipeline:imported")
    if all(summary.status == "failed" for summary in summaries):
        reasons = "\n".join(summary.message or "" for summary in summaries)
        _quarantine_file(settings, path, sha256, reasons, keep_original)
    else:
        _archive_file(settings, path, sha256, keep_original)
    return summaries


def inbox_files(settings: Settings) -> list[Path]:
    """Files waiting in the inbox, oldest name first; hidden and partial files are left."""
    settings.create_folders()
    return sorted(p for p in settings.inbox.iterdir()
                  if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".part")
                  and not p.name.endswith(MAPPING_SUFFIX))


def import_inbox_file(settings: Settings, path: Path) -> list[ImportSummary]:
    """Import one inbox file once nobody is writing it any more, then archive or quarantine
    it. Raises `FileStillBeingWrittenError` if it keeps changing past the wait limit."""
    wait_until_settled(path, settings.inbox_settle_seconds,
                       settings.inbox_settle_timeout_seconds)
    return import_and_file(settings, path, keep_original=False)


def nightscout_since(settings: Settings) -> datetime | None:
    """Where a Nightscout pull starts by default: 24 h before the newest Nightscout reading
    stored (uploaders backfill late readings; the repeats this brings are not stored again),
    or everything when none is stored."""
    with warehouse(settings) as con:
        newest = run(con, "SELECT max(ts_utc) FROM core_glucose_readings WHERE subject_id = "
                          "$subject AND source = 'nightscout_entries'",
                     {"subject": settings.subject_id})[0][0]
    return None if newest is None else newest - timedelta(hours=24)


def pull_configured_nightscout(settings: Settings) -> tuple[Path | None, str | None]:
    """Pull new entries from the configured Nightscout site into the inbox, where they are
    imported like any export: (the file, or None when nothing is new or no site is
    configured; the one-line, token-free error, or None)."""
    if not settings.nightscout_url:
        return None, None
    token = settings.nightscout_token.get_secret_value() if settings.nightscout_token else None
    try:
        path = pull_entries(settings.nightscout_url, token, nightscout_since(settings),
                            settings.inbox)
    except PullError as error:
        return None, f"Nightscout: {error}"
    return path, None


def rebuild_marts(settings: Settings) -> list[ValidationOutcome]:
    with warehouse(settings) as con:
        return build_marts(con)


def latest_data_date(settings: Settings) -> date | None:
    with warehouse(settings) as con:
        return run(con, "SELECT max(local_date) FROM daily_summary")[0][0]


def nightly_period(settings: Settings, today: date) -> tuple[date, date]:
    """The nightly report covers the last day with data and the 6 days before it (or the 7
    days to today if there is no data)."""
    end = latest_data_date(settings) or today
    return end - timedelta(days=NIGHTLY_WINDOW_DAYS - 1), end


def warehouse_status(settings: Settings) -> str:
    """A plain-text overview: what is stored, the last imports, the last validations."""
    with warehouse(settings) as con:
        food = run(con, "SELECT count(*), count(magnesium_mg), min(local_date), max(local_date) "
                        "FROM food_entries")[0]
        glucose = run(con, "SELECT count(*), min(local_date), max(local_date) "
                           "FROM glucose_readings")[0]
        quarantined = run(con, "SELECT count(*) FROM quarantined_rows")[0][0]
        batches = run(con, "SELECT batch_id, file_name, format, status, rows_stored, "
                           "rows_quarantined, finished_at FROM import_batches "
                           "ORDER BY batch_id DESC LIMIT 5")
        checks = run(con, "SELECT stage, success, failed, run_at FROM validation_runs "
                          "ORDER BY run_at DESC LIMIT 5")
        flows = last_flow_runs(con)
    lines = [
        f"data folder: {settings.home.resolve()}  (time zone {settings.timezone})",
        f"food entries: {food[0]} ({food[1]} with magnesium), days {food[2]} to {food[3]}",
        f"glucose readings: {glucose[0]}, days {glucose[1]} to {glucose[2]}",
        f"quarantined rows: {quarantined}",
        "last imports:",
        *[f"  #{b[0]} {b[1]} [{b[2] or '?'}] {b[3]}: {b[4] or 0} stored, "
          f"{b[5] or 0} quarantined, {b[6]:%Y-%m-%d %H:%M} UTC" for b in batches],
        "last validations:",
        *[f"  {c[0]}: {'passed' if c[1] else f'{c[2]} expectation(s) failed'} "
          f"({c[3]:%Y-%m-%d %H:%M} UTC)" for c in checks],
        "last flow runs:",
        *[flow_run_line(*f) for f in flows],
    ]
    return "\n".join(lines)


def flow_run_line(flow: str, started: datetime, finished: datetime, files: int,
                  rows_stored: int, outcome: str, message: str | None) -> str:
    """One `flow_runs` row as the status and doctor commands show it."""
    took = (finished - started).total_seconds()
    return (f"  {flow} {started:%Y-%m-%d %H:%M} UTC ({took:.0f} s): {outcome}, {files} files, "
            f"{rows_stored} rows stored" + (f" — {message}" if message else ""))


def refresh_enrichment(settings: Settings) -> tuple[int, str | None]:
    """Reload the user's custom foods and supplements, then re-resolve every entry's magnesium.

    Returns (entries changed, error). A malformed user file is reported as one line and the
    previous user foods stay in use.
    """
    with warehouse(settings) as con:
        error = None
        try:
            load_user_foods(con, settings.home)
        except BadFileError as bad:
            error = str(bad)
        with transaction(con):
            changed = enrich_entries(con)
            crash_point("pipeline:enrichment_refreshed")
    return changed, error


def add_user_alias(settings: Settings, name: str, food_id: str) -> tuple[str, int]:
    """Point a food name at a reference food for this user; returns (food name, entries
    changed). Raises `KeyError` for an unknown food id."""
    with warehouse(settings) as con:
        found = run(con, "SELECT food_name FROM ref_foods WHERE food_id = $food_id",
                    {"food_id": food_id})
        if not found:
            raise KeyError(food_id)
        with transaction(con):
            run(con, "INSERT OR REPLACE INTO user_aliases VALUES (name_key($name), $name, "
                     "$food_id, now())", {"name": name, "food_id": food_id})
            changed = enrich_entries(con)
    return found[0][0], changed


def import_fdc(settings: Settings, folder: Path) -> tuple[int, int, int]:
    """Add FoodData Central foods as reference data; returns (foods, portions, entries
    changed). Raises `BadFileError` for a folder not in that layout."""
    foods, portions = read_fdc_dir(folder)
    with warehouse(settings) as con, transaction(con):
        with registered(con, "fdc_foods", foods):
            run(con, "DELETE FROM ref_portions WHERE food_id IN (SELECT food_id FROM fdc_foods)")
            run(con, "DELETE FROM ref_foods WHERE food_id IN (SELECT food_id FROM fdc_foods)")
            run(con, "INSERT INTO ref_foods BY NAME SELECT * FROM fdc_foods")
        insert_frame(con, "ref_portions", portions)
        run(con, "DELETE FROM food_name_matches")  # new candidates: score names again
        changed = enrich_entries(con)
    return foods.height, portions.height, changed


def lookup_foods(settings: Settings, names: list[str], amount_text: str | None
                 ) -> pl.DataFrame:
    """How each name would get its magnesium for `amount_text` (e.g. "1 cup", "150 g")."""
    parsed = pl.DataFrame({"text": [amount_text or "1 serving"]}).select(
        *[expr.alias(name) for expr, name in zip(amount_and_unit(pl.col("text")),
                                                 ("amount", "unit"), strict=True)])
    parsed = parsed.with_columns(mass_grams(pl.col("amount"), pl.col("unit")).alias("grams"))
    amount, unit, grams = parsed.row(0)
    with warehouse(settings) as con:
        load_user_foods(con, settings.home)
        return lookup(con, names, amount, unit, grams)


def unmatched_foods(settings: Settings, limit: int) -> pl.DataFrame:
    """Distinct food names without a magnesium value, most logged first, with candidates."""
    with warehouse(settings) as con:
        return query_frame(
            con, "SELECT example_name, entries, entries - entries_with_magnesium AS unknown, "
                 "unknown_reason, match_food_id, match_food_name, fuzzy_candidates "
                 "FROM food_matches WHERE entries_with_magnesium < entries "
                 "ORDER BY unknown DESC, example_name LIMIT $limit", {"limit": limit})
