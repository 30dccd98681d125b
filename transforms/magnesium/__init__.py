"""Magnesium enrichment: reference data, matching food names, portions, the user's own foods.

Order of preference (magnesium.md): the export's own value; the user's custom foods and
supplements; USDA reference data through a curated alias, then constrained fuzzy matching
with a confidence threshold; otherwise unknown — never zero, never a silent nearest neighbour.
"""
