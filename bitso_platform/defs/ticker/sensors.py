"""The spread alert sensor: every few seconds, evaluate new observations against thresholds.

The authoritative cursor (the last evaluated `observation_id`) and the episode state live in
Postgres and are committed in the same transaction as the alerts they imply; the Dagster
cursor mirrors that row for the UI. A tick killed between the commit and the cursor update
therefore repeats nothing: the next tick reads the Postgres cursor, not the stale mirror.
Notifications are delivered after the commit and retried on later ticks until acknowledged;
a failing sink is logged and retried, never raised, so it never fails the tick.
"""

import dagster as dg

from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.warehouse import Warehouse

# The daemon visits sensors once per loop, every 5 s at most. An interval below that makes
# every visit evaluate (one equal to it would skip about every other visit on timing jitter),
# so a new observation waits 5 s at most before its pass: alert latency (observation stored
# -> alert persisted) stays well under 10 s. An idle pass costs a few short queries.
EVALUATE_EVERY_SECONDS = 2


@dg.sensor(
    name="spread_alerts",
    minimum_interval_seconds=EVALUATE_EVERY_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Open and resolve spread alert episodes per book and threshold from new "
    "observations (SPEC 6); persist them in ticker.spread_alerts and notify the sinks.",
)
def spread_alerts(
    context: dg.SensorEvaluationContext, warehouse: Warehouse, alerts: SpreadAlerts
) -> dg.SensorResult:
    """One evaluation pass; the cursor it returns mirrors the Postgres cursor."""
    report = alerts.evaluator(warehouse.resolved_url(), context.log).run_pass()
    mirrored = context.cursor
    if mirrored is not None and mirrored != str(report.previous_cursor):
        context.log.info(
            "Dagster cursor %s differs from the Postgres cursor %d (a previous tick committed "
            "but did not report back); continuing from Postgres",
            mirrored,
            report.previous_cursor,
        )
    return dg.SensorResult(skip_reason=report.summary(), cursor=str(report.cursor))
