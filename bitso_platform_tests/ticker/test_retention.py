"""Retention: a day leaves Postgres only once every window of it is in the lake with stats."""

from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from bitso_platform.defs.ticker.retention import ticker_retention
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.lake import Lake
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.records import SpreadRecord
from bitso_platform.ticker.store import ObservationStore, stored_days
from bitso_platform_tests.ticker.alert_reference import store_observations
from bitso_platform_tests.ticker.conftest import at
from bitso_platform_tests.ticker.test_spread_windows import EVERYTHING, resources_for

FIXTURE_DAY = date(2024, 7, 16)  # the fixture's windows: 22:20 to 23:50


@pytest.fixture
def stored(warehouse_url: str, recorded: list[Observation]) -> list[Observation]:
    """The fixture's first day (22:20 to midnight) as the sampler stored it."""
    day = [o for o in recorded if o.second < at("23:59:59") + 1]
    store_observations(warehouse_url, day)
    return day


def retain(instance: dg.DagsterInstance, warehouse: Warehouse, days: int = 30) -> dict:
    result = ticker_retention.execute_in_process(
        instance=instance,
        resources={"warehouse": warehouse},
        run_config={"ops": {"drop_expired_observation_days": {"config": {"retention_days": days}}}},
    )
    assert result.success
    output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT")
    return {key: value.value for key, value in output.step_output_data.metadata.items()}


def rows_of(url: str, day: date) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select count(*) from ticker.spread_observations where orderbook_timestamp::date = %s",
            [day],
        ).fetchone()
    return int(row[0]) if row else 0


def test_an_expired_day_is_dropped_only_after_all_its_windows_are_in_the_lake_with_stats(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path, stored: list[Observation]
) -> None:
    instance = dg.DagsterInstance.ephemeral()

    before = retain(instance, warehouse)
    assert before["dropped_days"] == "none"
    assert "10 windows not yet in the lake" in before["kept_unproven_days"]["2024-07-16"]
    assert rows_of(warehouse_url, FIXTURE_DAY) == len(stored)

    dg.materialize(
        EVERYTHING,
        instance=instance,
        resources=resources_for(warehouse, Lake(url=str(tmp_path / "lake"))),
        tags={
            "dagster/asset_partition_range_start": "2024-07-16-22:20",
            "dagster/asset_partition_range_end": "2024-07-16-23:50",
        },
    )
    after = retain(instance, warehouse)

    assert after["dropped_days"] == "2024-07-16"
    assert rows_of(warehouse_url, FIXTURE_DAY) == 0
    with psycopg.connect(warehouse_url) as conn:
        days = stored_days(conn)
    assert FIXTURE_DAY not in days and date(2024, 7, 17) in days  # no window of it written


def test_a_day_within_the_retention_is_kept_even_when_its_windows_are_written(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path, stored: list[Observation]
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize(
        EVERYTHING,
        instance=instance,
        resources=resources_for(warehouse, Lake(url=str(tmp_path / "lake"))),
        partition_key="2024-07-16-23:50",
    )

    kept = retain(instance, warehouse, days=3650)

    assert kept["dropped_days"] == "none"
    assert rows_of(warehouse_url, FIXTURE_DAY) == len(stored)


def test_a_day_with_observations_before_the_first_window_is_never_dropped(
    warehouse: Warehouse, warehouse_url: str
) -> None:
    """Seconds before BITSO_TICKER_PARTITIONS_START have no lake window to be kept in."""
    store = ObservationStore(warehouse_url)
    store.write([SpreadRecord.gap(int(at("22:20:00")) - 3600, "btc_mxn")])
    store.close()

    kept = retain(dg.DagsterInstance.ephemeral(), warehouse)

    assert "observations before the first window" in kept["kept_unproven_days"]["2024-07-16"]
    assert rows_of(warehouse_url, FIXTURE_DAY) == 1
