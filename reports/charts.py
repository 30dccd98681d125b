"""Report charts: matplotlib (Agg) figures returned as small, deterministic, inlinable SVG strings.

Each function takes the report's ``daily`` frame (see `reports.model.DAILY_SCHEMA`) and returns
one ``<svg>`` element (no XML declaration or DOCTYPE) with ``role="img"``, an ``aria-label`` and
a ``<title>`` describing the chart in words. Element ids are prefixed with the chart id, so
several charts can be inlined in one HTML page without id clashes. Text drawn by matplotlib is
XML-escaped by its SVG backend; the description is escaped here.

A chart function raises ``ValueError`` when there is nothing to draw; the renderer checks the
minimum data first and writes "not enough data yet" instead of calling it.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from html import escape

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from reports.model import ReferenceIntake

# Glucose colours follow the AGP report convention: green in range, red/amber below, yellow/
# orange above. The HTML uses the same values (see render.py).
GLUCOSE_COLOURS: dict[str, str] = {
    "very_low": "#7b1113",  # below 54 mg/dL
    "below": "#c0392b",  # below 70 mg/dL (54–69 in the five-band bars)
    "in_range": "#2e8b57",  # 70–180 mg/dL inclusive
    "above": "#f0a30a",  # above 180 mg/dL (181–250 in the five-band bars)
    "very_high": "#d35400",  # above 250 mg/dL
    "in_range_band": "#cfe8d5",  # shaded 70–180 band
}
# The consensus bands, lowest first: (label, colour key, share from the metric columns).
GLUCOSE_BANDS = (
    ("below 54", "very_low"),
    ("54–69", "below"),
    ("70–180", "in_range"),
    ("181–250", "above"),
    ("above 250", "very_high"),
)
AGP_COLOURS = {"outer": "#c6d9ef", "inner": "#7fa7d6", "median": "#1f3f73"}
MAGNESIUM_COLOUR = "#3b6ea5"
COVERAGE_COLOUR = "#9db4cf"
NO_DATA_COLOUR = "#8a8a8a"

RANGE_LOW_MG_DL = 70
RANGE_HIGH_MG_DL = 180

# Applied with rc_context around each chart, so the host program's rcParams are left alone.
_RC = {
    "svg.hashsalt": "glucomag-report",  # fixed: ids in the SVG are the same on every run
    "svg.fonttype": "none",  # text stays text: small, searchable, no embedded glyphs
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
}
# No Creator (it carries a URL), no Date (non-deterministic), no Dublin Core namespaces.
_SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
_FIGSIZE = (8.0, 3.4)

_ID_ATTR = re.compile(r'\bid="([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")
_HREF_REF = re.compile(r'href="#([^"]+)"')


def magnesium_daily_svg(daily: pl.DataFrame, reference_intakes: Sequence[ReferenceIntake],
                        rolling: pl.DataFrame | None = None) -> str:
    """Bars of known magnesium per day, a coverage panel (share of entries with a known value),
    one labelled horizontal line per reference intake and, when given, the 7- and 28-day
    rolling means (`mean_7d_mg`, `mean_28d_mg`, one row per day; null where a window has too
    few days with food to show)."""
    x, first, last = _x_days(daily)
    entries = daily["food_entries"].fill_null(0).to_numpy()
    known_entries = daily["entries_with_magnesium"].fill_null(0).to_numpy()
    known_mg = daily["magnesium_known_mg"].fill_null(0.0).to_numpy().astype(float)
    has_food = entries > 0
    if not has_food.any():
        raise ValueError("no days with food entries: nothing to draw")
    coverage_pct = 100.0 * known_entries[has_food] / entries[has_food]

    refs = tuple(reference_intakes)
    top = max([float(known_mg[has_food].max()), *(r.mg_per_day for r in refs), 1.0]) * 1.15

    with plt.rc_context(_RC):
        fig, (ax, ax_cov) = plt.subplots(
            2,
            1,
            sharex=True,
            figsize=(_FIGSIZE[0], 4.6),
            height_ratios=(3, 1),
            layout="constrained",
        )
        ax.bar(
            x[has_food],
            known_mg[has_food],
            width=0.8,
            color=MAGNESIUM_COLOUR,
            label="Known magnesium that day (a lower bound)",
        )
        if (~has_food).any():
            ax.plot(
                x[~has_food],
                np.zeros(int((~has_food).sum())),
                linestyle="none",
                marker="x",
                markersize=5,
                color=NO_DATA_COLOUR,
                label="No food entries",
                clip_on=False,
                zorder=3,
            )
        for column, label, colour in (("mean_7d_mg", "7-day mean", "#c0392b"),
                                      ("mean_28d_mg", "28-day mean", "#222222")):
            if rolling is None or rolling[column].null_count() == rolling.height:
                continue
            means = rolling[column].to_numpy().astype(float)  # null -> NaN: a break
            ax.plot(x, means, color=colour, linewidth=1.6,
                    label=f"{label} of days with food (known part)")
        y_text = ax.get_yaxis_transform()
        for ref, style in zip(refs, _cycle(("--", ":", "-."), len(refs)), strict=True):
            ax.axhline(
                ref.mg_per_day,
                color="#333333",
                linewidth=1,
                linestyle=style,
                label=_mpl_text(f"Reference {ref.mg_per_day:g} mg/day: {ref.label}"),
            )
            ax.text(
                1.005,
                ref.mg_per_day,
                _mpl_text(f"{ref.mg_per_day:g} mg"),
                transform=y_text,
                ha="left",
                va="center",
                fontsize=8,
                color="#333333",
            )
        ax.set_ylim(0, top)
        ax.set_ylabel("Known magnesium (mg/day)")
        ax.set_title("Daily logged magnesium (known part) and reference intakes", loc="left")

        ax_cov.bar(x[has_food], coverage_pct, width=0.8, color=COVERAGE_COLOUR)
        ax_cov.set_ylim(0, 100)
        ax_cov.set_yticks([0, 50, 100])
        ax_cov.set_ylabel("Known\n(% of entries)")
        ax_cov.set_xlabel("Local date")
        _date_axis(ax_cov, x, first, last)
        fig.legend(loc="outside lower center", ncols=2, frameon=False)

        n_days = len(x)
        n_food = int(has_food.sum())
        lo, hi = float(known_mg[has_food].min()), float(known_mg[has_food].max())
        refs_text = "; ".join(f"{r.mg_per_day:g} mg ({r.label})" for r in refs) or "none"
        description = (
            f"Daily logged magnesium, {first} to {last}, {_plural(n_days, 'day')}, "
            f"{n_food} with food entries. Bars show the known part of each day's "
            f"magnesium, from at least {round_half_up(lo)} to at least {round_half_up(hi)} mg; "
            f"a magnesium value is known for {int(known_entries[has_food].sum())} of "
            f"{int(entries[has_food].sum())} entries "
            f"(lower panel: share per day). Reference lines: {refs_text}."
        )
        return _to_svg(fig, "chart-magnesium-daily", description)


def glucose_daily_svg(daily: pl.DataFrame) -> str:
    """Daily mean glucose (points coloured by range, line broken on days without readings)
    over a shaded 70–180 mg/dL band."""
    x, first, last = _x_days(daily)
    mean = daily["glucose_mean_mg_dl"].to_numpy().astype(float)  # null -> NaN
    has = ~np.isnan(mean)
    if not has.any():
        raise ValueError("no days with a numeric glucose reading: nothing to draw")
    colours = np.select(
        [mean < RANGE_LOW_MG_DL, mean > RANGE_HIGH_MG_DL],
        [GLUCOSE_COLOURS["below"], GLUCOSE_COLOURS["above"]],
        default=GLUCOSE_COLOURS["in_range"],
    )
    lo, hi = float(np.nanmin(mean)), float(np.nanmax(mean))

    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=_FIGSIZE, layout="constrained")
        ax.axhspan(
            RANGE_LOW_MG_DL, RANGE_HIGH_MG_DL, color=GLUCOSE_COLOURS["in_range_band"], zorder=0
        )
        ax.plot(x, mean, color="#555555", linewidth=1, zorder=2)
        ax.scatter(
            x[has],
            mean[has],
            c=colours[has].tolist(),
            s=24,
            zorder=3,
            edgecolors="#333333",
            linewidths=0.5,
        )
        ax.set_ylim(min(40.0, lo - 10), max(250.0, hi + 20))
        ax.set_ylabel("Mean glucose (mg/dL)")
        ax.set_xlabel("Local date")
        ax.set_title("Daily mean glucose with the 70–180 mg/dL range shaded", loc="left")
        _date_axis(ax, x, first, last)
        handles = [
            plt.Rectangle(
                (0, 0), 1, 1, color=GLUCOSE_COLOURS["in_range_band"], label="70–180 mg/dL range"
            ),
            _dot(GLUCOSE_COLOURS["below"], "Daily mean below 70"),
            _dot(GLUCOSE_COLOURS["in_range"], "Daily mean 70–180"),
            _dot(GLUCOSE_COLOURS["above"], "Daily mean above 180"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False)
        description = (
            f"Daily mean glucose, {first} to {last}, {_plural(len(x), 'day')}, "
            f"{int(has.sum())} with numeric readings; daily means range from "
            f"{round_half_up(lo)} to {round_half_up(hi)} mg/dL. "
            "A shaded band marks 70 to 180 mg/dL."
        )
        return _to_svg(fig, "chart-glucose-daily", description)


def band_shares(metrics: pl.DataFrame) -> pl.DataFrame:
    """The five consensus bands as % of readings, from the metric columns (they nest:
    below 70 includes below 54; above 180 includes above 250)."""
    return metrics.select(
        pl.col("tbr_below_54_pct").alias("below 54"),
        (pl.col("tbr_below_70_pct") - pl.col("tbr_below_54_pct")).alias("54–69"),
        pl.col("tir_70_180_pct").alias("70–180"),
        (pl.col("tar_above_180_pct") - pl.col("tar_above_250_pct")).alias("181–250"),
        pl.col("tar_above_250_pct").alias("above 250"),
    )


def time_in_ranges_svg(daily_metrics: pl.DataFrame) -> str:
    """Stacked daily bars of the five consensus glucose bands (% of that day's readings)."""
    if daily_metrics.is_empty():
        raise ValueError("no days with glucose readings: nothing to draw")
    days = daily_metrics.rename({"period_start": "local_date"})
    x, first, last = _x_days(days)
    shares = band_shares(days)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=_FIGSIZE, layout="constrained")
        bottom = np.zeros(len(x))
        for label, colour in GLUCOSE_BANDS:
            values = shares[label].to_numpy().astype(float)
            ax.bar(x, values, bottom=bottom, width=0.8, color=GLUCOSE_COLOURS[colour],
                   label=f"{label} mg/dL")
            bottom += values
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of readings")
        ax.set_xlabel("Local date")
        ax.set_title("Daily time in glucose ranges", loc="left")
        _date_axis(ax, x, first, last)
        fig.legend(loc="outside lower center", ncols=5, frameon=False)
        tir = days["tir_70_180_pct"]
        description = (
            f"Daily share of glucose readings in five ranges, {first} to {last}, "
            f"{_plural(len(x), 'day')} with readings; the share 70 to 180 mg/dL ranges from "
            f"{round_half_up(float(tir.min()))} % to {round_half_up(float(tir.max()))} %."
        )
        return _to_svg(fig, "chart-time-in-ranges", description)


def period_ranges_svg(period_metrics: dict) -> str:
    """One horizontal bar: the period's readings split into the five consensus bands."""
    shares = band_shares(pl.DataFrame([period_metrics])).row(0, named=True)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(_FIGSIZE[0], 1.5), layout="constrained")
        left = 0.0
        for label, colour in GLUCOSE_BANDS:
            width = float(shares[label])
            ax.barh(0, width, left=left, color=GLUCOSE_COLOURS[colour], height=0.6,
                    label=f"{label}: {round_half_up(width, 1)} %")
            left += width
        ax.set_xlim(0, 100)
        ax.set_yticks([])
        ax.set_xlabel("% of readings in the period")
        ax.spines["left"].set_visible(False)
        ax.set_title("Time in glucose ranges (mg/dL)", loc="left")
        fig.legend(loc="outside lower center", ncols=5, frameon=False)
        description = "Share of the period's glucose readings by range: " + "; ".join(
            f"{label} mg/dL {round_half_up(float(shares[label]), 1)} %"
            for label, _ in GLUCOSE_BANDS) + f"; n = {period_metrics['readings']} readings."
        return _to_svg(fig, "chart-period-ranges", description)


def agp_svg(agp: pl.DataFrame, days: int) -> str:
    """Ambulatory glucose profile: smoothed 5–95 % and 25–75 % bands and the median by time
    of day, with the 70–180 mg/dL target lines."""
    complete = agp.filter(pl.col("p50_smoothed_mg_dl").is_not_null())
    if complete.is_empty():
        raise ValueError("no AGP bins with readings: nothing to draw")
    hours = (complete["bin"].to_numpy() * 15 + 7.5) / 60.0
    p = {q: complete[f"p{q}_smoothed_mg_dl"].to_numpy() for q in (5, 25, 50, 75, 95)}
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(_FIGSIZE[0], 3.8), layout="constrained")
        ax.fill_between(hours, p[5], p[95], color=AGP_COLOURS["outer"], linewidth=0,
                        label="5th–95th percentile")
        ax.fill_between(hours, p[25], p[75], color=AGP_COLOURS["inner"], linewidth=0,
                        label="25th–75th percentile")
        ax.plot(hours, p[50], color=AGP_COLOURS["median"], linewidth=2, label="Median")
        for level in (RANGE_LOW_MG_DL, RANGE_HIGH_MG_DL):
            ax.axhline(level, color=GLUCOSE_COLOURS["in_range"], linewidth=1.2)
        _clock_axes(ax)
        ax.set_ylim(40, max(250.0, float(np.nanmax(p[95])) + 20))
        ax.set_title(f"Ambulatory glucose profile ({_plural(days, 'day')} overlaid)", loc="left")
        fig.legend(loc="outside lower center", ncols=3, frameon=False)
        median = complete["p50_smoothed_mg_dl"]
        description = (
            f"Ambulatory glucose profile over {_plural(days, 'day')}: median glucose by time "
            f"of day from {round_half_up(float(median.min()))} to "
            f"{round_half_up(float(median.max()))} mg/dL; the 5th to 95th percentile band "
            f"spans {round_half_up(float(np.nanmin(p[5])))} to "
            f"{round_half_up(float(np.nanmax(p[95])))} mg/dL. Green lines mark 70 and 180 mg/dL."
        )
        return _to_svg(fig, "chart-agp", description)


def overlay_svg(overlay: pl.DataFrame) -> str:
    """Every day's glucose trace on one 24-hour axis, over the shaded 70–180 band."""
    if overlay.is_empty():
        raise ValueError("no glucose readings: nothing to draw")
    ordered = overlay.sort("local_date", "hour")
    days = ordered.partition_by("local_date", maintain_order=True)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(_FIGSIZE[0], 3.8), layout="constrained")
        ax.axhspan(RANGE_LOW_MG_DL, RANGE_HIGH_MG_DL, color=GLUCOSE_COLOURS["in_range_band"],
                   zorder=0, label="70–180 mg/dL")
        for day in days:
            hours = day["hour"].to_numpy()
            values = day["glucose_mg_dl"].to_numpy().astype(float)
            # a gap of more than 20 minutes breaks the line instead of bridging it
            breaks = np.flatnonzero(np.diff(hours) > 20 / 60) + 1
            values = np.insert(values, breaks, np.nan)
            hours = np.insert(hours, breaks, np.nan)
            ax.plot(hours, values, color="#34495e", alpha=0.35, linewidth=0.8)
        _clock_axes(ax)
        ax.set_title(f"Daily glucose traces overlaid ({_plural(len(days), 'day')})", loc="left")
        fig.legend(loc="outside lower center", ncols=1, frameon=False)
        values = ordered["glucose_mg_dl"]
        description = (
            f"Glucose traces of {_plural(len(days), 'day')} drawn over one 24-hour axis, "
            f"{values.len()} numeric readings from {round_half_up(float(values.min()))} to "
            f"{round_half_up(float(values.max()))} mg/dL; a shaded band marks 70 to 180 mg/dL."
        )
        return _to_svg(fig, "chart-overlay", description)


# --- helpers -------------------------------------------------------------------------------


def _clock_axes(ax: Axes) -> None:
    """x: the 24 hours of the local clock, labelled every 3 hours; y: glucose."""
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    ax.set_xlabel("Time of day (local)")
    ax.set_ylabel("Glucose (mg/dL)")


def _x_days(daily: pl.DataFrame) -> tuple[np.ndarray, str, str]:
    """Matplotlib date numbers for each row, and the first/last date as ISO text."""
    if daily.height == 0:
        raise ValueError("daily frame is empty: nothing to draw")
    dates = daily["local_date"]
    x = mdates.date2num(dates.to_numpy())
    return x, str(dates[0]), str(dates[-1])


def _date_axis(ax, x: np.ndarray, first: str, last: str) -> None:
    n_days = len(x)
    ax.set_xlim(x[0] - 0.6, x[-1] + 0.6)
    if n_days <= 62:
        ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, math.ceil(n_days / 10))))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    else:
        locator = mdates.AutoDateLocator(maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _dot(colour: str, label: str) -> Line2D:
    return Line2D(
        [],
        [],
        linestyle="none",
        marker="o",
        markersize=6,
        markerfacecolor=colour,
        markeredgecolor="#333333",
        markeredgewidth=0.5,
        label=label,
    )


def round_half_up(value: float, places: int = 0) -> str:
    """Round half up (not to even), so 62.5 shows as 63 as a person would round it; with
    thousands separators ("2,800")."""
    quantum = Decimal(1).scaleb(-places)
    return f"{Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP):,}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def _cycle(items: tuple[str, ...], n: int) -> list[str]:
    return [items[i % len(items)] for i in range(n)]


def _mpl_text(text: str) -> str:
    """Keep '$' literal (matplotlib would otherwise read $...$ as mathtext)."""
    return text.replace("$", r"\$")


def _to_svg(fig: Figure, chart_id: str, description: str) -> str:
    buf = io.StringIO()
    try:
        fig.savefig(buf, format="svg", metadata=_SVG_METADATA)
    finally:
        plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration and DOCTYPE (it carries a URL)
    svg = _ID_ATTR.sub(lambda m: f'id="{chart_id}-{m.group(1)}"', svg)
    svg = _URL_REF.sub(lambda m: f"url(#{chart_id}-{m.group(1)})", svg)
    svg = _HREF_REF.sub(lambda m: f'href="#{chart_id}-{m.group(1)}"', svg)
    title_id = f"{chart_id}-title"
    svg = svg.replace(
        "<svg",
        f'<svg id="{chart_id}" class="chart" role="img" aria-labelledby="{title_id}" '
        f'aria-label="{escape(description, quote=True)}"',
        1,
    )
    head_end = svg.index(">") + 1  # the description is escaped, so no '>' inside the tag
    return (
        f'{svg[:head_end]}\n <title id="{title_id}">{escape(description, quote=False)}</title>'
        f"{svg[head_end:]}".strip()
        + "\n"
    )
