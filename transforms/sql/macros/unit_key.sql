-- A unit's comparable key: its leading words (after any leading count, up to the first
-- digit, comma, quote or parenthesis), lower case, singular, common spellings folded
-- ("Cups" → "cup", "tablespoon" → "tbsp", "large (7-7/8\" long)" → "large",
-- "cup 1\" pieces" → "cup", FoodData Central's "1 cup" → "cup").
-- Entries' units and reference portions both use it.
CREATE OR REPLACE MACRO unit_word(word) AS
    coalesce(
        MAP {'tablespoon': 'tbsp', 'tablespoons': 'tbsp', 'tbs': 'tbsp', 'tbl': 'tbsp',
             'teaspoon': 'tsp', 'teaspoons': 'tsp', 'ounce': 'oz', 'ounces': 'oz',
             'fluid ounce': 'fl oz', 'fluid ounces': 'fl oz', 'gram': 'g', 'grams': 'g',
             'gm': 'g', 'lbs': 'lb', 'pound': 'lb', 'pounds': 'lb', 'kilogram': 'kg',
             'kilograms': 'kg', 'milliliter': 'ml', 'milliliters': 'ml', 'servings': 'serving',
             'leaves': 'leaf', 'loaves': 'loaf', 'pieces': 'piece'}[word],
        CASE WHEN length(word) > 3 AND word LIKE '%s' AND word NOT LIKE '%ss'
             THEN left(word, length(word) - 1) ELSE word END);

CREATE OR REPLACE MACRO unit_key(unit) AS
    unit_word(trim(regexp_replace(
        regexp_extract(regexp_replace(lower(coalesce(unit, '')), '^[0-9./ ]+', ''),
                       '^[\p{L} .]*'),
        '[. ]+', ' ', 'g')))
