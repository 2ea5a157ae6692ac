"""The window schedule in local development (embedded warehouse) and in a deployment."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pgserver
import pytest

from bitso_platform.defs.ticker.schedules import ticker_windows_schedule
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.ticker.alert_reference import store_observations
from bitso_platform_tests.ticker.conftest import at

TICK = datetime(2024, 7, 16, 23, 32, tzinfo=UTC)  # writes the window 23:20


@pytest.fixture(scope="module")
def embedded_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh embedded server, as `make dev` starts one under the state folder."""
    folder = tmp_path_factory.mktemp("embedded-dev")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    yield folder
    server.cleanup()


def evaluate(warehouse: Warehouse) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_schedule_context(
        scheduled_execution_time=TICK, resources={"warehouse": warehouse}
    )
    return ticker_windows_schedule(context)


def test_in_local_development_no_window_is_written_before_any_sampler_ever_recorded(
    embedded_dir: Path,
) -> None:
    skipped = evaluate(Warehouse(url="", embedded_dir=str(embedded_dir)))

    assert isinstance(skipped, dg.SkipReason)
    assert "no sampler has ever recorded" in (skipped.skip_message or "")
    assert "bitso ticker run" in (skipped.skip_message or "")


def test_in_local_development_a_sampler_that_recorded_once_and_died_still_gets_its_windows(
    embedded_dir: Path, recorded: list[Observation]
) -> None:
    warehouse = Warehouse(url="", embedded_dir=str(embedded_dir))
    store_observations(
        warehouse.resolved_url(),
        [o for o in recorded if at("22:30:00") <= o.second < at("22:30:05")],
    )

    request = evaluate(warehouse)

    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2024-07-16-23:20"


def test_in_a_deployment_a_sampler_that_never_recorded_still_gets_its_windows_written(
    warehouse: Warehouse,
) -> None:
    request = evaluate(warehouse)

    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2024-07-16-23:20"
