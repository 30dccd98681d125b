-- Write each entry's resolved magnesium (resolved_magnesium over all stored entries), touching
-- only entries whose values change: re-running is idempotent, and adding an alias or a custom
-- food updates the affected entries only.
UPDATE core_food_entries AS t
SET magnesium_mg = r.magnesium_mg,
    magnesium_source = r.magnesium_source,
    match_method = r.match_method,
    match_food_id = r.match_food_id,
    match_food_name = r.match_food_name,
    match_confidence = r.match_confidence,
    portion_grams = r.portion_grams,
    unknown_reason = r.unknown_reason
FROM resolved_magnesium AS r
WHERE t.entry_id = r.entry_id
  AND (t.magnesium_mg IS DISTINCT FROM r.magnesium_mg
       OR t.magnesium_source IS DISTINCT FROM r.magnesium_source
       OR t.match_method IS DISTINCT FROM r.match_method
       OR t.match_food_id IS DISTINCT FROM r.match_food_id
       OR t.match_food_name IS DISTINCT FROM r.match_food_name
       OR t.match_confidence IS DISTINCT FROM r.match_confidence
       OR t.portion_grams IS DISTINCT FROM r.portion_grams
       OR t.unknown_reason IS DISTINCT FROM r.unknown_reason)
