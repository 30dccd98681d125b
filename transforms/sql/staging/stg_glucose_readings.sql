-- Staged glucose readings of one file, with their stable ids; a reading repeated within the
-- file (same device, instant and kind) is kept once. The instant enters the id as UTC text
-- ('2026-03-01 12:00:12+00'), spelled out so that it is the same on every machine (a plain
-- CAST follows the session's time zone; migration 4 re-keyed readings stored that way).
SELECT
    md5(concat_ws('|', subject_id, source, device,
                  CAST(timezone('UTC', ts_utc) AS VARCHAR) || '+00', kind)) AS entry_id,
    subject_id,
    source,
    batch_id,
    source_row, device, ts_utc, local_ts, local_date, glucose_mg_dl, out_of_range, kind
FROM staged_rows
QUALIFY row_number() OVER (PARTITION BY device, ts_utc, kind ORDER BY source_row) = 1
