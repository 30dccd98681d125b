-- Public, stable: one row per stored glucose reading, mg/dL, Low/High as a flag.
CREATE OR REPLACE VIEW glucose_readings AS
SELECT subject_id, source, device, ts_utc, local_ts, local_date, glucose_mg_dl, out_of_range,
       kind, batch_id
FROM core_glucose_readings
