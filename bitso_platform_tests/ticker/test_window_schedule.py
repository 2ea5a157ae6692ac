"""The window schedule: off in local development, on where a sampler is deployed."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from bitso_platform.definitions import defs
from bitso_platform.defs.ticker.schedules import ticker_windows_schedule, windows_schedule_status
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.lake import Lake
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.ticker.alert_reference import store_observations
from bitso_platform_tests.ticker.conftest import at
from bitso_platform_tests.ticker.test_spread_windows import EVERYTHING, checks_of, resources_for

TICK = datetime(2024, 7, 16, 23, 32, tzinfo=UTC)  # writes the window 23:20


def evaluate() -> dg.RunRequest | dg.SkipReason:
    return ticker_windows_schedule(dg.build_schedule_context(scheduled_execution_time=TICK))


def test_in_local_development_the_schedule_is_off_so_no_window_of_now_is_requested(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The code location of `make dev` reads no BITSO_TICKER_WINDOWS_SCHEDULE: the daemon does
    # not tick a stopped schedule, whatever rows `bitso ticker demo` replayed.
    monkeypatch.delenv("BITSO_TICKER_WINDOWS_SCHEDULE", raising=False)
    schedule = defs().resolve_schedule_def("ticker_windows_schedule")

    assert windows_schedule_status() == dg.DefaultScheduleStatus.STOPPED
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_in_a_deployment_a_sampler_that_stopped_gets_its_window_written_with_failing_checks(
    monkeypatch: pytest.MonkeyPatch,
    warehouse: Warehouse,
    recorded: list[Observation],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("BITSO_TICKER_WINDOWS_SCHEDULE", "running")
    sampled = [o for o in recorded if at("22:30:00") <= o.second < at("22:30:05")]
    store_observations(warehouse.resolved_url(), sampled)  # then the sampler died

    request = evaluate()
    result = dg.materialize(
        EVERYTHING,
        resources=resources_for(warehouse, Lake(url=str(tmp_path / "lake"))),
        partition_key=request.partition_key,
    )

    assert windows_schedule_status() == dg.DefaultScheduleStatus.RUNNING
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2024-07-16-23:20"
    assert not checks_of(result)["six_hundred_records_per_book"].passed
