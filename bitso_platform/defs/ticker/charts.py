"""Spread charts beside the window files: one SVG per book and window, and one per book and day.

    ticker_spread_chart/book=btc_mxn/date=2024-07-16/hour=22/minute=20/chart.svg   (a window)
    ticker_spread_chart/book=btc_mxn/date=2024-07-16/chart.svg                     (its day)

A window's charts are drawn from its lake files (what a reader of the lake sees); the day's
chart is redrawn from every window file of the day written so far, so it grows through the
day and a re-materialized window updates it too.
"""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd

from bitso_platform.defs.ticker.assets import TEN_MINUTES, TICKER_SPREAD
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.exchange import BitsoExchange
from bitso_platform.resources.lake import Lake, LakeFiles
from bitso_platform.resources.lake_io_manager import dataset_root, time_folders
from bitso_platform.ticker.alerts import Thresholds
from bitso_platform.ticker.chart import (
    DAY,
    MINUTE,
    SECOND,
    SpreadSeries,
    percent,
    spread_chart_svg,
    spread_series,
    title,
)
from bitso_platform.ticker.windows import WINDOW, expected_windows

TICKER_SPREAD_CHART = dg.AssetKey(["lake", "ticker_spread_chart"])
CHART_COLUMNS = ["orderbook_timestamp", "book", "spread", "is_gap"]


@dg.asset(
    key=TICKER_SPREAD_CHART,
    group_name="ticker",
    kinds={"svg", "s3"},
    partitions_def=TEN_MINUTES,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"records": dg.AssetIn(key=TICKER_SPREAD)},
)
def ticker_spread_chart(
    context: dg.AssetExecutionContext,
    records: pd.DataFrame,
    lake: Lake,
    exchange: BitsoExchange,
    alerts: SpreadAlerts,
) -> dg.MaterializeResult:
    """One SVG chart per book and 10-minute window, from the window's `lake/ticker_spread`
    files: each second's spread, seconds without a quote as breaks, the book's alert
    thresholds as dashed lines, max and mean in the title. Also redraws, per book, the chart
    of each day the run touches (each minute's highest spread) from the day's window files.
    """
    files = lake.files()
    thresholds = alerts.rules().thresholds
    books = sorted(set(exchange.book_list()) | set(records.get("book", ())))
    window = context.partition_time_window
    window_charts = [
        _write(files, series, thresholds)
        for start in expected_windows(window.start, window.end)
        for series in _series_of(records, books, start, start + WINDOW, SECOND)
    ]
    day_charts = [
        _write(files, series, thresholds)
        for day in _days(window.start, window.end)
        for series in _series_of(_day_records(files, books, day), books, day, day + DAY, MINUTE)
    ]
    context.log.info("%d window and %d day charts", len(window_charts), len(day_charts))
    single = len(context.partition_keys) == 1
    return dg.MaterializeResult(metadata=_metadata(files, window_charts, day_charts, single))


def _series_of(
    records: pd.DataFrame, books: list[str], start: datetime, end: datetime, step: timedelta
) -> list[SpreadSeries]:
    return [spread_series(records, book, start, end, step) for book in books]


def chart_key(book: str, start: datetime, end: datetime) -> str:
    """The lake key of a book's chart of [start, end): a window's or a day's folder."""
    folders = time_folders(dg.TimeWindow(start, end))
    return f"{dataset_root(TICKER_SPREAD_CHART)}/book={book}/{folders}/chart.svg"


def _write(
    files: LakeFiles, series: SpreadSeries, thresholds: Thresholds
) -> tuple[SpreadSeries, str, bytes]:
    svg = spread_chart_svg(series, thresholds.for_book(series.book))
    key = chart_key(series.book, series.start, series.end)
    files.write(key, svg)
    return series, files.uri(key), svg


def _days(start: datetime, end: datetime) -> list[datetime]:
    """UTC midnights of the days that [start, end) touches."""
    first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [first + i * DAY for i in range(int((end - first - timedelta(seconds=1)) / DAY) + 1)]


def _day_records(files: LakeFiles, books: list[str], day: datetime) -> pd.DataFrame:
    """The day's window files of the books (only the columns a chart needs)."""
    root = dataset_root(TICKER_SPREAD)
    keys = [key for book in books for key in files.paths(f"{root}/book={book}/date={day:%Y-%m-%d}")]
    return files.read(keys, CHART_COLUMNS)


def _metadata(
    files: LakeFiles,
    window_charts: list[tuple[SpreadSeries, str, bytes]],
    day_charts: list[tuple[SpreadSeries, str, bytes]],
    single: bool,
) -> dict[str, Any]:
    """Links to every chart; for a single window also each book's numbers and its chart
    inline. Dagster attaches a range run's metadata to each of its windows, so a range run
    reports only what it wrote, never one window's numbers as every window's."""
    metadata: dict[str, Any] = {
        "path": dg.MetadataValue.path(files.uri(dataset_root(TICKER_SPREAD_CHART))),
        "window_charts_written": len(window_charts),
        "day_charts": dg.MetadataValue.md(_chart_list(day_charts)),
    }
    if not single:
        return metadata
    for series, uri, svg in window_charts:
        metadata[f"chart_{series.book}"] = dg.MetadataValue.path(uri)
        metadata[f"chart_preview_{series.book}"] = dg.MetadataValue.md(inline_image(series, svg))
        if series.max_spread is not None:
            metadata[f"max_spread_{series.book}"] = series.max_spread
    for series, uri, _ in day_charts:
        metadata[f"day_chart_{series.book}"] = dg.MetadataValue.path(uri)
    return metadata


def _chart_list(charts: list[tuple[SpreadSeries, str, bytes]]) -> str:
    lines = [
        f"- {series.book}: `{uri}` (max "
        f"{percent(series.max_spread) if series.max_spread is not None else 'none'})"
        for series, uri, _ in charts
    ]
    return "\n".join(lines) or "(no charts)"


def inline_image(series: SpreadSeries, svg: bytes) -> str:
    """Markdown showing the chart itself: the UI's markdown renderer accepts `data:` images."""
    alt = title(series).replace("\n", ": ")
    return f"![{alt}](data:image/svg+xml;base64,{base64.b64encode(svg).decode('ascii')})"
