-- Public: one row per distinct logged food name (entries without an export value), how it
-- was matched, and the fuzzy candidates with their scores — every fuzzy match is listed.
CREATE OR REPLACE VIEW food_matches AS
SELECT name_key(e.food_name)                 AS name_key,
       any_value(e.food_name)                AS example_name,
       count(*)                              AS entries,
       count(e.magnesium_mg)                 AS entries_with_magnesium,
       mode(e.match_method)                  AS match_method,
       mode(e.match_food_id)                 AS match_food_id,
       mode(e.match_food_name)               AS match_food_name,
       max(e.match_confidence)               AS match_confidence,
       mode(e.unknown_reason)                AS unknown_reason,
       any_value(m.confidence)               AS fuzzy_confidence,
       any_value(m.candidates)               AS fuzzy_candidates
FROM core_food_entries AS e
LEFT JOIN food_name_matches AS m ON m.name_key = name_key(e.food_name)
WHERE e.export_magnesium_mg IS NULL
GROUP BY name_key(e.food_name)
