"""Ten-minute windows of the spread capture: the partitions of the ticker lake files.

A window is the half-open interval [HH:M0, HH:M0 + 10 min) in UTC; its partition key is its
start, e.g. `2024-07-16-22:20`. The first window is BITSO_TICKER_PARTITIONS_START (default
2024-07-16T22:20, the window holding the first second of the real fixture); the last is the
latest window that has ended, so a window becomes materializable the moment it closes.
"""

from datetime import UTC, datetime

import dagster as dg

from bitso_platform.settings import env

DEFAULT_START = "2024-07-16T22:20"
KEY_FORMAT = "%Y-%m-%d-%H:%M"


def partitions_start() -> datetime:
    """The first window's start (BITSO_TICKER_PARTITIONS_START), on a 10-minute boundary."""
    value = env("BITSO_TICKER_PARTITIONS_START", DEFAULT_START)
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"BITSO_TICKER_PARTITIONS_START={value!r} is not a time: set it like 2024-07-16T22:20"
        ) from None
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    if start.minute % 10 or start.second or start.microsecond:
        raise ValueError(
            f"BITSO_TICKER_PARTITIONS_START={value!r} is not on a 10-minute boundary: "
            "use a time such as 2024-07-16T22:20"
        )
    return start


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
