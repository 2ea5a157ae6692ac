"""The spread alert sensor, one scenario per test, with `dg.build_sensor_context(cursor=...)`."""

import threading
import time
from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest

from bitso_platform.defs.ticker.sensors import spread_alerts
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.ticker.alert_reference import (
    expected_episodes,
    expected_keys,
    notification_keys,
    series_of,
    store_observations,
    stored_episodes,
)
from bitso_platform_tests.ticker.conftest import at


def tick(warehouse: Warehouse, cursor: str | None, **alerts: object) -> dg.SensorResult:
    """One sensor evaluation as the daemon would run it."""
    resources = {"warehouse": warehouse, "alerts": SpreadAlerts(**alerts)}
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        result = spread_alerts(context)
    assert isinstance(result, dg.SensorResult)
    return result


def max_observation_id(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("select max(observation_id) from ticker.spread_observations")
        return int(row.fetchone()[0])  # type: ignore[index]


@pytest.fixture
def spike(recorded: list[Observation]) -> list[Observation]:
    """Ten minutes around btc_mxn's 11 % spike at 23:40:44 (episodes at every threshold)."""
    return [o for o in recorded if at("23:36:00") <= o.second < at("23:46:00")]


def test_a_tick_persists_the_episodes_requests_no_run_and_returns_the_postgres_cursor(
    warehouse: Warehouse, warehouse_url: str, spike: list[Observation]
) -> None:
    store_observations(warehouse_url, spike)

    result = tick(warehouse, cursor=None)

    assert result.run_requests == []
    assert result.cursor == str(max_observation_id(warehouse_url))
    assert stored_episodes(warehouse_url) == expected_episodes(series_of(spike))
    assert "opened" in (result.skip_reason.skip_message or "")  # type: ignore[union-attr]


def test_a_tick_with_nothing_new_keeps_the_cursor_and_changes_nothing(
    warehouse: Warehouse, warehouse_url: str, spike: list[Observation]
) -> None:
    store_observations(warehouse_url, spike)
    first = tick(warehouse, cursor=None)

    second = tick(warehouse, cursor=first.cursor)

    assert second.cursor == first.cursor
    assert notification_keys(warehouse_url) == expected_keys(stored_episodes(warehouse_url))


def test_a_stale_dagster_cursor_repeats_nothing_because_postgres_holds_the_real_one(
    warehouse: Warehouse, warehouse_url: str, spike: list[Observation]
) -> None:
    """A tick that committed in Postgres but crashed before Dagster stored its cursor."""
    half = len(spike) // 2
    store_observations(warehouse_url, spike[:half])
    tick(warehouse, cursor=None)  # committed; pretend Dagster never saw the new cursor
    store_observations(warehouse_url, spike[half:])

    result = tick(warehouse, cursor=None)

    assert result.cursor == str(max_observation_id(warehouse_url))
    expected = expected_episodes(series_of(spike))
    assert stored_episodes(warehouse_url) == expected
    assert notification_keys(warehouse_url) == expected_keys(expected)


def test_an_observation_committed_late_under_a_lower_id_is_not_skipped(
    warehouse: Warehouse, warehouse_url: str, spike: list[Observation]
) -> None:
    """Ids are handed out at insert and become visible at commit: the tick waits for
    in-flight inserts, so it never moves its cursor past an id that commits later."""
    store_observations(warehouse_url, spike)
    cursor = tick(warehouse, cursor=None).cursor
    late = datetime.fromtimestamp(at("23:47:00"), UTC)
    with psycopg.connect(warehouse_url) as slow, psycopg.connect(warehouse_url) as fast:
        insert = (
            "insert into ticker.spread_observations (orderbook_timestamp, book, bid, ask, spread,"
            " source, exchange_at, received_at, is_gap, is_crossed)"
            " values (%s, %s, 100, 150, 33.333333333333336, 'ws', %s, %s, false, false)"
        )
        slow.execute(insert, [late, "btc_mxn", late, late])  # lower id, not committed yet
        fast.execute(insert, [late, "usd_mxn", late, late])
        fast.commit()
        results: list[dg.SensorResult] = []
        evaluating = threading.Thread(target=lambda: results.append(tick(warehouse, cursor)))
        evaluating.start()
        time.sleep(0.5)
        slow.commit()
        evaluating.join(timeout=30)

    assert results[0].cursor == str(max_observation_id(warehouse_url))
    opened = {
        (e.book, e.threshold)
        for e in stored_episodes(warehouse_url)
        if e.opened_at >= at("23:47:00")
    }
    assert opened == {("btc_mxn", t) for t in (0.1, 0.5, 1.0)} | {
        ("usd_mxn", t) for t in (0.1, 0.5, 1.0)
    }


def test_a_tick_that_cannot_get_past_a_long_insert_evaluates_nothing_and_loses_nothing(
    warehouse: Warehouse, warehouse_url: str, spike: list[Observation]
) -> None:
    store_observations(warehouse_url, spike)
    with psycopg.connect(warehouse_url) as writer:
        writer.execute("lock table ticker.spread_observations in row exclusive mode")

        blocked = tick(warehouse, cursor=None)  # waits 2 s for the writer, then gives up

    assert blocked.cursor == "0"
    assert "busy" in (blocked.skip_reason.skip_message or "")  # type: ignore[union-attr]
    after = tick(warehouse, cursor=blocked.cursor)
    assert after.cursor == str(max_observation_id(warehouse_url))
    assert stored_episodes(warehouse_url) == expected_episodes(series_of(spike))


def test_an_invalid_threshold_setting_fails_the_tick_with_the_syntax(
    warehouse: Warehouse, warehouse_url: str
) -> None:
    with pytest.raises(ValueError, match="BITSO_SPREAD_THRESHOLDS"):
        tick(warehouse, cursor=None, thresholds="one,two")
