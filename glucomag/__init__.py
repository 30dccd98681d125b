"""glucomag: local-first food-log and glucose tracking with magnesium, informational only."""

__version__ = "0.1.0"
