"""BulkPlannedPostgresStorage records every run exactly as stock dagster-postgres does.

The same jobs (a single-run backfill of partitioned assets with passing and failing checks,
an observation, a multi-asset step, a single partition, and a failing run) run with event
batches on an instance with each storage, in databases of their own on the test server.
The event log, the asset rows and tags, the check executions, the runs and what Dagster
reads back from them are the same; run ids and timestamps aside.
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
from dagster_postgres import PostgresRunStorage, PostgresScheduleStorage
from sqlalchemy.engine import make_url

from bitso_platform.cli.runtime import dagster_instance, local_dagster_home
from bitso_platform.dagster_storage import (
    BulkPlannedPostgresEventLogStorage,
    EmbeddedPostgresStorage,
    embedded_instance_url,
)
from bitso_platform.defs.marts.checks import recorded

MODULE = "bitso_platform.dagster_storage"
DAYS = dg.DailyPartitionsDefinition(start_date="2023-01-01", end_date="2023-01-06")
SINGLE_RUN = dg.BackfillPolicy.single_run()


@dg.asset(partitions_def=DAYS, backfill_policy=SINGLE_RUN)
def days(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log_event(dg.AssetObservation(asset_key=context.asset_key, metadata={"seen": 1}))
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset_check(asset=days, partitions_def=DAYS)
def days_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset_check(asset=days, partitions_def=DAYS)
def days_doubted() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=days, partitions_def=DAYS)
def days_each(context: dg.AssetCheckExecutionContext) -> Iterator:
    """One evaluation per day, as the marts' checks record them: a batch of passes, and a
    failure of its own (the last day)."""
    keys = context.partition_keys
    evaluations = [
        dg.AssetCheckEvaluation(
            asset_key=days.key,
            check_name="days_each",
            passed=key != keys[-1],
            partition=key,
            severity=dg.AssetCheckSeverity.WARN,
        )
        for key in keys
    ]
    yield dg.Output(None, output_name=context.op_execution_context.selected_output_names.pop())
    yield from recorded(context, evaluations)


@dg.multi_asset(
    specs=[dg.AssetSpec("left", deps=[days]), dg.AssetSpec("right", deps=[days])],
    partitions_def=DAYS,
    backfill_policy=SINGLE_RUN,
)
def pair() -> Iterator[dg.MaterializeResult]:
    yield dg.MaterializeResult(asset_key="left")
    yield dg.MaterializeResult(asset_key="right")


@dg.asset(partitions_def=DAYS, backfill_policy=SINGLE_RUN, deps=[days])
def broken() -> None:
    raise ValueError("fails on purpose")


DEFS = dg.Definitions(
    assets=[days, pair, broken],
    asset_checks=[days_positive, days_doubted, days_each],
    jobs=[
        dg.define_asset_job("days_job", selection=dg.AssetSelection.assets(days, pair)),
        dg.define_asset_job("broken_job", selection=[days.key, broken.key]),
    ],
)
RANGE = {
    "dagster/asset_partition_range_start": "2023-01-01",
    "dagster/asset_partition_range_end": "2023-01-05",
}
RUNS = (
    ("days_job", RANGE),
    ("days_job", {"dagster/partition": "2023-01-03"}),
    ("broken_job", RANGE),
)
ASSETS = (days.key, dg.AssetKey("left"), dg.AssetKey("right"), broken.key)
CHECKS = tuple(
    dg.AssetCheckKey(days.key, name) for name in ("days_positive", "days_doubted", "days_each")
)
QUERIES = {
    "events": "select id, run_id, dagster_event_type, asset_key, partition, step_key"
    " from event_logs order by id",
    # The event whose time the asset row took: its latest event, planned or materialized.
    "asset_rows": "select a.asset_key, a.last_run_id, max(e.id) from asset_keys as a"
    " left join event_logs as e on e.asset_key = a.asset_key"
    " and e.timestamp = a.last_materialization_timestamp group by 1, 2 order by 1",
    # A data version without a code version is a hash of the run id: compared as present.
    "asset_tags": "select event_id, asset_key, key,"
    " case when key = 'dagster/data_version' then 'a hash' else value end"
    " from asset_event_tags order by id",
    "check_rows": "select asset_key, check_name, partition, run_id, execution_status,"
    " evaluation_event_storage_id, materialization_event_storage_id"
    " from asset_check_executions order by id",
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


def _run_all(instance: dg.DagsterInstance) -> list[str]:
    run_ids = []
    for job, tags in RUNS:
        result = DEFS.resolve_job_def(job).execute_in_process(
            instance=instance, tags=tags, raise_on_error=False
        )
        run_ids.append(result.run_id)
    return run_ids


def _recorded(instance: dg.DagsterInstance, url: str) -> dict[str, object]:
    """The tables Dagster keeps and what it reads back from them, run ids numbered."""
    run_ids = _run_all(instance)
    number = {run_id: f"run {i}" for i, run_id in enumerate(run_ids)}

    def plain(row: tuple) -> tuple:
        return tuple(number.get(value, value) for value in row)

    with psycopg.connect(url) as conn:
        tables = {
            name: [plain(row) for row in conn.execute(query)] for name, query in QUERIES.items()
        }
    runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
    return {
        **tables,
        "runs": [(run.job_name, run.status, run.tags.get("dagster/partition")) for run in runs],
        "materialized": {key: instance.get_materialized_partitions(key) for key in ASSETS},
        "latest": {
            key: [
                plain((record.run_id, record.storage_id, record.partition_key))
                for record in instance.fetch_materializations(key, limit=1).records
            ]
            for key in ASSETS
        },
        "planned": {key: plain(_planned(instance, key)) for key in ASSETS},
        "checks": {
            key: [
                plain((record.run_id, record.status, record.partition, _event_type(record.event)))
                for record in instance.event_log_storage.get_asset_check_execution_history(
                    key, limit=100
                )
            ]
            for key in CHECKS
        },
    }


def _planned(instance: dg.DagsterInstance, key: dg.AssetKey) -> tuple:
    info = instance.get_latest_planned_materialization_info(key)
    return (info.run_id, info.storage_id) if info else ()


def _event_type(event: dg.EventLogEntry | None) -> dg.DagsterEventType | None:
    """The type of the event stored with a check execution (deserialized from its row)."""
    return event.dagster_event_type if event else None


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "10000")


def _bulk(url: str) -> dict:
    config = {"postgres_url": url}
    return {"custom": {"module": MODULE, "class": "BulkPlannedPostgresStorage", "config": config}}


def _sessions(url: str) -> int:
    """Connections ever opened to the database of `url` (this one included)."""
    with psycopg.connect(url) as conn:
        query = "select sessions from pg_stat_database where datname = current_database()"
        return conn.execute(query).fetchone()[0]


@pytest.mark.usefixtures("batches")
def test_records_every_event_type_like_dagster_postgres(
    new_database_url: Callable[[], str], tmp_path: Path
) -> None:
    stock_url, bulk_url = _url(new_database_url()), _url(new_database_url())
    with _instance(tmp_path / "stock", {"postgres": {"postgres_url": stock_url}}) as instance:
        expected = _recorded(instance, stock_url)
    with _instance(tmp_path / "bulk", _bulk(bulk_url)) as instance:
        assert isinstance(instance.event_log_storage, BulkPlannedPostgresEventLogStorage)
        # Runs and schedules are dagster-postgres' own storages, unchanged.
        assert type(instance.run_storage) is PostgresRunStorage
        assert type(instance.schedule_storage) is PostgresScheduleStorage
        assert _recorded(instance, bulk_url) == expected
    recorded_types = {row[2] for row in expected["events"]}  # type: ignore[attr-defined]
    assert {
        event_type.value
        for event_type in (
            dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_OBSERVATION,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.RUN_SUCCESS,
            dg.DagsterEventType.RUN_FAILURE,
        )
    } <= recorded_types
    assert expected["runs"] == [
        ("days_job", dg.DagsterRunStatus.SUCCESS, None),
        ("days_job", dg.DagsterRunStatus.SUCCESS, "2023-01-03"),
        ("broken_job", dg.DagsterRunStatus.FAILURE, None),
    ]


@pytest.mark.usefixtures("batches")
def test_runs_reuse_their_connections_rather_than_open_one_per_statement(
    new_database_url: Callable[[], str], tmp_path: Path
) -> None:
    """Stock engines connect for every statement: ~3 connections per check evaluation, which
    a range run of the marts records for every check and day."""
    url = _url(new_database_url())
    with _instance(tmp_path / "bulk", _bulk(url)) as instance:
        before = _sessions(url)
        _run_all(instance)  # three runs: stock opens ~290 connections, this ~11
        opened = _sessions(url) - before
    assert opened <= 30


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
            run_id = _run_all(instance)[0]
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
