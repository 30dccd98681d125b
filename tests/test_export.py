"""`glucomag export` and backups: the user's data leaves complete, private and harmless."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from schemas.canonical import MART_TABLES
from tests.conftest import FIXTURES, ROOT, TIMEZONE
from tests.digest import digest, full
from transforms.export import (
    TABLES,
    ExportError,
    export_warehouse,
    neutralise_formulas,
    relations,
)
from transforms.marts import build_marts
from transforms.warehouse import VIEWS, connect, run

FORMULA = '=HYPERLINK("http://x")'


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A warehouse with something in every exported table: entries (one named like a
    formula), readings, a quarantined row, validations, marts, an alias, a custom food and
    a supplement."""
    from glucomag.settings import load_settings
    from transforms.pipeline import add_user_alias, import_and_file, refresh_enrichment

    home = tmp_path_factory.mktemp("export") / "home"
    settings = load_settings(home, timezone=TIMEZONE)
    settings.create_folders()
    (home / "custom_foods.csv").write_text("name,magnesium_mg_per_100g\n+Granola mix,120\n")
    (home / "supplements.csv").write_text("product,elemental_mg_per_unit\nMag Glycinate,100\n")
    log = home.parent / "log.csv"
    log.write_text("Day,Food Name,Amount,Energy (kcal),Magnesium (mg)\n"
                   f'2026-03-04,"{FORMULA.replace(chr(34), chr(34) * 2)}",1.00 serving,10,\n'
                   "2026-03-04,+Granola mix,50.00 g,200,\n"
                   "2026-03-04,Mag Glycinate,2.00 tablet,0,\n"
                   "2026-03-04,Office lunch,1.00 serving,500,\n")
    refresh_enrichment(settings)
    for path in (log, FIXTURES / "cronometer" / "servings_bad_rows.csv",
                 FIXTURES / "dexcom" / "clarity_mgdl.csv"):
        import_and_file(settings, path, keep_original=True)
    add_user_alias(settings, "Office lunch", "sr28:20137")
    with connect(settings.warehouse) as con:
        build_marts(con)
    return home


def exported_names() -> list[str]:
    return list(relations())


def test_export_covers_the_users_tables_and_views_not_reference_data():
    names = exported_names()
    for name in ("core_food_entries", "core_glucose_readings", "core_import_batches",
                 "quarantined_rows", "validation_runs", "import_batches", "user_aliases",
                 "custom_foods", "supplements", "daily_summary", *VIEWS):
        assert name in names
    assert not {"ref_foods", "ref_portions", "ref_aliases", "supplement_compounds",
                "reference_versions"} & set(names)


def test_every_exported_table_has_rows_here(home: Path):
    """The fixture is a fair test: no stored table or view exported is empty (marts that
    need weeks of data may be)."""
    marts = {spec.name for spec in MART_TABLES} - {"daily_summary"}
    with connect(home / "warehouse.duckdb") as con:
        empty = [name for name in exported_names() if name not in marts
                 and run(con, f"SELECT count(*) FROM {name}")[0][0] == 0]
    assert empty == []


def test_parquet_export_loads_back_into_a_new_warehouse_unchanged(home: Path, tmp_path: Path):
    out = tmp_path / "export"
    with connect(home / "warehouse.duckdb") as con:
        result = export_warehouse(con, out, "parquet")
        original = digest(con, full(exported_names()))
    assert set(result.rows) == set(exported_names())
    # a fresh warehouse, every exported *table* loaded back from its file (views follow)
    tables = [spec.name for spec in TABLES] + [
        name for name in exported_names() if name not in VIEWS and name not in
        {spec.name for spec in TABLES}]
    with connect(tmp_path / "restored.duckdb") as con:
        for table in tables:
            run(con, f"DELETE FROM {table}")
            run(con, f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet($path)",
                {"path": str(out / f"{table}.parquet")})
        assert digest(con, full(exported_names())) == original


def test_files_are_private_and_never_overwritten(home: Path, tmp_path: Path):
    out = tmp_path / "export"
    with connect(home / "warehouse.duckdb") as con:
        export_warehouse(con, out, "csv")
        files = sorted(out.iterdir())
        assert {p.name for p in files} == {f"{n}.csv" for n in exported_names()} | {
            "manifest.json"}
        assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        with pytest.raises(ExportError, match="already exists"):
            export_warehouse(con, out, "csv")


def test_csv_cells_cannot_run_as_formulas_parquet_keeps_them(home: Path, tmp_path: Path):
    with connect(home / "warehouse.duckdb") as con:
        export_warehouse(con, tmp_path / "csv", "csv")
        export_warehouse(con, tmp_path / "parquet", "parquet")
    csv_text = (tmp_path / "csv" / "food_entries.csv").read_text()
    assert "'=HYPERLINK(\"\"http://x\"\")" in csv_text  # quoted by the CSV writer, then '
    as_csv = pl.read_csv(tmp_path / "csv" / "food_entries.csv", infer_schema=False)
    names = set(as_csv["food_name"].to_list())
    assert {f"'{FORMULA}", "'+Granola mix"} <= names and FORMULA not in names
    # numbers stay numbers: a spreadsheet still sums them
    assert not any(v.startswith("'") for v in as_csv["magnesium_mg"].drop_nulls().to_list())
    as_parquet = pl.read_parquet(tmp_path / "parquet" / "food_entries.parquet")
    assert {FORMULA, "+Granola mix"} <= set(as_parquet["food_name"].to_list())
    custom = pl.read_csv(tmp_path / "csv" / "custom_foods.csv", infer_schema=False)
    assert custom["name"].to_list() == ["'+Granola mix"]


def test_neutralise_formulas_only_touches_text_that_starts_a_formula():
    frame = pl.DataFrame({
        "text": ["=1+1", "+x", "-y", "@z", "\tq", "\rw", "ok", "a=b", "", None],
        "number": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, None],
        "count": [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8],
    })
    out = neutralise_formulas(frame)
    assert out["text"].to_list() == ["'=1+1", "'+x", "'-y", "'@z", "'\tq", "'\rw", "ok",
                                      "a=b", "", None]
    assert out.drop("text").equals(frame.drop("text"))


def test_backup_copy_opens_with_the_same_content(home: Path, tmp_path: Path):
    """README "Your data": copy warehouse.duckdb while no run is active."""
    with connect(home / "warehouse.duckdb") as con:
        everything = [row[0] for row in run(
            con, "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
                 "current_database() AND table_schema = 'main'")]
        original = digest(con, full(everything))
    backup = tmp_path / "backup" / "warehouse.duckdb"
    backup.parent.mkdir()
    shutil.copy2(home / "warehouse.duckdb", backup)
    with connect(backup) as con:
        assert digest(con, full(everything)) == original


def test_cli_export_writes_csv_and_refuses_an_unknown_format(home: Path, tmp_path: Path):
    out = tmp_path / "cli-export"
    result = subprocess.run([sys.executable, "-m", "glucomag", "export", "--format", "csv",
                             "--out", str(out), "--home", str(home)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(
        f"exported {len(exported_names())} tables and views (")
    assert (out / "core_food_entries.csv").exists()
    bad = subprocess.run([sys.executable, "-m", "glucomag", "export", "--format", "xlsx",
                          "--home", str(home)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --format 'xlsx' is not one of parquet, csv"
