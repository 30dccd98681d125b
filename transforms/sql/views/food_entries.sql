-- Public, stable: one row per stored food entry with its magnesium and where it came from.
CREATE OR REPLACE VIEW food_entries AS
SELECT entry_id, subject_id, source, local_date, local_ts, meal, food_name, amount, unit, grams,
       magnesium_mg, magnesium_source, match_food_id, match_confidence, batch_id
FROM core_food_entries
