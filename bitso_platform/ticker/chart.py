"""Spread charts: one book's spread over a window or a day, as a self-contained SVG file.

A chart plots the spread (percent) on a fixed time axis covering the whole span, so a second
(or, on a day chart, a minute) without a quote is a break in the line and a shaded band,
never a line drawn across it. The book's alert thresholds are dashed lines; thresholds far
above every spread of the span are named in a note instead, so they do not flatten the line.
The title gives the span, the highest and mean spread and how many seconds were quoted.

Day charts plot each minute's highest spread (86,400 points would make a file of megabytes):
a spike of one second still shows at its full height. Nothing here imports Dagster.
"""

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bitso_platform.libraries import prepare_matplotlib

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
HEADROOM = 1.15  # the y axis ends this much above the highest spread or drawn threshold
LINE_ID = "spread"  # SVG id of the spread line, one moveto per uninterrupted run of quotes
GAPS_ID = "gaps"  # SVG id of the shaded bands of unquoted time
SVG_STYLE = {
    "svg.fonttype": "none",  # text stays text: searchable, and no glyph outlines
    "svg.hashsalt": "bitso-spread",  # stable element ids: the same data gives the same file
    "font.size": 9,
}


@dataclass(frozen=True)
class SpreadSeries:
    """One book's spread over [start, end) in steps of `step`; NaN where nothing was quoted."""

    book: str
    start: datetime
    end: datetime
    step: timedelta
    values: np.ndarray
    quoted_seconds: int
    max_spread: float | None
    mean_spread: float | None

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def spread_series(
    records: pd.DataFrame, book: str, start: datetime, end: datetime, step: timedelta = SECOND
) -> SpreadSeries:
    """The book's records of [start, end) (lake columns `orderbook_timestamp`, `book`,
    `spread`, `is_gap`) on a grid of `step`: each step's highest quoted spread, NaN when the
    step has no quote or no record at all."""
    quoted = _quoted_spreads(records, book, start, end)
    grid = pd.date_range(start, end, freq=step, inclusive="left")
    per_step = quoted.groupby(quoted.index.floor(step)).max().reindex(grid)
    return SpreadSeries(
        book=book,
        start=start,
        end=end,
        step=step,
        values=per_step.to_numpy(dtype="float64"),
        quoted_seconds=len(quoted),
        max_spread=float(quoted.max()) if len(quoted) else None,
        mean_spread=float(quoted.mean()) if len(quoted) else None,
    )


def _quoted_spreads(records: pd.DataFrame, book: str, start: datetime, end: datetime) -> pd.Series:
    """Spreads of the book's quoted seconds in [start, end), indexed by their UTC second."""
    if records.empty:
        return pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype="float64")
    rows = records[(records["book"] == book) & ~records["is_gap"].astype(bool)]
    seconds = pd.to_datetime(rows["orderbook_timestamp"], utc=True, format="ISO8601")
    spreads = pd.Series(rows["spread"].to_numpy(dtype="float64"), index=seconds)
    inside = (spreads.index >= start) & (spreads.index < end)
    return spreads[inside & spreads.notna()].sort_index()


def title(series: SpreadSeries) -> str:
    """Book, span, highest and mean spread, seconds quoted."""
    if series.end - series.start >= DAY:
        span = f"{series.start:%Y-%m-%d} UTC, highest spread of each minute"
    else:
        span = f"{series.start:%Y-%m-%d %H:%M} to {series.end:%H:%M} UTC"
    if series.max_spread is None or series.mean_spread is None:
        return f"{series.book} spread, {span}\nno quote in this span"
    return (
        f"{series.book} spread, {span}\n"
        f"max {percent(series.max_spread)} · mean {percent(series.mean_spread)} · "
        f"{series.quoted_seconds:,} of {series.seconds:,} seconds quoted"
    )


def percent(value: float) -> str:
    """A spread with three significant digits, never in e-notation: 0.00000352 %, 11.8 %."""
    return f"{plain(value)} %"


def plain(value: float) -> str:
    return np.format_float_positional(value, precision=3, fractional=False, trim="-")


def spread_chart_svg(series: SpreadSeries, thresholds: tuple[float, ...]) -> bytes:
    """The series as a standalone SVG document (no scripts, fonts or links to fetch)."""
    # Imported here, not at module load: matplotlib takes seconds to import and only a chart
    # run needs it, not every process that loads the definitions.
    prepare_matplotlib()
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    top = _y_top(series, thresholds)
    times = pd.date_range(series.start, series.end, freq=series.step, inclusive="left")
    # A quote holds for its whole step (steps-post), so the line gets one more vertex at the
    # span's end; a quoted step between two gaps is then a visible segment, not a lone point.
    line_times = times.append(pd.DatetimeIndex([series.end]))
    line_values = np.append(series.values, series.values[-1:])
    with matplotlib.rc_context(SVG_STYLE):
        figure = Figure(figsize=(10, 3.6), layout="constrained")
        axes = figure.add_subplot()
        axes.set_ylim(min(0.0, float(np.nanmin(series.values, initial=0.0))), top)
        _time_axis(axes, series)
        _draw_gaps(axes, series, times)
        axes.plot(
            line_times,
            line_values,
            drawstyle="steps-post",
            color="#1f5fa8",
            linewidth=1.0,
            gid=LINE_ID,
            label="spread",
        )
        _draw_thresholds(axes, thresholds, top)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: plain(value)))
        axes.set_ylabel("spread (%)")
        axes.set_title(title(series), loc="left")
        axes.grid(axis="y", color="#dddddd", linewidth=0.5)
        figure.legend(loc="outside lower center", ncols=3, frameon=False)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _time_axis(axes: "Axes", series: SpreadSeries) -> None:
    """The whole span, ticked every minute (window) or every two hours (day), in UTC."""
    import matplotlib.dates as mdates

    axes.set_xlim(mdates.date2num(series.start), mdates.date2num(series.end))
    if series.end - series.start >= DAY:
        axes.xaxis.set_major_locator(mdates.HourLocator(interval=2, tz=series.start.tzinfo))
    else:
        axes.xaxis.set_major_locator(mdates.MinuteLocator(tz=series.start.tzinfo))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=series.start.tzinfo))


def _y_top(series: SpreadSeries, thresholds: tuple[float, ...]) -> float:
    """Room for the highest spread, or for the lowest threshold when nothing was quoted."""
    highest = series.max_spread
    if highest is None or highest <= 0:
        return min(thresholds, default=1.0) * HEADROOM
    return highest * HEADROOM


def _draw_gaps(axes: "Axes", series: SpreadSeries, times: pd.DatetimeIndex) -> None:
    """A shaded band over every run of steps without a quote."""
    missing = np.isnan(series.values)
    if not missing.any():
        return
    edges = np.flatnonzero(np.diff(np.concatenate(([0], missing.astype(int), [0]))))
    bands = [
        (times[first], (last - first) * series.step)
        for first, last in zip(edges[::2], edges[1::2], strict=True)
    ]
    low, high = axes.get_ylim()
    axes.broken_barh(bands, (low, high - low), facecolors="#eeeeee", gid=GAPS_ID, label="no quote")


def _draw_thresholds(axes: "Axes", thresholds: tuple[float, ...], top: float) -> None:
    """Dashed lines for thresholds inside the chart; a note naming those above it."""
    inside = [t for t in thresholds if t <= top]
    above = [t for t in thresholds if t > top]
    for index, threshold in enumerate(inside):
        label = "alert thresholds " + ", ".join(percent(t) for t in inside) if not index else None
        axes.axhline(threshold, color="#c0392b", linestyle="--", linewidth=0.8, label=label)
    if above:
        axes.annotate(
            "alert thresholds above the chart: " + ", ".join(percent(t) for t in above),
            xy=(0.995, 0.98),
            xycoords="axes fraction",
            ha="right",
            va="top",
            color="#c0392b",
        )
