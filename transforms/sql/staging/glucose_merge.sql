-- Merge the same reading seen by two sources or devices (receiver + phone, Clarity +
-- Nightscout, an app + Apple Health): readings of one kind within $clock_skew_s seconds and
-- 1 mg/dL of each other (or with the same Low/High flag), from a different source or
-- device, are one reading. The preferred one is kept; the others point to it in
-- superseded_by and stay stored for lineage. Preference: the source's position in
-- $priority (earlier first), then the device with more readings, then the earlier batch.
-- Only pairs involving batch $batch_id are looked at, so the cost follows the new file.
WITH ranked AS (
    SELECT r.*,
           coalesce(list_position($priority, r.source), 1000)  AS source_rank,
           count(*) OVER (PARTITION BY r.subject_id, r.source, r.device) AS device_readings
    FROM core_glucose_readings AS r
    WHERE r.superseded_by IS NULL
),
pairs AS (
    SELECT loser.entry_id AS loser_id, winner.entry_id AS winner_id,
           row_number() OVER (PARTITION BY loser.entry_id
                              ORDER BY winner.source_rank, winner.device_readings DESC,
                                       winner.batch_id, winner.entry_id) AS choice
    FROM ranked AS loser
    JOIN ranked AS winner
      ON winner.subject_id = loser.subject_id
     AND winner.kind = loser.kind
     AND winner.ts_utc BETWEEN loser.ts_utc - to_seconds($clock_skew_s)
                           AND loser.ts_utc + to_seconds($clock_skew_s)
     AND (winner.source <> loser.source OR winner.device <> loser.device)
     AND (abs(winner.glucose_mg_dl - loser.glucose_mg_dl) <= 1
          OR (winner.glucose_mg_dl IS NULL AND loser.glucose_mg_dl IS NULL
              AND winner.out_of_range = loser.out_of_range))
     AND (winner.source_rank, -winner.device_readings, winner.batch_id, winner.entry_id)
       < (loser.source_rank, -loser.device_readings, loser.batch_id, loser.entry_id)
    WHERE loser.batch_id = $batch_id OR winner.batch_id = $batch_id
)
UPDATE core_glucose_readings AS t
SET superseded_by = p.winner_id
FROM pairs AS p
WHERE t.entry_id = p.loser_id AND p.choice = 1
