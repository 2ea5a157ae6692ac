"""Retention of `ticker.spread_observations`: whole days leave Postgres once the lake has them.

A day older than BITSO_TICKER_RETENTION_DAYS is dropped (its partition) only when it is
proven: every window of the day is materialized both as lake files (`lake/ticker_spread`,
whose blocking checks passed, or its stats would not exist) and as stats
(`ticker/spread_window_stats`), and no observation of the day precedes the first window
(those seconds have no lake window to be in). An unproven day is kept and reported; a later
run drops it once its windows are written.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg
from pydantic import Field

from bitso_platform.defs.ticker.assets import TICKER_SPREAD
from bitso_platform.defs.ticker.partitions import partition_key, partitions_start
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.settings import load_settings
from bitso_platform.sql import load_sql
from bitso_platform.ticker.store import create_table, drop_day, stored_days
from bitso_platform.ticker.windows import WINDOW

SPREAD_WINDOW_STATS = dg.AssetKey(["ticker", "spread_window_stats"])
DAY = timedelta(days=1)


class RetentionConfig(dg.Config):
    retention_days: int = Field(
        default_factory=lambda: load_settings().ticker_retention_days,
        ge=1,
        description="Days of observations kept (BITSO_TICKER_RETENTION_DAYS); older proven "
        "days are dropped",
    )


def expired_days(days: list[date], today: date, retention_days: int) -> list[date]:
    """The days older than the retention: before `today - retention_days`."""
    cutoff = today - timedelta(days=retention_days)
    return [day for day in days if day < cutoff]


def window_keys(day: date, first_window: datetime) -> list[str]:
    """Partition keys of the day's windows that are partitions (from the first window on)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    starts = (start + i * WINDOW for i in range(int(DAY / WINDOW)))
    return [partition_key(s) for s in starts if s >= first_window]


def missing_windows(keys: list[str], materialized: dict[dg.AssetKey, set[str]]) -> list[str]:
    """The keys some asset has not materialized."""
    return [key for key in keys if any(key not in done for done in materialized.values())]


@dg.op(description="Drop the observation days older than the retention that the lake holds.")
def drop_expired_observation_days(
    context: dg.OpExecutionContext, config: RetentionConfig, warehouse: Warehouse
) -> dg.Output[list[str]]:
    first_window = partitions_start()
    materialized = {
        key: context.instance.get_materialized_partitions(key)
        for key in (TICKER_SPREAD, SPREAD_WINDOW_STATS)
    }
    dropped: list[str] = []
    kept: dict[str, str] = {}
    with warehouse.connection(autocommit=True) as conn:
        create_table(conn)
        for day in expired_days(stored_days(conn), datetime.now(UTC).date(), config.retention_days):
            reason = _unproven(conn, day, first_window, materialized)
            if reason:
                kept[day.isoformat()] = reason
                context.log.warning("keeping %s: %s", day.isoformat(), reason)
                continue
            drop_day(conn, day)
            dropped.append(day.isoformat())
            context.log.info("dropped the observations of %s", day.isoformat())
    metadata = {
        "retention_days": config.retention_days,
        "dropped_days": ", ".join(dropped) or "none",
        "kept_unproven_days": dg.MetadataValue.json(kept),
    }
    return dg.Output(dropped, metadata=metadata)


def _unproven(
    conn: psycopg.Connection,
    day: date,
    first_window: datetime,
    materialized: dict[dg.AssetKey, set[str]],
) -> str:
    """Why the day cannot be dropped yet; empty when it is proven."""
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    before = conn.execute(
        load_sql("ticker/observations_between"),
        {"from_at": day_start, "to_at": min(first_window, day_start + DAY)},
    ).fetchone()
    if before and before[0]:
        return f"it has observations before the first window {first_window.isoformat()}"
    missing = missing_windows(window_keys(day, first_window), materialized)
    if missing:
        return f"{len(missing)} windows not yet in the lake with their stats, from {missing[0]}"
    return ""


@dg.job(
    description="Drop the days of ticker observations older than the retention, once "
    "every window of the day is in the lake and its stats are written."
)
def ticker_retention() -> None:
    drop_expired_observation_days()


@dg.schedule(
    job=ticker_retention,
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily, after midnight UTC: drop the proven days past the retention.",
)
def ticker_retention_schedule() -> dg.RunRequest:
    return dg.RunRequest()
