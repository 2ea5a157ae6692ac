"""Ticker assets: the spread records of each 10-minute window in the lake, and their stats.

Both are partitioned by window (`partitions.py`) and backfill any range in a single run; the
IO managers split the run's frame into one lake file per window and book, and replace the
range's rows in Postgres in one transaction.
"""

import dagster as dg
import pandas as pd

from bitso_platform.defs.ticker.partitions import ten_minute_partitions
from bitso_platform.metadata import markdown_table
from bitso_platform.resources.exchange import BitsoExchange
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.windows import COVERAGE_WARN_BELOW, window_records, window_stats

TEN_MINUTES = ten_minute_partitions()
TICKER_SPREAD = dg.AssetKey(["lake", "ticker_spread"])


@dg.asset(
    key=TICKER_SPREAD,
    group_name="ticker",
    kinds={"parquet", "s3"},
    partitions_def=TEN_MINUTES,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="lake_io_manager",
    metadata={"partition_expr": "orderbook_timestamp", "split_by": ["book"]},
)
def ticker_spread(
    context: dg.AssetExecutionContext, warehouse: Warehouse, exchange: BitsoExchange
) -> dg.Output[pd.DataFrame]:
    """One record per book and second of each 10-minute window (600 per book), from
    `ticker.spread_observations`, written as `ticker_spread/book=…/date=…/hour=…/minute=…/
    part.parquet`.

    Columns: the SPEC 6 record (`orderbook_timestamp` as ISO-8601 text, `book`, `bid`, `ask`,
    `spread`), then `is_gap` (no quote that second: null prices), `is_held` (no message that
    second: the book's last snapshot, vouched for by a live connection), `is_sampled` (false
    when no sampler was running, so not even a gap row was stored), `is_crossed` and `source`.
    """
    window = context.partition_time_window
    with warehouse.connection() as conn:
        frame = window_records(conn, window.start, window.end, exchange.book_list())
    context.log.info(
        "%d records for %s from %s to %s",
        len(frame),
        ", ".join(sorted(frame["book"].unique())),
        window.start.isoformat(),
        window.end.isoformat(),
    )
    return dg.Output(frame, metadata=_spread_metadata(frame, single=_is_single(context)))


@dg.asset(
    key=["ticker", "spread_window_stats"],
    group_name="ticker",
    kinds={"postgres", "pandas"},
    partitions_def=TEN_MINUTES,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="postgres_io_manager",
    ins={"records": dg.AssetIn(key=TICKER_SPREAD)},
    metadata={"partition_expr": "window_start", "primary_key": ["window_start", "book"]},
)
def spread_window_stats(
    context: dg.AssetExecutionContext, records: pd.DataFrame
) -> dg.Output[pd.DataFrame]:
    """One row per 10-minute window and book, from the window's lake files: record, gap,
    held, unsampled and crossed counts, coverage, and min/max/mean/p95 spread over covered
    (observed or held) seconds (null when none). Stored in `ticker.spread_window_stats`."""
    stats = window_stats(records)
    context.log.info("stats of %d book-windows", len(stats))
    return dg.Output(stats, metadata=_stats_metadata(stats, single=_is_single(context)))


def _is_single(context: dg.AssetExecutionContext) -> bool:
    return len(context.partition_keys) == 1


def _spread_metadata(frame: pd.DataFrame, *, single: bool) -> dict[str, object]:
    """Books, gaps and coverage. Dagster attaches a range run's metadata to each of its
    partitions, so per-window numbers (charted in the UI) are only given for one window."""
    metadata: dict[str, object] = {"books": ", ".join(sorted(frame["book"].unique()))}
    if not single:
        metadata["windows_in_run"] = int(frame["orderbook_timestamp"].str[:15].nunique())
        return metadata
    covered = frame[~frame["is_gap"]]
    metadata["gap_records"] = int(frame["is_gap"].sum())
    metadata["held_records"] = int(frame["is_held"].sum())
    metadata["unsampled_records"] = int((~frame["is_sampled"]).sum())
    metadata["coverage"] = len(covered) / len(frame) if len(frame) else 0.0
    for book, group in frame.groupby("book"):
        metadata[f"coverage_{book}"] = float((~group["is_gap"]).mean())
    if len(covered):
        metadata["max_spread"] = float(covered["spread"].max())
    return metadata


def _stats_metadata(stats: pd.DataFrame, *, single: bool) -> dict[str, object]:
    below = int((stats["coverage"] < COVERAGE_WARN_BELOW).sum()) if len(stats) else 0
    metadata: dict[str, object] = {"book_windows_below_99pct_coverage": below}
    if single and len(stats):
        metadata["max_spread"] = float(stats["max_spread"].max(skipna=True) or 0.0)
        metadata["min_coverage"] = float(stats["coverage"].min())
    shown = stats[["window_start", "book", "coverage", "max_spread", "p95_spread"]].head(20)
    metadata["summary"] = dg.MetadataValue.md(
        markdown_table(list(shown.itertuples(index=False, name=None)), tuple(shown.columns))
    )
    return metadata
