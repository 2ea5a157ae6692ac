"""The daily marts build: yesterday's partition, after the 00:15 UTC snapshot refresh.

The segments check evaluates every segment over the whole population (tens of seconds at
scale 10, whatever the day's data), so it is not part of the daily build, whose cost
follows the day's data: the `segments_audit` job runs it on its own, after the build.
"""

from datetime import timedelta

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # not re-exported by `dagster`; only for the annotations
)

JOB = "daily_marts"
SEGMENTS_CHECK = dg.AssetCheckKey(
    dg.AssetKey(["marts", "user_segments"]), "reconciles_with_daily_marts"
)


def daily_marts_job() -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        JOB,
        selection=dg.AssetSelection.groups("marts") - dg.AssetSelection.checks(SEGMENTS_CHECK),
        description=(
            "Rebuild the marts (and run their checks) for one day or, as a backfill, for any "
            "range of days in a single run."
        ),
    )


def segments_audit_job() -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        "segments_audit",
        # With the (view) asset, re-created in an instant, so the job is partitioned.
        selection=dg.AssetSelection.assets(SEGMENTS_CHECK.asset_key),
        description="Check the Marketing segments of a day against the daily marts.",
    )


def yesterday_schedule(
    job: UnresolvedAssetJobDefinition, name: str, cron: str, description: str
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name, job=job, cron_schedule=cron, execution_timezone="UTC", description=description
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        # The partitions end today (end_offset=1), so "the latest partition" would be the
        # day still in progress: name yesterday explicitly.
        yesterday = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
        return dg.RunRequest(run_key=yesterday, partition_key=yesterday)

    return _schedule


@dg.definitions
def mart_schedules() -> dg.Definitions:
    build, audit = daily_marts_job(), segments_audit_job()
    schedules = [
        yesterday_schedule(
            build,
            "daily_marts_schedule",
            "0 1 * * *",
            "At 01:00 UTC, build yesterday's partition of every mart, 45 minutes after the "
            "daily snapshot refresh (00:15 UTC) has reloaded core.",
        ),
        yesterday_schedule(
            audit,
            "segments_audit_schedule",
            "0 2 * * *",
            "At 02:00 UTC, after the daily build, check yesterday's Marketing segments.",
        ),
    ]
    return dg.Definitions(jobs=[build, audit], schedules=schedules)
