"""`bitso ticker evaluate` and `bitso ticker alerts`, on the sensor's own cursor and tables."""

import json

import dagster as dg
import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.defs.ticker.sensors import spread_alerts
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.ticker.alert_reference import (
    expected_episodes,
    series_of,
    store_observations,
    utc,
)
from bitso_platform_tests.ticker.conftest import at


@pytest.fixture
def spike(recorded: list[Observation]) -> list[Observation]:
    return [o for o in recorded if at("23:36:00") <= o.second < at("23:46:00")]


def test_evaluate_continues_from_the_sensor_s_cursor_and_alerts_lists_episodes_as_spec_4_says(
    warehouse: Warehouse, warehouse_url: str, spike: list[Observation]
) -> None:
    half = len(spike) // 2
    ordered = sorted(spike, key=lambda o: (o.second, o.book))
    store_observations(warehouse_url, ordered[:half])
    resources = {"warehouse": warehouse, "alerts": SpreadAlerts()}
    with dg.build_sensor_context(cursor=None, resources=resources) as context:
        sensor_cursor = spread_alerts(context).cursor  # type: ignore[union-attr]
    store_observations(warehouse_url, ordered[half:])
    env = {"BITSO_WAREHOUSE_URL": warehouse_url}

    evaluated = CliRunner().invoke(main, ["ticker", "evaluate"], env=env)
    listed = CliRunner().invoke(main, ["ticker", "alerts", "--format", "json"], env=env)

    assert evaluated.exit_code == 0, evaluated.output
    assert f"ids {int(sensor_cursor or 0) + 1}.." in evaluated.output
    assert listed.exit_code == 0, listed.output
    episodes = json.loads(listed.output)
    expected = expected_episodes(series_of(spike))
    assert [set(e) for e in episodes] == [
        {"book", "threshold", "opened_at", "opening_spread", "peak_spread", "resolved_at"}
    ] * len(expected)
    assert sorted(
        (e["book"], e["threshold"], e["opened_at"], e["resolved_at"]) for e in episodes
    ) == sorted(
        (
            e.book,
            e.threshold,
            utc(e.opened_at).isoformat(),
            utc(e.resolved_at).isoformat() if e.resolved_at else None,
        )
        for e in expected
    )
    assert episodes[0]["opened_at"].endswith("+00:00")


def test_alerts_prints_a_table_and_says_so_when_there_are_none(warehouse_url: str) -> None:
    env = {"BITSO_WAREHOUSE_URL": warehouse_url}

    empty = CliRunner().invoke(main, ["ticker", "alerts"], env=env)

    assert empty.exit_code == 0 and "no alert episodes yet" in empty.output


def test_evaluate_refuses_bad_thresholds_naming_the_setting(warehouse_url: str) -> None:
    env = {"BITSO_WAREHOUSE_URL": warehouse_url, "BITSO_SPREAD_THRESHOLDS": "lots"}

    result = CliRunner().invoke(main, ["ticker", "evaluate"], env=env)

    assert result.exit_code == 2 and "BITSO_SPREAD_THRESHOLDS" in result.output
