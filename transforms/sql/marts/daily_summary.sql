-- One row per subject and local day with food or glucose data.
-- Magnesium: the known part only (a lower bound), with entries with/without a value.
-- Glucose: sensor readings only; Low/High count as readings and as out of range, and are left
-- out of the mean (their value is unknown). Range 70–180 mg/dL inclusive (Battelino 2019).
WITH food AS (
    SELECT subject_id, local_date,
           count(*)                              AS food_entries,
           count(magnesium_mg)                   AS entries_with_magnesium,
           count(*) - count(magnesium_mg)        AS entries_without_magnesium,
           coalesce(sum(magnesium_mg), 0)        AS magnesium_known_mg,
           -- supplements: matched to the user's supplements, or categorised so by the export
           coalesce(sum(magnesium_mg) FILTER (WHERE magnesium_source = 'supplement'
                                              OR lower(category) LIKE '%supplement%'), 0)
                                                 AS magnesium_supplement_mg
    FROM core_food_entries
    GROUP BY subject_id, local_date
),
glucose AS (
    SELECT subject_id, local_date,
           count(*)                              AS glucose_readings,
           avg(glucose_mg_dl)                    AS glucose_mean_mg_dl,
           avg(CASE WHEN glucose_mg_dl BETWEEN 70 AND 180 THEN 1.0 ELSE 0.0 END)
                                                 AS glucose_in_range_share
    FROM core_glucose_readings
    WHERE kind = 'sensor' AND superseded_by IS NULL
    GROUP BY subject_id, local_date
)
SELECT
    coalesce(f.subject_id, g.subject_id)         AS subject_id,
    coalesce(f.local_date, g.local_date)         AS local_date,
    coalesce(f.food_entries, 0)                  AS food_entries,
    coalesce(f.entries_with_magnesium, 0)        AS entries_with_magnesium,
    coalesce(f.entries_without_magnesium, 0)     AS entries_without_magnesium,
    f.magnesium_known_mg,
    f.magnesium_supplement_mg,
    coalesce(g.glucose_readings, 0)              AS glucose_readings,
    g.glucose_mean_mg_dl,
    g.glucose_in_range_share
FROM food AS f
FULL OUTER JOIN glucose AS g
    ON f.subject_id = g.subject_id AND f.local_date = g.local_date
ORDER BY subject_id, local_date
