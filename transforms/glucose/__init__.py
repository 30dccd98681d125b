"""Glucose analytics: consensus metrics, AGP, variability, meal responses, associations."""
