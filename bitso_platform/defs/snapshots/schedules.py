"""The snapshot refresh: load every snapshot and rebuild the core model, daily."""

import dagster as dg

load_snapshots = dg.define_asset_job(
    "load_snapshots",
    selection=dg.AssetSelection.groups("snapshots", "core"),
    description="Validate and load every snapshot file into `raw`, then rebuild `core`, in one "
    "transaction (one process) committed after the blocking checks.",
    executor_def=dg.in_process_executor,  # a transaction cannot span processes
)

daily_snapshot_refresh = dg.ScheduleDefinition(
    name="daily_snapshot_refresh",
    job=load_snapshots,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    description="Load the day's snapshots at 00:15 UTC, before the marts build yesterday.",
)
