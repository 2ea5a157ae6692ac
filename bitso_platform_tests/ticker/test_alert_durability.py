"""Killing the evaluator, the sampler or the database connections loses and repeats nothing.

After every scenario the stored episodes must equal the independent reference computed over
whatever observations were stored, and every alert event must be queued exactly once per
sink (the outbox's idempotency keys).
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from bitso_platform.defs.ticker.sensors import spread_alerts
from bitso_platform.devtools.replay import Observation, ReplayThread
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.alert_evaluator import APPLICATION_NAME
from bitso_platform_tests.ticker.alert_reference import (
    expected_episodes,
    expected_keys,
    notification_keys,
    series_of,
    store_observations,
    stored_episodes,
    stored_series,
)
from bitso_platform_tests.ticker.conftest import at

BITSO = str(Path(sys.executable).parent / "bitso")
SPEED = 20


@pytest.fixture
def spike(recorded: list[Observation]) -> list[Observation]:
    return sorted(
        (o for o in recorded if at("23:36:00") <= o.second < at("23:46:00")),
        key=lambda o: (o.second, o.book),
    )


@pytest.fixture
def processes() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Starts `bitso` subprocesses; any still running after the test is killed (by PID)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*arguments: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [BITSO, *arguments],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def tick(warehouse: Warehouse, cursor: str | None) -> str | None:
    with dg.build_sensor_context(
        cursor=cursor, resources={"warehouse": warehouse, "alerts": SpreadAlerts()}
    ) as context:
        return spread_alerts(context).cursor  # type: ignore[union-attr]


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def evaluators(url: str, *, waiting_on_lock: bool = False) -> int:
    """Sessions of the alert evaluator on this database (optionally: blocked on a lock)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and application_name = %s and (not %s or wait_event_type = 'Lock')",
            [APPLICATION_NAME, waiting_on_lock],
        ).fetchone()
    return int(row[0]) if row else 0


def terminate_sessions(url: str, application: str | None = None) -> int:
    """pg_terminate_backend on every other session of the database (or one application's)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return len(
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where datname = current_database() and pid <> pg_backend_pid()"
                " and (%s::text is null or application_name = %s)",
                [application, application],
            ).fetchall()
        )


def max_observation_id(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select coalesce(max(observation_id), 0) from ticker.spread_observations"
        )
        return int(row.fetchone()[0])  # type: ignore[index]


def assert_matches_reference(url: str) -> None:
    """Episodes and queued notifications equal the reference over the stored observations."""
    expected = expected_episodes(stored_series(url))
    assert expected, "the scenario should raise alerts"
    assert stored_episodes(url) == expected
    assert notification_keys(url, "log") == expected_keys(expected)


class BlockedPass:
    """Holds the lock on one episode-state row, so an evaluation pass that reaches it (after
    writing its episodes and notifications, before its commit) waits there."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(url)

    def __enter__(self) -> "BlockedPass":
        self.conn.execute(
            "select * from ticker.spread_alert_state"
            " where book = 'btc_mxn' and threshold = 0.1 for update"
        ).fetchall()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.conn.rollback()
        self.conn.close()


def test_killing_the_evaluate_process_mid_pass_commits_nothing_and_the_next_pass_repeats_nothing(
    warehouse_url: str, spike: list[Observation], processes: Callable[..., subprocess.Popen[bytes]]
) -> None:
    half = len(spike) // 2
    store_observations(warehouse_url, spike[:half])
    SpreadAlerts().evaluator(warehouse_url).run_pass()
    store_observations(warehouse_url, spike[half:])
    before = stored_episodes(warehouse_url)

    with BlockedPass(warehouse_url):
        evaluate = processes("ticker", "evaluate", env={"BITSO_WAREHOUSE_URL": warehouse_url})
        wait_for(lambda: evaluators(warehouse_url, waiting_on_lock=True) == 1, what="the pass")
        evaluate.send_signal(signal.SIGKILL)
        evaluate.wait()
    wait_for(lambda: evaluators(warehouse_url) == 0, what="the killed session to end")

    assert stored_episodes(warehouse_url) == before  # the killed pass committed nothing
    SpreadAlerts().evaluator(warehouse_url).run_pass()
    assert stored_episodes(warehouse_url) == expected_episodes(series_of(spike))
    assert_matches_reference(warehouse_url)


def test_evaluate_processes_killed_at_any_moment_between_passes_lose_and_repeat_nothing(
    warehouse_url: str, spike: list[Observation], processes: Callable[..., subprocess.Popen[bytes]]
) -> None:
    env = {"BITSO_WAREHOUSE_URL": warehouse_url}
    thirds = len(spike) // 3 + 1
    for part, kill_after in enumerate((0.5, None, 4.0)):
        store_observations(warehouse_url, spike[part * thirds : (part + 1) * thirds])
        evaluate = processes("ticker", "evaluate", env=env)
        if kill_after is None:
            assert evaluate.wait(timeout=60) == 0
        else:
            time.sleep(kill_after)
            evaluate.kill()
            evaluate.wait()
        wait_for(lambda: evaluators(warehouse_url) == 0, what="the evaluator session to end")

    SpreadAlerts().evaluator(warehouse_url).run_pass()
    assert stored_episodes(warehouse_url) == expected_episodes(series_of(spike))
    assert_matches_reference(warehouse_url)


def sampler_env(url: str, exchange: ReplayThread) -> dict[str, str]:
    return {
        "BITSO_WAREHOUSE_URL": url,
        "BITSO_API_URL": exchange.api_url,
        "BITSO_WS_URL": exchange.ws_url,
        "BITSO_BOOKS": "btc_mxn,usd_mxn",
    }


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as an operator would: the sampler writes what it sampled and exits."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_killing_the_sampler_mid_feed_loses_no_alert_and_repeats_none(
    warehouse: Warehouse,
    warehouse_url: str,
    replay: Callable[..., ReplayThread],
    fixture_slice: Callable[[int, int], list[Observation]],
    processes: Callable[..., subprocess.Popen[bytes]],
) -> None:
    exchange = replay(fixture_slice(at("23:39:30"), 330), speed=SPEED)
    env = sampler_env(warehouse_url, exchange)
    first = processes("ticker", "run", "--speed", str(SPEED), env=env)
    cursor = None
    wait_for(lambda: exchange.stats().seconds_published > 90, what="the feed to pass the spike")
    cursor = tick(warehouse, cursor)
    first.kill()  # SIGKILL: whatever it had not flushed is gone
    first.wait()
    second = processes("ticker", "run", "--speed", str(SPEED), env=env)
    while not exchange.wait_finished(timeout=1):
        cursor = tick(warehouse, cursor)
    stop(second)
    tick(warehouse, cursor)

    seconds = {second for points in stored_series(warehouse_url).values() for second, _ in points}
    assert len(seconds) < 330  # the kill left a hole in the record
    assert_matches_reference(warehouse_url)


def test_terminating_the_database_sessions_between_and_during_passes_loses_and_repeats_nothing(
    warehouse: Warehouse,
    warehouse_url: str,
    replay: Callable[..., ReplayThread],
    fixture_slice: Callable[[int, int], list[Observation]],
    processes: Callable[..., subprocess.Popen[bytes]],
) -> None:
    exchange = replay(fixture_slice(at("23:39:30"), 330), speed=SPEED)
    sampler = processes(
        "ticker", "run", "--speed", str(SPEED), env=sampler_env(warehouse_url, exchange)
    )
    wait_for(lambda: exchange.stats().seconds_published > 60, what="the feed")
    cursor = tick(warehouse, None)
    wait_for(lambda: max_observation_id(warehouse_url) > int(cursor or 0), what="new rows")
    failures: list[BaseException] = []

    with BlockedPass(warehouse_url):  # a pass that is killed by pg_terminate_backend mid-way
        blocked = threading.Thread(target=_catching(lambda: tick(warehouse, cursor), failures))
        blocked.start()
        wait_for(lambda: evaluators(warehouse_url, waiting_on_lock=True) == 1, what="the pass")
        assert terminate_sessions(warehouse_url, APPLICATION_NAME) == 1
        blocked.join(timeout=30)
    assert failures and isinstance(failures[0], psycopg.OperationalError)

    terminated = 0
    while not exchange.wait_finished(timeout=1):
        terminated += terminate_sessions(warehouse_url)  # the sampler's, between passes
        cursor = tick(warehouse, cursor)
    stop(sampler)
    tick(warehouse, cursor)

    assert terminated >= 3
    assert_matches_reference(warehouse_url)


def _catching(function: Callable[[], object], failures: list[BaseException]) -> Callable[[], None]:
    def run() -> None:
        try:
            function()
        except BaseException as exc:
            failures.append(exc)

    return run
