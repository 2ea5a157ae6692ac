"""Dagster instance storage: stock dagster-postgres, with a run's planned events in bulk.

A single-run backfill of the marts over 1,331 days records, when the run is created, one
ASSET_MATERIALIZATION_PLANNED event per mart and day (~9,300) and one planned check event
per check (28), each with a row per day. With DAGSTER_EVENT_BATCH_SIZE set, Dagster hands
them to the storage as one batch; dagster-postgres writes a batch in bulk only when it holds
materializations or observations alone, so planned events go one at a time (an insert and
an upsert of the asset row apiece, on two new connections), and each planned check
serializes its event again for every day's row. `BulkPlannedPostgresEventLogStorage`:

- writes consecutive planned events of a batch as stock writes a batch of materializations
  (one insert, then the asset rows), through public methods of the event log storage;
- writes a planned check's rows with its event serialized once (a private method of
  Dagster's, overridden: the only use of its internals here).

Every other event goes through stock code; runs and schedules are stock storages. All three
keep their connections open (stock's engines connect for every statement; a range run's
check evaluations, one per check and day, paid three connects apiece). The rows written are
stock's, on the pinned version:
bitso_platform_tests/resources/test_dagster_storage.py compares them for every event type.
docs/architecture.md ("Instance storage: the decision") has the measurements.

Batches need `DAGSTER_EVENT_BATCH_SIZE` (e.g. 10000) in the environment of the daemon and
run workers. dagster.yaml:

    storage:
      custom:
        module: bitso_platform.dagster_storage
        class: BulkPlannedPostgresStorage
        config:
          postgres_url: {env: DAGSTER_POSTGRES_URL}
"""

import contextlib
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.errors
import psycopg2.extras
from dagster import DagsterEventType, EventLogEntry, StringSource, serialize_value
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    SqlEventLogStorageTable,
)
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import make_url

from bitso_platform.resources.warehouse import embedded_url

if TYPE_CHECKING:
    from dagster._serdes import ConfigurableClassData

# Each storage keeps one connection open (more while threads need them), as the webserver's
# do, through the same public switch; no statement timeout outside the webserver.
POOL = {"statement_timeout": 0, "pool_recycle": 3600, "max_overflow": 10}
# Stock's update of a planned check row by an evaluation (asset, check, run, partition), for
# many evaluations at once; the event is the one just stored (stock serializes it again).
UPDATE_EVALUATED_ROWS = """
update asset_check_executions as planned
set execution_status = evaluated.status,
    evaluation_event = event_logs.event,
    evaluation_event_timestamp = evaluated.event_timestamp::timestamp,
    evaluation_event_storage_id = event_logs.id,
    materialization_event_storage_id = evaluated.target_id::bigint
from (values %s) as evaluated (
    asset_key, check_name, run_id, partition, status, event_timestamp, event_id, target_id
)
inner join event_logs on event_logs.id = evaluated.event_id::bigint
where planned.asset_key = evaluated.asset_key
    and planned.check_name = evaluated.check_name
    and planned.run_id = evaluated.run_id
    and planned.partition = evaluated.partition
returning evaluated.asset_key, evaluated.check_name, evaluated.run_id, evaluated.partition
"""
EVENT_BATCH_SIZE = "10000"  # DAGSTER_EVENT_BATCH_SIZE of the CLI and the benchmarks
INSTANCE_DB = "dagster"  # the embedded server's database of the local instance


class BulkPlannedPostgresEventLogStorage(PostgresEventLogStorage):
    """PostgresEventLogStorage that writes a batch's planned events in bulk."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # Consecutive events of one type, in order: the event ids follow the batch as stock's.
        for event_type, same_type in itertools.groupby(events, lambda e: e.dagster_event_type):
            if event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
                self._store_planned(list(same_type))
            elif event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                self._store_check_evaluations(list(same_type))
            else:
                super().store_event_batch(list(same_type))

    def _store_planned(self, events: Sequence[EventLogEntry]) -> None:
        """What stock's store_event does for each planned event, in one insert: the asset row
        of each asset takes its last event (its columns are overwritten by every event)."""
        event_ids = self._insert_events(events)
        self.store_asset_event_tags(events, event_ids)
        pairs = zip(events, event_ids, strict=True)
        latest = {
            event.get_dagster_event().asset_key: (event, event_id) for event, event_id in pairs
        }
        for event, event_id in latest.values():
            self.store_asset_event(event, event_id)

    def _insert_events(self, events: Sequence[EventLogEntry]) -> list[int]:
        """Stock's rows of the events (`_event_to_row`), in order, inserted as one executemany
        rather than stock's single statement with a VALUES row each, which SQLAlchemy compiles
        anew for every batch (seconds for a batch of 10,000); their ids."""
        table = SqlEventLogStorageTable
        insert = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        with self.index_connection() as conn:
            rows = conn.execute(insert, [self._event_to_row(event) for event in events])
            return [row[0] for row in rows]

    def _store_check_evaluations(self, events: Sequence[EventLogEntry]) -> None:
        """What stock's store_event does for each check evaluation, in two statements: the
        events in one insert, then their planned rows (one per check, run and partition)
        updated from one VALUES list. An evaluation without a planned row is stored as stock
        stores it (an insert), one by one."""
        event_ids = self._insert_events(events)
        updated = self._update_evaluated_rows(events, event_ids)
        for event, event_id in zip(events, event_ids, strict=True):
            if event_id not in updated:
                self.store_asset_check_event(event, event_id)

    def _update_evaluated_rows(
        self, events: Sequence[EventLogEntry], event_ids: Sequence[int]
    ) -> set[int]:
        """Stock's update of each evaluation's planned row, for all at once; the event ids
        whose row was updated. A row evaluated twice takes the later evaluation, as when stock
        updates it twice; partitionless evaluations are left to stock's path."""
        keys = [_row_key(event) for event in events]
        latest: dict[tuple[str, str, str, str | None], tuple] = {}
        for event, event_id, key in zip(events, event_ids, keys, strict=True):
            evaluation = event.get_dagster_event().asset_check_evaluation_data
            if key[3] is None or not event.run_id:
                continue
            target = evaluation.target_materialization_data
            status = (
                AssetCheckExecutionRecordStatus.SUCCEEDED
                if evaluation.passed
                else AssetCheckExecutionRecordStatus.FAILED
            )
            latest[key] = (
                *key,
                status.value,
                self._event_insert_timestamp(event),
                event_id,
                target.storage_id if target else None,
            )
        if not latest:
            return set()
        with self.index_connection() as conn, conn.connection.cursor() as cursor:
            rows = psycopg2.extras.execute_values(
                cursor, UPDATE_EVALUATED_ROWS, list(latest.values()), page_size=1000, fetch=True
            )
        updated = {tuple(row) for row in rows}
        return {event_id for event_id, key in zip(event_ids, keys, strict=True) if key in updated}

    def _store_asset_check_evaluation_planned(
        self, event: EventLogEntry, event_id: int | None
    ) -> None:
        """Stock's rows (one per partition of the check's run), with the event serialized once
        rather than once per row: 28 checks x 1,331 days in a full backfill of the marts."""
        planned = event.get_dagster_event().asset_check_planned_data
        subset = planned.partitions_subset
        row = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        keys = subset.get_partition_keys() if subset else [None]
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert(), [{**row, "partition": k} for k in keys]
            )


class BulkPlannedPostgresStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage whose event log is BulkPlannedPostgresEventLogStorage."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: "ConfigurableClassData | None" = None,
        token_provider: Any = None,
    ) -> None:
        # The stock event log storage built here stays unused (it holds no connection).
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._bulk_event_log = BulkPlannedPostgresEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        for storage in (self.run_storage, self.event_log_storage, self.schedule_storage):
            storage.optimize_for_webserver(**POOL)

    @property
    def event_log_storage(self) -> BulkPlannedPostgresEventLogStorage:
        return self._bulk_event_log

    @classmethod
    def from_config_value(
        cls, inst_data: "ConfigurableClassData | None", config_value: Mapping[str, Any]
    ) -> "BulkPlannedPostgresStorage":
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data,
            get_token_provider_from_config(config_value),
        )


class EmbeddedPostgresStorage(BulkPlannedPostgresStorage):
    """BulkPlannedPostgresStorage in database `dagster` of the embedded Postgres server of a
    state folder (started on demand, like the warehouse's): the default instance of the CLI
    and of `make dev`, so a backfill of years of days does not wait on SQLite's per-event
    writes.

        storage:
          custom:
            module: bitso_platform.dagster_storage
            class: EmbeddedPostgresStorage
            config:
              state_dir: /path/to/.bitso
    """

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"state_dir": StringSource}

    @classmethod
    def from_config_value(
        cls, inst_data: "ConfigurableClassData | None", config_value: Mapping[str, Any]
    ) -> "EmbeddedPostgresStorage":
        return cls(embedded_instance_url(Path(config_value["state_dir"])), True, inst_data)


def embedded_instance_url(state: Path) -> str:
    """URL of database `dagster` on the embedded server under `state`, created if missing."""
    server = embedded_url(state / "pg")
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("select from pg_database where datname = %s", [INSTANCE_DB])
        if exists.fetchone() is None:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # created meanwhile
                conn.execute(f"create database {INSTANCE_DB}")
    return make_url(server).set(database=INSTANCE_DB).render_as_string(hide_password=False)


def _row_key(event: EventLogEntry) -> tuple[str, str, str, str | None]:
    """The planned check row an evaluation updates: asset, check, run and partition."""
    evaluation = event.get_dagster_event().asset_check_evaluation_data
    return (
        evaluation.asset_key.to_string(),
        evaluation.check_name,
        event.run_id,
        evaluation.partition,
    )
