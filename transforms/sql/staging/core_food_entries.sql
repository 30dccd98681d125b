-- Append the batch's food rows not stored before (recognised by entry_id); magnesium
-- enrichment fills the last three columns afterwards.
INSERT INTO core_food_entries BY NAME
SELECT s.*, 'unknown' AS magnesium_source, NULL AS match_food_id, NULL AS match_confidence
FROM stg_food_entries AS s
WHERE NOT EXISTS (SELECT 1 FROM core_food_entries AS c WHERE c.entry_id = s.entry_id)
