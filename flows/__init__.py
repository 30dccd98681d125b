"""Prefect flows: wiring only; each task calls a plain function from `transforms`/`reports`."""
