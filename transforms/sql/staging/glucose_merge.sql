-- Merge the same reading seen by two sources or devices (receiver + phone, Clarity +
-- Nightscout, an app + Apple Health): readings of one kind within $clock_skew_s seconds and
-- 1 mg/dL of each other (or with the same Low/High flag), from a different source or
-- device, are one reading. The preferred one is kept; the others point to it in
-- superseded_by and stay stored for lineage. Preference: the source's position in
-- $priority (earlier first), then the device with more readings, then the earlier batch.
-- Only pairs involving batch $batch_id are looked at, found by an equi-join on time buckets
-- of $clock_skew_s seconds (a reading's neighbours are in its own or the adjacent buckets),
-- so the cost follows the new file.
WITH ranked AS (
    SELECT entry_id, subject_id, kind, source, device, batch_id, ts_utc, glucose_mg_dl,
           out_of_range,
           (coalesce(list_position($priority, source), 1000),
            -count(*) OVER (PARTITION BY subject_id, source, device),
            batch_id, entry_id)                                           AS preference,
           floor(epoch(ts_utc) / greatest($clock_skew_s, 1))::BIGINT      AS bucket
    FROM core_glucose_readings
    WHERE superseded_by IS NULL
),
new AS (
    SELECT *, unnest([bucket - 1, bucket, bucket + 1]) AS probe
    FROM ranked
    WHERE batch_id = $batch_id
),
pairs AS (
    SELECT CASE WHEN n.preference < o.preference THEN o.entry_id ELSE n.entry_id END
               AS loser_id,
           CASE WHEN n.preference < o.preference THEN n.entry_id ELSE o.entry_id END
               AS winner_id,
           least(n.preference, o.preference) AS winner_preference
    FROM new AS n
    JOIN ranked AS o
      ON o.bucket = n.probe AND o.subject_id = n.subject_id AND o.kind = n.kind
    WHERE o.entry_id <> n.entry_id
      AND abs(epoch(o.ts_utc) - epoch(n.ts_utc)) <= $clock_skew_s
      AND (o.source <> n.source OR o.device <> n.device)
      AND (abs(o.glucose_mg_dl - n.glucose_mg_dl) <= 1
           OR (o.glucose_mg_dl IS NULL AND n.glucose_mg_dl IS NULL
               AND o.out_of_range = n.out_of_range))
),
best AS (
    SELECT loser_id, arg_min(winner_id, winner_preference) AS winner_id
    FROM pairs
    GROUP BY loser_id
)
UPDATE core_glucose_readings AS t
SET superseded_by = b.winner_id
FROM best AS b
WHERE t.entry_id = b.loser_id
