"""What users do in the Dagster UI, done through the webserver's GraphQL API while the
daemon runs the queue, the schedules and the sensors: load the snapshots, backfill the
marts, turn the schedules and the alert sensor on against a replayed exchange feed, and
run every asset check of the code location.

Runs are launched with no run config, as from the UI: the code location's executor applies.
"""

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import psycopg
import pytest

from bitso_platform.defs.marts.catalog import MARTS
from bitso_platform.devtools.generate import END_DAY, START_DAY
from bitso_platform_tests.e2e.conftest import eventually, run_bitso, sampling
from bitso_platform_tests.e2e.graphql import Dagster

# The recorded 10-minute window holding the 11 % btc_mxn spike (23:40:44), replayed 20x
# faster than real time (30 s), and a few seconds more so the sampler closes its last second.
FEED = ("2024-07-16T23:40:00+00:00", "2024-07-16T23:50:05+00:00")
SPEED = "20"
WINDOW = "2024-07-16-23:40"  # the 10-minute window holding the replayed slice


def bitso(dagster: Dagster, *arguments: str) -> subprocess.CompletedProcess:
    return run_bitso(dagster.env, *arguments)  # type: ignore[attr-defined]


def warehouse(dagster: Dagster, role: str | None = None) -> psycopg.Connection:
    url = dagster.env["BITSO_WAREHOUSE_URL"]  # type: ignore[attr-defined]
    return psycopg.connect(url, autocommit=True, **({"user": role} if role else {}))


@pytest.fixture(scope="module")
def sampler(services: Dagster) -> Iterator[subprocess.Popen]:
    """The replay exchange serving FEED, and `bitso ticker run` sampling it at its speed."""
    env, logs = services.env, services.logs  # type: ignore[attr-defined]
    with sampling(env, logs, feed=FEED, speed=SPEED, seconds="600") as process:
        yield process


@pytest.fixture(scope="module")
def loaded(services: Dagster, sampler: subprocess.Popen) -> Dagster:
    run_id = services.launch_run(job="load_snapshots")
    assert services.wait_for_run(run_id) == "SUCCESS", f"see {services.logs}"  # type: ignore[attr-defined]
    return services


@pytest.fixture(scope="module")
def days(loaded: Dagster) -> list[str]:
    """Every UTC day from the first to the last day of generated activity (3.6 years)."""
    with warehouse(loaded) as conn:
        rows = conn.execute(
            "select generate_series(min(day), max(day), interval '1 day')::date from ("
            " select occurred_on as day from core.transactions"
            " union all select logged_in_on from core.logins) as activity"
        ).fetchall()
    return [day.isoformat() for (day,) in rows]


@pytest.fixture(scope="module")
def backfill(loaded: Dagster, days: list[str]) -> str:
    """The marts backfill over `days`, launched right after the load; tests wait for it."""
    marts = loaded.asset_keys("marts")
    return loaded.launch_backfill(marts, days)


def test_the_schedules_turn_on_and_their_ticks_request_the_expected_runs(
    loaded: Dagster,
    backfill: str,  # launched first, so the daemon builds the marts while the feed is checked
) -> None:
    ticks = {
        "daily_snapshot_refresh": (datetime(2024, 3, 1, 0, 15, tzinfo=UTC), None),
        "daily_marts_schedule": (datetime(2024, 3, 1, 1, 0, tzinfo=UTC), "2024-02-29"),
        "segments_audit_schedule": (datetime(2024, 3, 1, 2, 0, tzinfo=UTC), "2024-02-29"),
        "ticker_windows_schedule": (datetime(2024, 7, 16, 23, 52, tzinfo=UTC), WINDOW),
    }
    for name, (tick, partition) in ticks.items():
        assert loaded.start_schedule(name) == "RUNNING"
        requests = loaded.schedule_dry_run(name, tick.timestamp())
        tags = [{t["key"]: t["value"] for t in request["tags"]} for request in requests]
        assert [t.get("dagster/partition") for t in tags] == [partition], name
    assert loaded.daemon_health()["SCHEDULER"]


def test_the_alert_sensor_ticks_in_the_daemon_and_raises_alerts_from_the_replayed_feed(
    loaded: Dagster, sampler: subprocess.Popen
) -> None:
    assert loaded.start_sensor("spread_alerts") == "RUNNING"
    assert sampler.wait(timeout=120) == 0, f"see {loaded.logs}/sampler.log"  # type: ignore[attr-defined]
    health = bitso(loaded, "ticker", "health", "--max-age", "600")
    assert health.returncode == 0, health.stderr

    def spike_alert() -> dict[str, Any] | None:
        listed = bitso(loaded, "ticker", "alerts", "--format", "json")
        episodes = json.loads(listed.stdout) if listed.returncode == 0 else []
        return next((e for e in episodes if e["book"] == "btc_mxn" and e["threshold"] == 1.0), None)

    episode = eventually(spike_alert, "a 1 % btc_mxn alert from the sensor")
    assert episode["peak_spread"] > 11
    assert episode["opened_at"].startswith("2024-07-16T23:40")
    ticks = loaded.sensor_ticks("spread_alerts")
    assert any(int(tick["cursor"] or 0) > 0 for tick in ticks)


def test_the_window_the_schedule_requests_is_written_to_the_lake(
    loaded: Dagster, sampler: subprocess.Popen
) -> None:
    assert sampler.wait(timeout=120) == 0
    run_id = loaded.launch_run(job="ticker_windows", tags={"dagster/partition": WINDOW})
    assert loaded.wait_for_run(run_id) == "SUCCESS", f"see {loaded.logs}"  # type: ignore[attr-defined]
    bucket, prefix = loaded.env["BITSO_LAKE_URL"].removeprefix("s3://").split("/", 1)  # type: ignore[attr-defined]
    s3 = boto3.client("s3", endpoint_url=loaded.env["BITSO_S3_ENDPOINT_URL"])  # type: ignore[attr-defined]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/ticker_spread/book=btc_mxn/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert any("date=2024-07-16/hour=23/minute=40/" in key for key in keys), keys


def test_a_backfill_of_the_marts_over_every_generated_day_runs_each_mart_once_over_the_range(
    loaded: Dagster, backfill: str, days: list[str]
) -> None:
    # The running marts run apart from the rest, one run each over every day (see docs/marts.md).
    assert loaded.wait_for_backfill(backfill).startswith("COMPLETED")
    runs = loaded.backfill_runs(backfill, days[0], days[-1])

    assert days[0] == START_DAY.isoformat() and days[-1] == END_DAY.isoformat()
    assert 1 <= len(runs) <= len(MARTS)  # each run covers every day: never a run per day
    for run in runs:
        assert run["status"] == "SUCCESS", loaded.failures(run["runId"])
    with warehouse(loaded) as conn:
        built = conn.execute("select min(day), max(day), count(*) from marts.daily_kpis").fetchone()
    assert built is not None and built[2] > 0
    assert (built[0].isoformat(), built[1].isoformat()) == (days[0], days[-1])
    assert all(passed for run in runs for _, _, passed in loaded.check_results(run["runId"]))


def test_every_asset_check_of_the_code_location_passes(
    loaded: Dagster, backfill: str, days: list[str]
) -> None:
    # The backfill evaluated the marts' checks over every day (its test asserts they pass);
    # here they run on their own, as from the UI's checks tab, over the last month.
    loaded.wait_for_backfill(backfill)
    checks = loaded.asset_checks()
    groups: dict[str, list[tuple[list[str], str]]] = {}
    for check in checks:
        kind = {"marts": "marts", "lake": "ticker"}.get(check[0][0], "unpartitioned")
        groups.setdefault(kind, []).append(check)
    tags = {
        "marts": {
            "dagster/asset_partition_range_start": days[-31],
            "dagster/asset_partition_range_end": days[-1],
        },
        "ticker": {"dagster/partition": WINDOW},
        "unpartitioned": {},
    }
    runs = [
        loaded.launch_run(assets=[], checks=group, tags=tags[kind])
        for kind, group in groups.items()
    ]

    results = []
    for run_id in runs:
        assert loaded.wait_for_run(run_id) == "SUCCESS", loaded.failures(run_id)
        results += loaded.check_results(run_id)
    # Every check evaluated (a mart's once per day of the month), and every evaluation passed.
    assert {(asset, name) for asset, name, _ in results} == {
        ("/".join(path), name) for path, name in checks
    }
    assert [r for r in results if not r[2]] == []
    assert set(groups) == {"marts", "ticker", "unpartitioned"}


def test_the_team_roles_are_granted_after_the_build_and_read_only_their_marts(
    loaded: Dagster, backfill: str
) -> None:
    loaded.wait_for_backfill(backfill)

    def granted() -> bool:
        try:  # on a new server the role exists only once the sensor has run the asset
            conn = warehouse(loaded, "marketing_reader")
        except psycopg.OperationalError:
            return False
        with conn:
            try:
                conn.execute("select count(*) from marts.deposit_ordinals")
                conn.execute("select count(*) from core.users")
            except psycopg.errors.InsufficientPrivilege:
                return False
        return True

    eventually(granted, "the access_roles_automation sensor re-applies the grants", timeout=120)
    with warehouse(loaded, "marketing_reader") as conn:
        for private in ("raw.users", "raw.quarantine", "marts.daily_balances"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select count(*) from {private}")
