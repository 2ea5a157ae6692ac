"""Dagster instance storage on Postgres, fast enough for single-run backfills of years of days.

A backfill run of the marts over 1,331 days records, per mart, a planned event and a
materialization per day, and per asset check a planned row per day: ~40,000 writes. Stock
dagster-postgres makes each of them cost a new connection outside the webserver (a forked
Postgres backend), a WAL flush, and, for planned events, a row and an upsert apiece; a full
backfill at scale 1 spent ~12 minutes there for 7 s of mart SQL. This storage is
dagster-postgres with three changes:

- pooled connections everywhere (the webserver's engine settings, without its timeout);
- `synchronous_commit = off` on its own sessions: a crash of the Postgres host can lose the
  last fraction of a second of run events, never corrupt them (the warehouse is not
  affected: this is the instance's own database connection);
- batches of planned events written like batches of materializations (one insert, one
  upsert of the asset row per asset), and a planned check row serialized once per check
  rather than once per partition.

Batches need `DAGSTER_EVENT_BATCH_SIZE` (e.g. 10000) in the environment of the daemon and
run workers. dagster.yaml:

    storage:
      custom:
        module: bitso_platform.dagster_storage
        class: PooledPostgresStorage
        config:
          postgres_url: {env: DAGSTER_POSTGRES_URL}
"""

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
from dagster import DagsterEventType, EventLogEntry, StringSource
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    SqlEventLogStorageTable,
)
from dagster._serdes import ConfigurableClassData, serialize_value
from dagster_postgres import DagsterPostgresStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.engine import make_url

from bitso_platform.resources.warehouse import embedded_url

EVENT_BATCH_SIZE = "10000"  # DAGSTER_EVENT_BATCH_SIZE of the CLI and the benchmarks
INSTANCE_DB = "dagster"  # the embedded server's database of the local instance
NO_STATEMENT_TIMEOUT = 0  # runs may write long batches; the webserver keeps its own
RECYCLE_SECONDS = 3600
MAX_OVERFLOW = 10
# Written in bulk; each batch holds one type (Dagster batches a step's materializations, and
# a run's planned events at launch).
BULK = (DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_MATERIALIZATION)


def _pooled(storage: Any) -> None:
    """Pool the storage's connections and commit its writes without waiting for the disk."""
    storage.optimize_for_webserver(NO_STATEMENT_TIMEOUT, RECYCLE_SECONDS, MAX_OVERFLOW)
    sqlalchemy_event.listen(storage._engine, "connect", _asynchronous_commit)


def _asynchronous_commit(connection: Any, _record: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("set synchronous_commit = off")


class BatchingPostgresEventLogStorage(PostgresEventLogStorage):
    """PostgresEventLogStorage that also writes planned events and check rows in bulk."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        bulk = [event for event in events if event.dagster_event_type in BULK]
        # A run's planned batch mixes asset and check events: checks go one per check.
        for event in events:
            if event.dagster_event_type not in BULK:
                self.store_event(event)
        for event_type in BULK:
            same_type = [event for event in bulk if event.dagster_event_type == event_type]
            if same_type:
                self._store_asset_events(same_type)

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        """One executemany insert (its statement compiled once), then the asset index."""
        insert = SqlEventLogStorageTable.insert().returning(
            SqlEventLogStorageTable.c.id, sort_by_parameter_order=True
        )
        with self._connect() as conn:
            rows = conn.execute(insert, [self._event_to_row(event) for event in events])
            event_ids = [row[0] for row in rows.fetchall()]
        # The asset row keeps only the latest event's run, time (and materialization): write
        # the last of each asset, as dagster-postgres does for a batch of materializations.
        latest = {
            event.get_dagster_event().asset_key: (event, event_id)
            for event, event_id in zip(events, event_ids, strict=True)
        }
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in latest.values():
                self._store_asset_event(conn, event, event_id)

    def _store_asset_check_evaluation_planned(
        self, event: EventLogEntry, event_id: int | None
    ) -> None:
        planned = event.get_dagster_event().event_specific_data
        subset = planned.partitions_subset
        partition_keys = subset.get_partition_keys() if subset else [None]
        row = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert(),
                [{**row, "partition": key} for key in partition_keys],
            )


class PooledPostgresStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage with pooled, asynchronously committing, batching storages."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        # DagsterPostgresStorage's own __init__ would open an event log storage only to
        # replace it: build the three here, once.
        DagsterStorage.__init__(self)
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        parts = (postgres_url, should_autocreate_tables)
        self._run_storage = PostgresRunStorage(*parts, token_provider=token_provider)
        self._event_log_storage = BatchingPostgresEventLogStorage(
            *parts, token_provider=token_provider
        )
        self._schedule_storage = PostgresScheduleStorage(*parts, token_provider=token_provider)
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            _pooled(storage)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "PooledPostgresStorage":
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data,
            get_token_provider_from_config(config_value),
        )


class EmbeddedPostgresStorage(PooledPostgresStorage):
    """PooledPostgresStorage in database `dagster` of the embedded Postgres server of a state
    folder (started on demand, like the warehouse's): the default instance of the CLI and of
    `make dev`, so a backfill of years of days does not wait on SQLite's per-event writes.

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
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
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
