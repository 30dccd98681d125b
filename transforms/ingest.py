"""Import one export file into the warehouse as one transaction.

detect → read → conform → validate (GX) → store new rows, quarantine failing rows with their
reasons, log the batch, enrich → commit. The same file again (by sha256) stores nothing;
rows already stored from an overlapping file are recognised by their natural-key id.

Crash safety: everything the warehouse keeps about a file is written in that one
transaction, so a crash (`crash_point`s mark the steps the tests kill the process at) leaves
the warehouse as it was before the file or as after it — never in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from schemas.canonical import (
    CLOCK_SKEW_SECONDS,
    ENRICHED_FOOD_ENTRY,
    GLUCOSE_SOURCE_PRIORITY,
    STAGED,
)
from transforms.crashpoints import crash_point
from transforms.importers import FORMATS, conform, read_file
from transforms.importers.base import BadFileError, sha256_of
from transforms.magnesium.enrich import enrich_entries
from transforms.validate import ValidationOutcome, validate_frame
from transforms.warehouse import (
    insert_frame,
    query_frame,
    registered,
    run,
    sql,
    transaction,
)

TABLES = {
    "food": ("stg_food_entries", "core_food_entries"),
    "glucose": ("stg_glucose_readings", "core_glucose_readings"),
}


@dataclass(frozen=True)
class ImportSummary:
    file_name: str
    sha256: str
    status: str  # stored | already_imported | failed
    format: str | None = None
    batch_id: int | None = None
    rows_read: int = 0
    rows_stored: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    rows_superseded: int = 0
    rows_replaced: int = 0
    message: str | None = None
    notice: str | None = None  # what the user must know about this format's data

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        if self.status == "already_imported":
            return f"{self.file_name}: already imported (batch {self.batch_id}), nothing new stored"
        if self.status == "failed":
            return f"error: {self.message}"
        merged = (f", {self.rows_superseded} already stored from a preferred source or device"
                  if self.rows_superseded else "")
        merged += (f", {self.rows_replaced} earlier readings replaced by this preferred source"
                   if self.rows_replaced else "")
        return (
            f"{self.file_name}: {self.format}, {self.rows_stored} rows stored, "
            f"{self.rows_quarantined} quarantined, {self.rows_duplicate} duplicates skipped, "
            f"{self.rows_skipped} non-entry rows skipped{merged}"
            + (f"\n  note: {self.notice}" if self.notice else "")
        )


def _stored_batch(con: duckdb.DuckDBPyConnection, sha256: str,
                  format_name: str | None) -> int | None:
    """The batch that stored this content already (in this format, when one is given: an
    Apple Health export is imported once as food and once as glucose)."""
    row = run(
        con,
        "SELECT min(batch_id) FROM core_import_batches WHERE sha256 = $sha256 "
        "AND status = 'stored' AND ($format::VARCHAR IS NULL OR format = $format)",
        {"sha256": sha256, "format": format_name},
    )
    return row[0][0]


def log_failure(
    con: duckdb.DuckDBPyConnection, name: str, sha256: str, started: datetime,
    error: BadFileError,
) -> ImportSummary:
    """Record a file (or archive member) that could not be imported at all.

    The same content failing the same way again (a re-run after a crash between this log and
    the file's move to quarantine, or the same bad file dropped twice) is logged once.
    """
    with transaction(con):
        logged = run(con, "SELECT min(batch_id) FROM core_import_batches WHERE status = "
                          "'failed' AND sha256 = $sha256 AND file_name = $name "
                          "AND message = $message",
                     {"sha256": sha256, "name": name, "message": str(error)})[0][0]
        if logged is not None:
            return ImportSummary(file_name=name, sha256=sha256, status="failed",
                                 batch_id=logged, message=str(error))
        batch_id = run(con, "SELECT nextval('batch_id_seq')")[0][0]
        run(
            con,
            "INSERT INTO core_import_batches (batch_id, file_name, sha256, started_at, "
            "finished_at, status, message) VALUES ($batch_id, $file_name, $sha256, $started, "
            "$finished, 'failed', $message)",
            {
                "batch_id": batch_id,
                "file_name": name,
                "sha256": sha256,
                "started": started,
                "finished": datetime.now(UTC),
                "message": str(error),
            },
        )
        crash_point("ingest:failure_logging")
    crash_point("ingest:failure_logged")
    return ImportSummary(
        file_name=name, sha256=sha256, status="failed", batch_id=batch_id, message=str(error)
    )


def quarantine_rows(staged: pl.DataFrame, outcome: ValidationOutcome) -> pl.DataFrame:
    """The rows GX rejected, with the failed rules and reasons (parse problems first)."""
    return (
        staged.with_row_index("row_index")
        .with_columns(pl.col("row_index").cast(pl.Int64))
        .join(outcome.failed_rows, on="row_index", how="inner")
        .select(
            "source_row",
            "rule",
            pl.concat_str(["parse_error", "reason"], separator="; ", ignore_nulls=True).alias(
                "reason"
            ),
            "raw_record",
        )
    )


def record_validation(
    con: duckdb.DuckDBPyConnection, outcome: ValidationOutcome, batch_id: int | None
) -> None:
    insert_frame(con, "validation_runs", pl.DataFrame([outcome.as_record(batch_id)]))


def validate_enriched(con: duckdb.DuckDBPyConnection, batch_id: int) -> ValidationOutcome:
    """Check the batch's entries after enrichment against the stored spec (sources, methods,
    confidences and amounts in range). Derived data: failures are recorded, not quarantined."""
    columns = ", ".join(ENRICHED_FOOD_ENTRY.names)
    stored = query_frame(con, f"SELECT {columns} FROM core_food_entries "
                              "WHERE batch_id = $batch_id", {"batch_id": batch_id})
    return validate_frame(stored.cast(dict(ENRICHED_FOOD_ENTRY.polars_schema())),
                          ENRICHED_FOOD_ENTRY, stage="enriched food entries")


def merge_glucose(con: duckdb.DuckDBPyConnection, batch_id: int,
                  source_priority: Sequence[str], clock_skew_s: int) -> tuple[int, int]:
    """Mark readings held by two sources or devices; returns (this batch's readings not
    kept, earlier readings this batch replaced)."""
    run(con, sql("staging", "glucose_merge"),
        {"batch_id": batch_id, "priority": list(source_priority), "clock_skew_s": clock_skew_s})
    return tuple(run(
        con,
        "SELECT count(*) FILTER (WHERE r.batch_id = $batch_id), "
        "count(*) FILTER (WHERE r.batch_id <> $batch_id AND w.batch_id = $batch_id) "
        "FROM core_glucose_readings AS r JOIN core_glucose_readings AS w "
        "ON w.entry_id = r.superseded_by",
        {"batch_id": batch_id})[0])


def import_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    timezone: str,
    subject_id: str,
    format_name: str | None = None,
    source_priority: Sequence[str] = GLUCOSE_SOURCE_PRIORITY,
    clock_skew_s: int = CLOCK_SKEW_SECONDS,
    display_name: str | None = None,
    sha256: str | None = None,
) -> ImportSummary:
    """Import `path` as one transaction.

    A file that cannot be read at all comes back as a `failed` summary whose message is the
    one-line error; only its failed attempt is logged, nothing else is stored. Glucose
    readings that another source or device already holds are merged (`glucose_merge.sql`).
    `display_name` names an archive member (`export.zip/Nutrition.csv`) in logs and summaries;
    `sha256` is the file's hash when the caller has it already (large exports are read once).
    """
    name = display_name or path.name
    sha256 = sha256 or sha256_of(path)
    already = _stored_batch(con, sha256, format_name)
    if already is not None:
        return ImportSummary(file_name=name, sha256=sha256, status="already_imported",
                             format=format_name, batch_id=already)
    started = datetime.now(UTC)
    try:
        imported = read_file(path, timezone, format_name)
        staged = conform(imported)
    except BadFileError as error:
        return log_failure(con, name, sha256, started, error.named(name))
    crash_point("ingest:read")
    spec = STAGED[imported.kind]
    outcome = validate_frame(staged, spec, stage=f"staged {imported.kind} rows")
    rejected = quarantine_rows(staged, outcome)
    staged_rows = staged.filter(
        ~pl.int_range(pl.len()).is_in(outcome.failed_rows["row_index"].implode())
    )
    stg_table, core_table = TABLES[imported.kind]

    with transaction(con):
        batch_id = run(con, "SELECT nextval('batch_id_seq')")[0][0]
        crash_point("ingest:batch_id")
        batch_rows = staged_rows.with_columns(
            pl.lit(subject_id).alias("subject_id"), pl.lit(imported.format).alias("source"),
            pl.lit(batch_id, pl.Int64).alias("batch_id"))
        with registered(con, "staged_rows", batch_rows):
            run(con, f"CREATE OR REPLACE TEMP VIEW {stg_table} AS {sql('staging', stg_table)}")
            crash_point("ingest:staged")
            run(con, sql("staging", core_table))
            crash_point("ingest:inserted")
        stored = run(
            con,
            f"SELECT count(*) FROM {core_table} WHERE batch_id = $batch_id",
            {"batch_id": batch_id},
        )[0][0]
        superseded = replaced = 0
        if imported.kind == "food":
            enrich_entries(con)
            crash_point("ingest:enriched")
            record_validation(con, validate_enriched(con, batch_id), batch_id)
            crash_point("ingest:enrichment_logged")
        else:
            superseded, replaced = merge_glucose(con, batch_id, source_priority, clock_skew_s)
            crash_point("ingest:merged")
        quarantine = rejected.with_columns(
            pl.lit(batch_id).alias("batch_id"),
            pl.lit(name).alias("file_name"),
            pl.lit(imported.kind).alias("kind"),
        )
        insert_frame(con, "quarantined_rows", quarantine)
        crash_point("ingest:quarantined_rows")
        record_validation(con, outcome, batch_id)
        crash_point("ingest:validation_logged")
        summary = ImportSummary(
            file_name=name,
            sha256=sha256,
            status="stored",
            format=imported.format,
            batch_id=batch_id,
            rows_read=imported.rows_read,
            rows_stored=stored,
            rows_duplicate=staged.height - rejected.height - stored,
            rows_quarantined=rejected.height,
            rows_skipped=imported.rows_skipped,
            rows_superseded=superseded,
            rows_replaced=replaced,
            notice=getattr(FORMATS[imported.format], "USER_NOTICE", None),
        )
        # Columns by name: a warehouse upgraded by a migration has them in another order.
        run(
            con,
            "INSERT INTO core_import_batches (batch_id, file_name, sha256, format, rows_read, "
            "rows_stored, rows_duplicate, rows_quarantined, rows_skipped, rows_superseded, "
            "rows_replaced, started_at, finished_at, status) VALUES ($batch_id, $file_name, "
            "$sha256, $format, $rows_read, $rows_stored, $rows_duplicate, $rows_quarantined, "
            "$rows_skipped, $rows_superseded, $rows_replaced, $started_at, now(), 'stored')",
            {
                key: value
                for key, value in asdict(summary).items()
                if key not in ("status", "message", "notice")
            }
            | {"started_at": started},
        )
        crash_point("ingest:before_commit")
    crash_point("ingest:committed")
    return summary
