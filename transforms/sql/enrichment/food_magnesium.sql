-- Magnesium for the batch's entries, in order of preference (magnesium.md):
-- 1. the export's own value. Entries without one stay unknown (NULL mg), never zero.
UPDATE core_food_entries
SET magnesium_source = CASE WHEN magnesium_mg IS NOT NULL THEN 'export' ELSE 'unknown' END,
    match_food_id = NULL,
    match_confidence = NULL
WHERE batch_id = $batch_id
