-- Public, stable: one row per stored food entry with its magnesium and where it came from.
-- grams: as imported (mass units), else from a household portion or custom serving.
CREATE OR REPLACE VIEW food_entries AS
SELECT entry_id, subject_id, source, local_date, local_ts, meal, food_name, amount, unit,
       coalesce(grams, portion_grams) AS grams, magnesium_mg, magnesium_source, match_food_id,
       match_confidence, batch_id, match_method, match_food_name, unknown_reason,
       export_magnesium_mg
FROM core_food_entries
