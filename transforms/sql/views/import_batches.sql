-- Public, stable: every attempted import with its counts and outcome.
CREATE OR REPLACE VIEW import_batches AS
SELECT batch_id, file_name, sha256, format, rows_read, rows_stored, rows_duplicate,
       rows_quarantined, rows_skipped, rows_superseded, rows_replaced, started_at,
       finished_at, status, message
FROM core_import_batches
