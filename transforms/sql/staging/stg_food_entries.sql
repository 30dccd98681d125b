-- Staged food rows of one file, with their stable ids.
-- `staged_rows` is the validated polars frame registered by transforms/ingest.py, with the
-- batch's subject_id, source and batch_id added.
-- `occurrence` numbers identical rows within the file, so a food eaten twice stays twice while
-- the same rows in an overlapping export get the same ids.
SELECT
    md5(concat_ws('|', subject_id, source, CAST(local_date AS VARCHAR),
                  coalesce(CAST(local_ts AS VARCHAR), ''), coalesce(meal, ''), food_name,
                  coalesce(CAST(amount AS VARCHAR), ''), coalesce(unit, ''),
                  CAST(occurrence AS VARCHAR)))         AS entry_id,
    subject_id,
    source,
    batch_id,
    source_row, local_date, local_ts, meal, food_name, amount, unit, grams,
    magnesium_mg, energy_kcal, carbohydrates_g, category, entry_type
FROM (
    SELECT *,
           row_number() OVER (PARTITION BY local_date, local_ts, meal, food_name, amount, unit,
                                           entry_type
                              ORDER BY source_row) AS occurrence
    FROM staged_rows
)
