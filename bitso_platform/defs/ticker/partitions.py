"""Ten-minute windows of the spread capture: the partitions of the ticker lake files.

A window is the half-open interval [HH:M0, HH:M0 + 10 min) in UTC; its partition key is its
start, e.g. `2024-07-16-22:20`. The first window is BITSO_TICKER_PARTITIONS_START (default
2024-07-16T22:20, the window holding the first second of the real fixture); the last is the
latest window that has ended, so a window becomes materializable the moment it closes.
"""

from datetime import UTC, datetime

import dagster as dg

from bitso_platform.settings import load_settings

KEY_FORMAT = "%Y-%m-%d-%H:%M"


def partitions_start() -> datetime:
    """The first window's start (BITSO_TICKER_PARTITIONS_START), on a 10-minute boundary."""
    return load_settings().ticker_partitions_start


def ten_minute_partitions() -> dg.TimeWindowPartitionsDefinition:
    """One partition per 10-minute UTC window, from the configured start to the last closed."""
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="*/10 * * * *",
        start=partitions_start().strftime(KEY_FORMAT),
        fmt=KEY_FORMAT,
        timezone="UTC",
    )


def partition_key(window_start: datetime) -> str:
    """The partition key of the window starting at `window_start`."""
    return window_start.astimezone(UTC).strftime(KEY_FORMAT)
