"""How figures and text are written in reports: rounding as people round, counts with
thousands separators, times in UTC, a dash for "no value"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from reports.charts import round_half_up


def plural(n: int, word: str) -> str:
    """``plural(1, "day")`` -> "1 day", ``plural(2800, "reading")`` -> "2,800 readings"."""
    return f"{int(n):,} {word if int(n) == 1 else word + 's'}"


def rounded(value: float, places: int = 0) -> str:
    return round_half_up(value, places)


def optional(value: float | None, places: int = 0, unit: str = "") -> str:
    """A rounded figure with its unit, or "—" when there is none."""
    return "—" if value is None else f"{round_half_up(value, places)}{unit}"


def reference_number(value: float) -> str:
    """A reference figure as given: 420 -> "420", 320.5 -> "320.5"."""
    return f"{value:,g}" if float(value) != int(value) else f"{int(value):,}"


def count(value: int | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def text(value: object) -> str:
    return "—" if value is None else str(value)


def utc(value: datetime | date | None) -> str:
    """UTC timestamps as "2026-10-01 08:00 UTC"; naive values are taken to be UTC already."""
    if value is None:
        return "—"
    if not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is not None and value.utcoffset() != timedelta(0):
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")
