"""The daily marts build: yesterday's partition, after the 00:15 UTC snapshot refresh."""

from datetime import timedelta

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # not re-exported by `dagster`; only for the annotations
)

from bitso_platform.defs.marts.partitions import daily_partitions

JOB = "daily_marts"


def daily_marts_job(partitions: dg.PartitionsDefinition) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        JOB,
        selection=dg.AssetSelection.groups("marts"),
        partitions_def=partitions,
        description=(
            "Rebuild the marts (and run their checks) for one day or, as a backfill, for any "
            "range of days in a single run."
        ),
    )


def daily_marts_schedule(job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="daily_marts_schedule",
        job=job,
        cron_schedule="0 1 * * *",
        execution_timezone="UTC",
        description=(
            "At 01:00 UTC, build yesterday's partition of every mart, 45 minutes after the "
            "daily snapshot refresh (00:15 UTC) has reloaded core."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        # The partitions end today (end_offset=1), so "the latest partition" would be the
        # day still in progress: name yesterday explicitly.
        yesterday = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
        return dg.RunRequest(run_key=yesterday, partition_key=yesterday)

    return _schedule


@dg.definitions
def mart_schedules() -> dg.Definitions:
    job = daily_marts_job(daily_partitions())
    return dg.Definitions(jobs=[job], schedules=[daily_marts_schedule(job)])
