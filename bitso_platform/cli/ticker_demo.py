"""The Dagster side of `bitso ticker demo`: the code location's own alert sensor and window
schedule, ticked as the daemon ticks them, and the runs the schedule requests."""

from dataclasses import dataclass
from datetime import datetime

import click
import dagster as dg

from bitso_platform.cli.runtime import FinishedRun, check_outcome, dagster_instance, run_job
from bitso_platform.defs.resources import build_resources
from bitso_platform.defs.ticker.schedules import LATE_WRITES_GRACE, ticker_windows_schedule
from bitso_platform.defs.ticker.sensors import spread_alerts
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.settings import Settings
from bitso_platform.ticker.windows import WINDOW


@dataclass(frozen=True)
class CheckResult:
    """One check evaluation of a window: passed, warned or FAILED, with its non-zero counts."""

    name: str
    result: str
    numbers: dict[str, int | float]


@dataclass(frozen=True)
class WindowOutcome:
    """A window the schedule was ticked for: its checks, or why the schedule skipped it."""

    window_start: datetime
    checks: list[CheckResult]
    skipped: str | None = None


@dataclass
class Demo:
    """The demo's resources and instance, and the alert sensor's cursor between ticks."""

    instance: dg.DagsterInstance
    warehouse: Warehouse
    alerts: SpreadAlerts
    url: str
    cursor: str | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> "Demo":
        resources = build_resources(settings, env_vars=False)
        warehouse: Warehouse = resources["warehouse"]  # type: ignore[assignment]
        alerts: SpreadAlerts = resources["alerts"]  # type: ignore[assignment]
        return cls(dagster_instance(), warehouse, alerts, warehouse.resolved_url())

    def tick_sensor(self) -> None:
        """One tick of `spread_alerts`, continuing from the cursor the last tick returned."""
        resources = {"warehouse": self.warehouse, "alerts": self.alerts}
        with dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=resources
        ) as context:
            result = spread_alerts(context)
        self.cursor = result.cursor

    def write_window(self, window_start: datetime) -> WindowOutcome:
        """Tick `ticker_windows_schedule` when it would fire for this window and run what it
        requests."""
        tick = window_start + WINDOW + LATE_WRITES_GRACE
        with dg.build_schedule_context(
            instance=self.instance, scheduled_execution_time=tick
        ) as context:
            request = ticker_windows_schedule(context)
        if isinstance(request, dg.SkipReason):
            return WindowOutcome(window_start, [], request.skip_message)
        key = str(request.partition_key)
        click.echo(f"writing window {key} as the schedule requested ...", err=True)
        run = run_job("ticker_windows", tags={**request.tags, "dagster/partition": key})
        if not run.success:
            raise click.ClickException(
                f"the run for window {key} failed; open `make dev` (Runs) for the step that failed"
            )
        return WindowOutcome(window_start, check_results(run))


def check_results(run: FinishedRun) -> list[CheckResult]:
    """The run's check evaluations in the order they ended."""
    return [
        _check_result(event.asset_check_evaluation_data)
        for event in run.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]


def _check_result(evaluation: dg.AssetCheckEvaluation) -> CheckResult:
    outcome = check_outcome(evaluation)
    result = "FAILED" if outcome == "failed" else outcome
    numbers = {
        name: entry.value
        for name, entry in evaluation.metadata.items()
        if isinstance(entry.value, int | float)
        and not isinstance(entry.value, bool)
        and entry.value
    }
    return CheckResult(evaluation.check_name, result, numbers)  # type: ignore[arg-type]


def _is_count(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
