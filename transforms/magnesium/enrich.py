"""Attach magnesium to stored food entries, and look names up the same way.

Fuzzy matching runs once per distinct food name (vectorised, `matching.py`) and is kept in
`food_name_matches` with its candidates and scores; everything else — custom foods,
supplements, aliases, portions, the order of preference — is SQL over the warehouse
(`sql/enrichment/resolved_magnesium.sql`), shared by enrichment and `foods lookup`.
"""

from __future__ import annotations

import duckdb
import polars as pl

from transforms.crashpoints import crash_point
from transforms.magnesium.matching import ReferenceIndex, build_index, fuzzy_match
from transforms.warehouse import insert_frame, query_frame, registered, run, sql

_index_cache: dict[tuple, ReferenceIndex] = {}

CANDIDATE_FOODS_SQL = """
SELECT food_id, food_name, name_key(food_name) AS name_key, food_group, magnesium_mg_per_100g
FROM ref_foods WHERE magnesium_mg_per_100g IS NOT NULL ORDER BY food_id
"""

# Names that need fuzzy scores: not already scored and not resolved by a user's own food or
# an alias (those win anyway).
UNSCORED_SQL = """
SELECT DISTINCT key AS name_key
FROM (SELECT name_key(food_name) AS key FROM {source} WHERE entry_type = 'food') AS n
WHERE key <> ''
  AND key NOT IN (SELECT name_key FROM food_name_matches)
  AND key NOT IN (SELECT name_key FROM custom_foods)
  AND key NOT IN (SELECT name_key FROM supplements)
  AND key NOT IN (SELECT alias_key FROM user_aliases)
  AND key NOT IN (SELECT alias_key FROM ref_aliases)
ORDER BY 1
"""


def reference_index(con: duckdb.DuckDBPyConnection) -> ReferenceIndex:
    """The matching index for the loaded reference foods, rebuilt only when they change."""
    signature = tuple(run(con, "SELECT name, sha256 FROM reference_versions ORDER BY name")) + \
        tuple(run(con, "SELECT count(*), max(food_id) FROM ref_foods"))
    if signature not in _index_cache:
        _index_cache.clear()
        _index_cache[signature] = build_index(query_frame(con, CANDIDATE_FOODS_SQL))
    return _index_cache[signature]


def score_names(con: duckdb.DuckDBPyConnection, keys: list[str]) -> pl.DataFrame:
    """Fuzzy results for normalised names (not stored)."""
    return fuzzy_match(keys, reference_index(con))


def refresh_fuzzy_matches(con: duckdb.DuckDBPyConnection, source: str = "core_food_entries",
                          ) -> int:
    """Score every name of `source` that has no fuzzy result yet; returns how many."""
    keys = [row[0] for row in run(con, UNSCORED_SQL.format(source=source))]
    if keys:
        insert_frame(con, "food_name_matches", score_names(con, keys))
    return len(keys)


def enrich_entries(con: duckdb.DuckDBPyConnection) -> int:
    """Resolve magnesium for every stored entry; returns how many entries changed.

    Idempotent: a second run changes nothing; after a new alias or custom food only the
    entries it affects change. Runs inside the caller's transaction when there is one.
    """
    refresh_fuzzy_matches(con)
    crash_point("enrich:scored")
    run(con, "CREATE OR REPLACE TEMP VIEW enrichment_input AS SELECT entry_id, food_name, "
             "amount, unit, grams, export_magnesium_mg, entry_type FROM core_food_entries")
    run(con, "CREATE OR REPLACE TEMP VIEW resolved_magnesium AS "
        + sql("enrichment", "resolved_magnesium"))
    return run(con, sql("enrichment", "core_food_entries"))[0][0]


def lookup(con: duckdb.DuckDBPyConnection, names: list[str], amount: float | None,
           unit: str | None, grams: float | None) -> pl.DataFrame:
    """How each name would be enriched for the given amount, with its fuzzy candidates.

    Fuzzy scores computed here are kept in `food_name_matches` like any other.
    """
    queries = pl.DataFrame({
        "entry_id": [str(i) for i in range(len(names))], "food_name": names,
        "amount": [amount] * len(names), "unit": [unit] * len(names),
        "grams": [grams] * len(names), "export_magnesium_mg": [None] * len(names),
        "entry_type": ["food"] * len(names),
    }, schema={"entry_id": pl.String, "food_name": pl.String, "amount": pl.Float64,
               "unit": pl.String, "grams": pl.Float64, "export_magnesium_mg": pl.Float64,
               "entry_type": pl.String})
    with registered(con, "lookup_input", queries):
        keys = [row[0] for row in run(con, "SELECT name_key(food_name) FROM lookup_input")]
        scored = score_names(con, sorted({key for key in keys if key}))
        with registered(con, "scored_names", scored):
            run(con, "INSERT INTO food_name_matches SELECT * FROM scored_names WHERE name_key "
                     "NOT IN (SELECT name_key FROM food_name_matches)")
        run(con, "CREATE OR REPLACE TEMP VIEW enrichment_input AS SELECT * FROM lookup_input")
        resolved = query_frame(con, sql("enrichment", "resolved_magnesium"))
    return (
        queries.select("entry_id", pl.col("food_name").alias("query"), "grams")
        .with_columns(pl.Series("name_key", keys))
        .join(resolved, on="entry_id", how="left")
        .join(scored.select("name_key", "candidates"), on="name_key", how="left")
        .join(query_frame(con, "SELECT food_id AS match_food_id, magnesium_mg_per_100g "
                               "FROM ref_foods"), on="match_food_id", how="left")
        .sort(pl.col("entry_id").cast(pl.Int64))
    )
