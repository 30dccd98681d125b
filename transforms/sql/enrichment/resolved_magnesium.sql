-- Each entry of `enrichment_input` (entry_id, food_name, amount, unit, grams,
-- export_magnesium_mg, entry_type) with its magnesium, in order of preference (magnesium.md):
--   1. the export's own value                                   → 'export'
--   2. the user's custom food, then supplement (same name)       → 'custom' / 'supplement'
--   3. a user alias, then a curated alias, then an accepted fuzzy match to a reference food
--                                                                → 'usda'
--   4. otherwise unknown (NULL, never zero), with the reason.
-- Meal and daily totals (exports without food names) take the export's value or stay unknown.
-- Grams: mass units as imported, else the food's first household portion with the entry's
-- unit (or a custom serving); without a gram weight the entry stays unknown.
WITH input AS (
    SELECT *, CASE WHEN entry_type = 'food' THEN name_key(food_name) END AS key,
           unit_key(unit) AS ukey
    FROM enrichment_input
),
matched AS (
    SELECT i.*,
           c.name AS custom_name, c.magnesium_mg_per_100g AS custom_per_100g,
           c.magnesium_mg_per_serving AS custom_per_serving, c.serving_grams AS custom_serving_g,
           s.product,
           coalesce(s.elemental_mg_per_unit, s.compound_mg_per_unit * k.elemental_fraction)
               AS supplement_mg_per_unit,
           coalesce(ua.food_id, ra.food_id, CASE WHEN m.accepted THEN m.food_id END)
               AS ref_food_id,
           CASE WHEN ua.food_id IS NOT NULL THEN 'user_alias'
                WHEN ra.food_id IS NOT NULL THEN 'alias'
                WHEN m.accepted THEN 'fuzzy' END AS ref_method,
           CASE WHEN ua.food_id IS NOT NULL THEN 1.0
                WHEN ra.food_id IS NOT NULL THEN 0.95
                WHEN m.accepted THEN m.confidence END AS ref_confidence
    FROM input AS i
    LEFT JOIN custom_foods AS c ON c.name_key = i.key
    LEFT JOIN supplements AS s ON s.name_key = i.key
    LEFT JOIN supplement_compounds AS k ON k.compound_key = name_key(s.compound)
    LEFT JOIN user_aliases AS ua ON ua.alias_key = i.key
    LEFT JOIN ref_aliases AS ra ON ra.alias_key = i.key
    LEFT JOIN food_name_matches AS m ON m.name_key = i.key
),
portion AS (
    SELECT m.entry_id, arg_min(p.grams / p.amount, p.portion_seq) AS grams_per_unit
    FROM matched AS m
    JOIN ref_portions AS p ON p.food_id = m.ref_food_id AND unit_key(p.unit) = m.ukey
    WHERE m.ukey <> '' AND p.amount > 0 AND p.grams > 0
    GROUP BY m.entry_id
),
valued AS (
    SELECT m.*, f.food_name AS ref_food_name, f.magnesium_mg_per_100g AS ref_per_100g,
           CASE WHEN m.export_magnesium_mg IS NOT NULL THEN 'export'
                WHEN m.custom_name IS NOT NULL THEN 'custom'
                WHEN m.product IS NOT NULL THEN 'supplement'
                WHEN m.ref_food_id IS NOT NULL THEN m.ref_method
                ELSE 'none' END AS method,
           CASE WHEN m.custom_name IS NOT NULL AND m.ukey IN ('serving', '')
                THEN m.amount * m.custom_serving_g
                WHEN m.custom_name IS NULL AND m.product IS NULL
                THEN m.amount * p.grams_per_unit END AS derived_grams
    FROM matched AS m
    LEFT JOIN portion AS p USING (entry_id)
    LEFT JOIN ref_foods AS f ON f.food_id = m.ref_food_id
),
resolved AS (
    SELECT *,
           CASE method
               WHEN 'export' THEN export_magnesium_mg
               WHEN 'custom' THEN CASE
                   WHEN ukey IN ('serving', '') AND custom_per_serving IS NOT NULL
                       THEN coalesce(amount, 1) * custom_per_serving
                   WHEN coalesce(grams, derived_grams) IS NOT NULL
                       AND custom_per_100g IS NOT NULL
                       THEN coalesce(grams, derived_grams) * custom_per_100g / 100
                   WHEN grams IS NOT NULL AND custom_serving_g > 0
                       THEN grams / custom_serving_g * custom_per_serving END
               WHEN 'supplement' THEN CASE WHEN ukey NOT IN ('g', 'mg', 'kg', 'oz', 'lb')
                   THEN coalesce(amount, 1) * supplement_mg_per_unit END
               WHEN 'none' THEN NULL
               ELSE coalesce(grams, derived_grams) * ref_per_100g / 100
           END AS magnesium_mg
    FROM valued
)
SELECT
    entry_id,
    magnesium_mg,
    CASE WHEN magnesium_mg IS NULL THEN 'unknown'
         WHEN method IN ('user_alias', 'alias', 'fuzzy') THEN 'usda'
         ELSE method END                                           AS magnesium_source,
    method                                                         AS match_method,
    CASE WHEN method IN ('user_alias', 'alias', 'fuzzy') THEN ref_food_id END
                                                                   AS match_food_id,
    CASE method WHEN 'custom' THEN custom_name WHEN 'supplement' THEN product
                WHEN 'export' THEN NULL WHEN 'none' THEN NULL
                ELSE ref_food_name END                             AS match_food_name,
    CASE method WHEN 'export' THEN 1.0 WHEN 'custom' THEN 1.0 WHEN 'supplement' THEN 1.0
                WHEN 'none' THEN NULL ELSE ref_confidence END      AS match_confidence,
    CASE WHEN method IN ('export', 'supplement') THEN NULL ELSE derived_grams END
                                                                   AS portion_grams,
    CASE WHEN magnesium_mg IS NOT NULL THEN NULL
         WHEN entry_type <> 'food' THEN 'no food names in export'
         WHEN method = 'none' THEN 'no match'
         WHEN amount IS NULL AND grams IS NULL THEN 'no amount'
         WHEN method IN ('user_alias', 'alias', 'fuzzy') AND ref_per_100g IS NULL
             THEN 'reference has no magnesium value'
         ELSE 'no portion weight' END                              AS unknown_reason
FROM resolved
