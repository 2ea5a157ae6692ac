"""What the Dagster UI shows after a range run: each day's own metadata and check status."""

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql
from psycopg import sql

import bitso_platform.definitions
from bitso_platform.dagster_storage import EVENT_BATCH_SIZE
from bitso_platform.definitions import defs
from bitso_platform_tests.marts import world

FIRST, LAST = world.BURST_DAY - timedelta(days=1), world.BURST_DAY + timedelta(days=1)
DAYS = [(FIRST + timedelta(days=n)).isoformat() for n in range((LAST - FIRST).days + 1)]
MOVEMENTS = dg.AssetKey(["marts", "daily_movements"])

CHECK_STATUSES = """
query($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            partitionStatuses {
              ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } }
            }
          }
        }
      }
    }
  }
}
"""


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch, dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    """The instance as deployed: Postgres storage, events written in batches."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        yield instance


def run_range(monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance, url: str) -> bool:
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", url)
    tags = {
        "dagster/asset_partition_range_start": FIRST.isoformat(),
        "dagster/asset_partition_range_end": LAST.isoformat(),
    }
    job = defs().resolve_job_def("daily_marts")
    return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False).success


def day_metadata(instance: dg.DagsterInstance, key: dg.AssetKey, day: str) -> dict[str, object]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
    ).records
    materialization = records[0].asset_materialization
    assert materialization
    return {name: value.value for name, value in materialization.metadata.items()}


def check_statuses(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, list[tuple]]:
    """Per check, the UI's (first day, last day, status) ranges."""
    definitions = str(Path(bitso_platform.definitions.__file__))
    with define_out_of_process_context(definitions, "defs", instance) as context:
        result = execute_dagster_graphql(
            context, CHECK_STATUSES, variables={"assetKey": {"path": key.path}}
        )
    checks = result.data["assetNodeOrError"]["assetChecksOrError"]["checks"]
    return {
        check["name"]: [
            (status["startKey"], status["endKey"], status["status"])
            for status in check["partitionStatuses"]["ranges"]
        ]
        for check in checks
    }


def rows_on(url: str, table: str, day: str) -> int:
    with psycopg.connect(url) as conn:
        query = sql.SQL("select count(*) from {} where day = %s").format(
            sql.Identifier("marts", table)
        )
        row = conn.execute(query, [date.fromisoformat(day)]).fetchone()
    return row[0] if row else 0


def test_each_day_of_a_range_run_carries_its_own_row_count_not_the_ranges(
    monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance, built_url: str
) -> None:
    assert run_range(monkeypatch, instance, built_url)
    for table in ("daily_movements", "daily_logins", "daily_kpis", "daily_user_features"):
        counts = [rows_on(built_url, table, day) for day in DAYS]
        shown = [
            day_metadata(instance, dg.AssetKey(["marts", table]), day).get("dagster/row_count")
            for day in DAYS
        ]
        assert shown == counts, table
    segments = day_metadata(instance, dg.AssetKey(["marts", "user_segments"]), DAYS[0])
    assert "dagster/row_count" not in segments  # a view stores no rows


def test_the_ui_shows_each_day_of_a_range_run_passed_or_failed_as_its_check_found_it(
    monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance, built_url: str
) -> None:
    with psycopg.connect(built_url) as conn:
        # Sabotage below the SQL, on one day of the range: a deposit too many on that day.
        conn.execute(
            "create function marts.inflate() returns trigger language plpgsql as $$ begin"
            f" if new.day = '{world.BURST_DAY}' then new.count_deposits := new.count_deposits + 1;"
            " end if; return new; end $$"
        )
        conn.execute(
            "create trigger inflate before insert on marts.daily_movements"
            " for each row execute function marts.inflate()"
        )

    assert not run_range(monkeypatch, instance, built_url)

    statuses = check_statuses(instance, MOVEMENTS)
    burst = world.BURST_DAY.isoformat()
    assert statuses == {
        "keys_unique": [(DAYS[0], DAYS[-1], "SUCCEEDED")],
        "counts_not_negative": [(DAYS[0], DAYS[-1], "SUCCEEDED")],
        "reconciles_with_core": [
            (DAYS[0], DAYS[0], "SUCCEEDED"),
            (burst, burst, "FAILED"),
            (DAYS[-1], DAYS[-1], "SUCCEEDED"),
        ],
    }
