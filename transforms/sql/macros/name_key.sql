-- The one normalisation of food names used for every lookup (aliases, custom foods,
-- supplements, fuzzy matching): lower case; anything but letters, digits and % becomes a
-- space; spaces collapsed. "Brown Rice (cooked)" → "brown rice cooked".
CREATE OR REPLACE MACRO name_key(name) AS
    trim(regexp_replace(regexp_replace(lower(name), '[^\p{L}\p{N}% ]', ' ', 'g'), '\s+', ' ', 'g'))
