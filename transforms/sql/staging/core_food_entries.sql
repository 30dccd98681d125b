-- Append the batch's food rows not stored before (recognised by entry_id). The export's
-- magnesium is kept twice: as given (export_magnesium_mg) and as the current value, which
-- enrichment (sql/enrichment/) then resolves for entries without one.
INSERT INTO core_food_entries BY NAME
SELECT s.*, s.magnesium_mg AS export_magnesium_mg, 'unknown' AS magnesium_source,
       'none' AS match_method
FROM stg_food_entries AS s
WHERE NOT EXISTS (SELECT 1 FROM core_food_entries AS c WHERE c.entry_id = s.entry_id)
