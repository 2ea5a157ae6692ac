"""Running totals continue from earlier days: declared to Dagster, and honoured by `bitso build`."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.definitions import defs
from bitso_platform_tests.marts import world
from bitso_platform_tests.marts.test_build import MARTS, day_rows

RUNNING = {"daily_balances", "daily_user_status", "daily_user_features"}


def build(monkeypatch: pytest.MonkeyPatch, home: Path, url: str, first: date, last: date):
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", url)
    return CliRunner().invoke(main, ["build", "--from", str(first), "--to", str(last)])


def test_running_totals_depend_on_their_own_previous_day_and_nothing_else_does() -> None:
    graph = defs().resolve_asset_graph()
    marts = [key for key in graph.get_all_asset_keys() if key.path[0] == "marts"]
    assert {key.path[1] for key in marts if graph.get(key).has_self_dependency} == RUNNING
    for table in RUNNING:
        key = dg.AssetKey(["marts", table])
        mapping = graph.get_partition_mapping(key, key)
        assert mapping == dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)


def test_a_later_range_on_a_fresh_warehouse_builds_from_the_first_unbuilt_day(
    monkeypatch: pytest.MonkeyPatch, dagster_home: Path, loaded_url: str, built_url: str
) -> None:
    first, last = world.BURST_DAY, world.BURST_DAY + timedelta(days=9)
    result = build(monkeypatch, dagster_home, loaded_url, first, last)
    assert result.exit_code == 0, result.output
    assert f"{world.FIRST_DAY} is not built yet" in result.output
    assert f"building from {world.FIRST_DAY} instead" in result.output
    with psycopg.connect(loaded_url) as later, psycopg.connect(built_url) as full:
        for day in (first + timedelta(days=n) for n in range(10)):
            for table in (*MARTS, "daily_user_features", "user_segments"):
                assert day_rows(later, table, day) == day_rows(full, table, day), (table, day)


def test_a_range_after_built_days_starts_where_asked(
    monkeypatch: pytest.MonkeyPatch, dagster_home: Path, loaded_url: str
) -> None:
    world.build(loaded_url, world.FIRST_DAY, world.BURST_DAY - timedelta(days=1))
    result = build(monkeypatch, dagster_home, loaded_url, world.BURST_DAY, world.BURST_DAY)
    assert result.exit_code == 0, result.output
    assert "not built yet" not in result.output
    assert f"days {world.BURST_DAY}..{world.BURST_DAY}" in result.output
