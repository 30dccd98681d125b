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
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from reports.model import ReferenceIntake

# Glucose colours follow the AGP report convention: green in range, red/amber below, yellow/
# orange above. The HTML uses the same values (see render.py).
GLUCOSE_COLOURS: dict[str, str] = {
    "below": "#c0392b",  # below 70 mg/dL
    "in_range": "#2e8b57",  # 70–180 mg/dL inclusive
    "above": "#f0a30a",  # above 180 mg/dL
    "in_range_band": "#cfe8d5",  # shaded 70–180 band
    "outside": "#b8b8b8",  # outside 70–180, below and above not split
}
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


def magnesium_daily_svg(daily: pl.DataFrame, reference_intakes: Sequence[ReferenceIntake]) -> str:
    """Bars of known magnesium per day, a coverage panel (share of entries with a known value)
    and one labelled horizontal line per reference intake."""
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


def time_in_range_svg(daily: pl.DataFrame) -> str:
    """Stacked daily bars: share of readings 70–180 mg/dL (green) and outside it (grey)."""
    x, first, last = _x_days(daily)
    share = daily["glucose_in_range_share"].to_numpy().astype(float) * 100.0  # null -> NaN
    has = ~np.isnan(share)
    if not has.any():
        raise ValueError("no days with glucose readings: nothing to draw")
    lo, hi = float(np.nanmin(share)), float(np.nanmax(share))

    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=_FIGSIZE, layout="constrained")
        ax.bar(
            x[has], share[has], width=0.8, color=GLUCOSE_COLOURS["in_range"], label="70–180 mg/dL"
        )
        ax.bar(
            x[has],
            100.0 - share[has],
            bottom=share[has],
            width=0.8,
            color=GLUCOSE_COLOURS["outside"],
            label="Outside 70–180 mg/dL (below and above not split)",
        )
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of readings")
        ax.set_xlabel("Local date")
        ax.set_title("Daily share of glucose readings 70–180 mg/dL", loc="left")
        _date_axis(ax, x, first, last)
        fig.legend(loc="outside lower center", ncols=2, frameon=False)
        description = (
            f"Daily share of glucose readings from 70 to 180 mg/dL, {first} to {last}, "
            f"{_plural(len(x), 'day')}, {int(has.sum())} with readings; daily shares range from "
            f"{round_half_up(lo)} % to {round_half_up(hi)} %."
        )
        return _to_svg(fig, "chart-time-in-range", description)


# --- helpers -------------------------------------------------------------------------------


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
