"""The window job: each 10-minute window is written to the lake shortly after it closes."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from bitso_platform.defs.ticker.partitions import partition_key, partitions_start
from bitso_platform.ticker.windows import WINDOW

# Minutes after a window closes before it is written: the sampler emits a second 0.5 s after
# it ends and flushes every second, but retries a database outage for up to minutes; rows
# arriving after the run are picked up by re-materializing the window.
LATE_WRITES_GRACE = timedelta(minutes=2)

ticker_windows = dg.define_asset_job(
    "ticker_windows",
    selection=dg.AssetSelection.groups("ticker"),
    description="Write a range of 10-minute windows to the lake and their stats to Postgres "
    "(one run for any range).",
)


@dg.schedule(
    job=ticker_windows,
    cron_schedule="2-59/10 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Two minutes after each 10-minute window closes, write it (lake file per "
    "book, stats row per book).",
)
def ticker_windows_schedule(
    context: dg.ScheduleEvaluationContext,
) -> dg.RunRequest | dg.SkipReason:
    """The window that closed `LATE_WRITES_GRACE` before the tick."""
    tick = context.scheduled_execution_time or datetime.now(UTC)  # None when run by hand
    closed_at = (tick.astimezone(UTC) - LATE_WRITES_GRACE).replace(second=0, microsecond=0)
    closed_at -= timedelta(minutes=closed_at.minute % 10)  # the last window boundary
    window_start = closed_at - WINDOW
    if window_start < partitions_start():
        return dg.SkipReason(f"window {window_start.isoformat()} is before the first partition")
    key = partition_key(window_start)
    return dg.RunRequest(run_key=key, partition_key=key)
