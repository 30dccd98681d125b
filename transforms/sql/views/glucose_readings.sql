-- Public, stable: one row per glucose reading, mg/dL, Low/High as a flag. A reading held by
-- two sources or devices appears once (the preferred one; see staging/glucose_merge.sql).
CREATE OR REPLACE VIEW glucose_readings AS
SELECT subject_id, source, device, ts_utc, local_ts, local_date, glucose_mg_dl, out_of_range,
       kind, batch_id
FROM core_glucose_readings
WHERE superseded_by IS NULL
