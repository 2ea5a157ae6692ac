"""PooledPostgresStorage records a partition-range run exactly as stock dagster-postgres does.

The same single-run backfill (a partitioned asset and its check over five days) runs on an
instance with each storage, in databases of their own on the test server; what Dagster reads
back (materialized partitions, planned events, check executions, the asset record) is the same.
"""

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from bitso_platform.cli.runtime import dagster_instance, local_dagster_home
from bitso_platform.dagster_storage import (
    BatchingPostgresEventLogStorage,
    EmbeddedPostgresStorage,
    PooledPostgresStorage,
    embedded_instance_url,
)

DAYS = dg.DailyPartitionsDefinition(start_date="2023-01-01", end_date="2023-01-06")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def days(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset_check(asset=days, partitions_def=DAYS)
def days_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


JOB = dg.Definitions(
    assets=[days],
    asset_checks=[days_positive],
    jobs=[dg.define_asset_job("days_job", selection=[days.key])],
).resolve_job_def("days_job")
RANGE = {
    "dagster/asset_partition_range_start": "2023-01-01",
    "dagster/asset_partition_range_end": "2023-01-05",
}


def _url(conninfo: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    base = make_url("postgresql://")
    return base.set(
        username=str(params.get("user", "postgres")),
        host=str(params.get("host", "127.0.0.1")),
        port=int(params.get("port", 5432)),
        database=str(params["dbname"]),
    ).render_as_string(hide_password=False)


@contextmanager
def _instance(tmp_path: Path, storage: dict) -> Iterator[dg.DagsterInstance]:
    config = {"telemetry": {"enabled": False}, "storage": storage}
    tmp_path.mkdir()
    (tmp_path / "dagster.yaml").write_text(json.dumps(config))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        yield instance


def _recorded(instance: dg.DagsterInstance) -> dict[str, object]:
    """What Dagster reads back about the run: the same for both storages."""
    run_id = JOB.execute_in_process(instance=instance, tags=RANGE).run_id
    latest = instance.get_latest_materialization_event(days.key)
    check_key = dg.AssetCheckKey(days.key, "days_positive")
    executions = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=100)
    with psycopg.connect(instance.get_ref().storage_data.config_dict["postgres_url"]) as conn:
        planned = conn.execute(
            "select partition, run_id = %s from event_logs"
            " where dagster_event_type = 'ASSET_MATERIALIZATION_PLANNED' order by 1",
            [run_id],
        ).fetchall()
        checks = conn.execute(
            "select partition, execution_status from asset_check_executions order by 1"
        ).fetchall()
    return {
        "materialized": sorted(instance.get_materialized_partitions(days.key)),
        "planned": planned,
        "latest_partition": latest.dagster_event.partition if latest else None,
        "latest_metadata": latest.asset_materialization.metadata["days"].value if latest else None,
        "last_run": instance.get_asset_records([days.key])[0].asset_entry.last_run_id == run_id,
        "check_executions": len(executions),
        "check_rows": checks,
    }


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "10000")


@pytest.mark.usefixtures("batches")
def test_records_a_range_run_like_dagster_postgres(
    new_database_url: Callable[[], str], tmp_path: Path
) -> None:
    stock = {"postgres": {"postgres_url": _url(new_database_url())}}
    pooled = {
        "custom": {
            "module": "bitso_platform.dagster_storage",
            "class": "PooledPostgresStorage",
            "config": {"postgres_url": _url(new_database_url())},
        }
    }
    with _instance(tmp_path / "stock", stock) as instance:
        expected = _recorded(instance)
    with _instance(tmp_path / "pooled", pooled) as instance:
        assert isinstance(instance.event_log_storage, BatchingPostgresEventLogStorage)
        assert _recorded(instance) == expected
    assert expected["materialized"] == [f"2023-01-0{day}" for day in range(1, 6)]
    assert expected["planned"] == [(day, True) for day in expected["materialized"]]
    assert expected["latest_partition"] == "2023-01-05"
    planned_checks = [row for row in expected["check_rows"] if row[1] == "PLANNED"]
    assert planned_checks == [(day, "PLANNED") for day in expected["materialized"]]


def test_pools_connections_and_commits_asynchronously(new_database_url: Callable[[], str]) -> None:
    storage = PooledPostgresStorage(_url(new_database_url()))
    for part in (storage.run_storage, storage.event_log_storage, storage.schedule_storage):
        engine = part._engine
        assert isinstance(engine.pool, QueuePool)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("show synchronous_commit").scalar() == "off"


def test_a_new_local_home_keeps_its_runs_in_the_embedded_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("BITSO_STATE_DIR", str(state))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    try:
        with dagster_instance() as instance:
            assert isinstance(instance.get_ref().storage, EmbeddedPostgresStorage)
            run_id = JOB.execute_in_process(instance=instance, tags=RANGE).run_id
        home = state / "dagster"
        assert os.environ["DAGSTER_HOME"] == str(home)
        assert "EmbeddedPostgresStorage" in (home / "dagster.yaml").read_text()
        with psycopg.connect(embedded_instance_url(state)) as conn:
            recorded = conn.execute("select count(*) from runs where run_id = %s", [run_id])
            assert recorded.fetchone() == (1,)
    finally:  # the embedded server outlives its clients by design: stop this one
        pid_file = state / "pg" / "postmaster.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)


def test_an_existing_local_home_keeps_its_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BITSO_STATE_DIR", str(tmp_path))
    (tmp_path / "dagster").mkdir()
    config = tmp_path / "dagster" / "dagster.yaml"
    config.write_text("telemetry:\n  enabled: false\n")
    assert local_dagster_home() == tmp_path / "dagster"
    assert config.read_text() == "telemetry:\n  enabled: false\n"
