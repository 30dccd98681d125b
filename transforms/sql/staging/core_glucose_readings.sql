-- Append the batch's readings not stored before (recognised by entry_id).
INSERT INTO core_glucose_readings BY NAME
SELECT s.*
FROM stg_glucose_readings AS s
WHERE NOT EXISTS (SELECT 1 FROM core_glucose_readings AS c WHERE c.entry_id = s.entry_id)
