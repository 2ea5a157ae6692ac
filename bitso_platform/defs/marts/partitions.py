"""Daily partitions of the marts: one per UTC day, BITSO_PARTITIONS_START through today.

A run covers a window of consecutive days, one partition or a backfill's whole range; the
mart SQL takes it as the half-open interval [window_start, window_end).
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import psycopg

# Not re-exported by `dagster`: the tags of a partition's run and of a single-run backfill.
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from bitso_platform.settings import load_settings
from bitso_platform.sql import load_sql


def partitions_start() -> date:
    """The first daily partition (BITSO_PARTITIONS_START, default 2020-01-01)."""
    return load_settings().partitions_start


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """UTC days from the configured start through today (end_offset=1 includes today)."""
    return dg.DailyPartitionsDefinition(
        start_date=partitions_start().isoformat(), end_offset=1, timezone="UTC"
    )


def partition_tags(first: date, last: date) -> dict[str, str]:
    """The tags of a run over first..last: one partition, or a range (a single-run backfill)."""
    if first == last:
        return {PARTITION_NAME_TAG: first.isoformat()}
    return {
        ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
    }


def run_days(tags: Mapping[str, str]) -> int:
    """How many days a run spans, from its tags: its range's; 1 for one partition or none."""
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if not start or not end:
        return 1
    try:
        return (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
    except ValueError:  # not a range of days (the ticker's ten-minute windows)
        return 1


@dataclass(frozen=True)
class Window:
    """Consecutive UTC days [start, end): what one run of a mart rebuilds."""

    start: date
    end: date

    @classmethod
    def of(cls, context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> "Window":
        """The days of the run's partition or partition range."""
        time_window = context.partition_time_window
        return cls(time_window.start.date(), time_window.end.date())

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    def each_day(self) -> Iterator[date]:
        return (self.start + timedelta(days=n) for n in range(self.days))

    def params(self) -> dict[str, date]:
        return {"window_start": self.start, "window_end": self.end}

    def __str__(self) -> str:
        return str(self.start) if self.days == 1 else f"{self.start}..{self.last}"


def first_unbuilt_day(conn: psycopg.Connection, start: date, before: date) -> date | None:
    """The first day of [start, before) the marts are not built for, if any.

    A build from `before` carries running totals (balances, counts to date, features) from
    those days: they must be built first.
    """
    if before <= start:
        return None
    built = conn.execute("select to_regclass('marts.daily_kpis') is not null").fetchone()
    if not built or not built[0]:
        return start
    params = {"partitions_start": start, "before_day": before}
    row = conn.execute(load_sql("marts/first_unbuilt_day"), params).fetchone()
    return row[0] if row else None
