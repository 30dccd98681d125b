-- Staged glucose readings of one file, with their stable ids; a reading repeated within the
-- file (same device, instant and kind) is kept once.
SELECT
    md5(concat_ws('|', subject_id, source, device, CAST(ts_utc AS VARCHAR), kind)) AS entry_id,
    subject_id,
    source,
    batch_id,
    source_row, device, ts_utc, local_ts, local_date, glucose_mg_dl, out_of_range, kind
FROM staged_rows
QUALIFY row_number() OVER (PARTITION BY device, ts_utc, kind ORDER BY source_row) = 1
