"""The window job: each 10-minute window is written to the lake shortly after it closes.

The schedule is on where a sampler is deployed (BITSO_TICKER_WINDOWS_SCHEDULE=running, set by
the compose stack): every window is written, so a sampler that died, or never started, shows
as failing coverage checks. It is off by default (local development, `make dev`): no sampler
runs there, and the demo's replayed rows are of 2024-07-16, so every window of *now* would
be 600 gap records per book with a failing check every 10 minutes. Turn it on in the UI
while `bitso ticker run` samples locally.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from bitso_platform.defs.ticker.partitions import partition_key, partitions_start
from bitso_platform.settings import load_settings
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


def windows_schedule_status() -> dg.DefaultScheduleStatus:
    """The schedule's status until toggled in the UI (BITSO_TICKER_WINDOWS_SCHEDULE)."""
    return dg.DefaultScheduleStatus[load_settings().ticker_windows_schedule.upper()]


@dg.schedule(
    job=ticker_windows,
    cron_schedule="2-59/10 * * * *",
    execution_timezone="UTC",
    default_status=windows_schedule_status(),
    description="Two minutes after each 10-minute window closes, write it (lake file per "
    "book, stats row per book). On where a sampler is deployed "
    "(BITSO_TICKER_WINDOWS_SCHEDULE=running).",
)
def ticker_windows_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """The window that closed `LATE_WRITES_GRACE` before the tick."""
    tick = context.scheduled_execution_time or datetime.now(UTC)  # None when run by hand
    closed_at = (tick.astimezone(UTC) - LATE_WRITES_GRACE).replace(second=0, microsecond=0)
    closed_at -= timedelta(minutes=closed_at.minute % 10)  # the last window boundary
    window_start = closed_at - WINDOW
    if window_start < partitions_start():
        return dg.SkipReason(f"window {window_start.isoformat()} is before the first partition")
    key = partition_key(window_start)
    return dg.RunRequest(run_key=key, partition_key=key)
