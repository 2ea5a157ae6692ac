"""Spread records into `ticker.spread_observations`, surviving database restarts.

`ObservationStore` is the synchronous, reconnecting table writer; `ObservationWriter`
runs it off the event loop and keeps every record in memory until Postgres has
acknowledged it, retrying with backoff, so a database restart loses nothing. Upserts
do nothing on conflict, so a record re-sent after an ambiguous failure is harmless.

The table is partitioned by UTC day: a writer creates the partitions of the days it writes
(and of the next day, so midnight never waits on DDL) before writing; `drop_day` removes a
day at once, for the retention job.
"""

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from bitso_platform.backoff import Backoff
from bitso_platform.redaction import redact_url, scrub
from bitso_platform.sql import load_sql
from bitso_platform.ticker.records import SpreadRecord

log = logging.getLogger(__name__)

APPLICATION_NAME = "bitso-ticker-sampler"
_COLUMNS = (
    "orderbook_timestamp",
    "book",
    "bid",
    "ask",
    "spread",
    "source",
    "exchange_at",
    "received_at",
    "is_gap",
    "is_crossed",
    "is_held",
)


def create_table(conn: psycopg.Connection) -> None:
    """Create `ticker.spread_observations` (migrating an unpartitioned one) and the
    partitions of today and tomorrow (UTC), if they do not exist."""
    with conn.transaction():
        conn.execute(load_sql("ticker/spread_observations"))
    ensure_days(conn, [datetime.now(UTC).date()])


def ensure_days(conn: psycopg.Connection, days: Iterable[date]) -> None:
    """Create the partitions of `days` and of each next day, if they do not exist."""
    wanted = sorted({d + timedelta(days=step) for d in days for step in (0, 1)})
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            load_sql("ticker/create_spread_observations_day"), [{"day": d} for d in wanted]
        )


def stored_days(conn: psycopg.Connection) -> list[date]:
    """The UTC days that have a partition, oldest first."""
    return [day for (day,) in conn.execute(load_sql("ticker/spread_observation_days"))]


def drop_day(conn: psycopg.Connection, day: date) -> None:
    """Drop every observation of the UTC `day` (its partition)."""
    conn.execute(load_sql("ticker/drop_spread_observations_day"), {"day": day})


def record_params(record: SpreadRecord) -> dict[str, Any]:
    return {column: getattr(record, column) for column in _COLUMNS}


class ObservationStore:
    """Writes batches of records over one connection, reopened after any failure."""

    def __init__(self, url: str, *, connect_timeout: int = 5):
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection | None = None
        self._days: set[date] = set()  # days whose partitions this connection has ensured

    def write(self, records: Sequence[SpreadRecord]) -> int:
        """Insert the records in one transaction; returns how many were new."""
        conn = self._connection()
        try:
            self._ensure_days_of(conn, records)
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    load_sql("ticker/insert_spread_observations"),
                    [record_params(record) for record in records],
                )
                return max(cur.rowcount, 0)
        except psycopg.OperationalError:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._days.clear()

    def _ensure_days_of(self, conn: psycopg.Connection, records: Sequence[SpreadRecord]) -> None:
        days = {record.orderbook_timestamp.astimezone(UTC).date() for record in records}
        if days - self._days:
            ensure_days(conn, days - self._days)
            self._days |= days

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=self.connect_timeout,
                application_name=APPLICATION_NAME,
            )
            create_table(conn)
            self._conn = conn
        return self._conn


class ObservationWriter:
    """Queue of records flushed to the store at most every `flush_every` wall seconds."""

    def __init__(
        self, store: ObservationStore, *, flush_every: float = 1.0, backoff: Backoff | None = None
    ):
        self.store = store
        self.flush_every = flush_every
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.pending: list[SpreadRecord] = []
        self.written = 0
        self.inserted = 0
        self.failures = 0
        self._arrived = asyncio.Event()
        self._stopping = False

    def submit(self, records: Sequence[SpreadRecord]) -> None:
        self.pending.extend(records)
        self._arrived.set()

    def stop(self) -> None:
        """Ask `run` to return once everything pending is written."""
        self._stopping = True
        self._arrived.set()

    async def run(self) -> None:
        """Flush until stopped and drained; a failed batch stays queued and is retried."""
        try:
            while True:
                await self._arrived.wait()
                written = await self._flush()
                if self._stopping and not self.pending:
                    return
                await asyncio.sleep(self.flush_every if written else self.backoff.next())
        finally:
            if self.pending:
                log.error(
                    "%d spread records were not written to %s and are lost",
                    len(self.pending),
                    redact_url(self.store.url),
                )
            self.store.close()

    async def _flush(self) -> bool:
        """Write what is pending; False if the database refused (records stay pending)."""
        self._arrived.clear()
        batch = list(self.pending)
        if not batch:
            return True
        try:
            self.inserted += await asyncio.to_thread(self.store.write, batch)
        except psycopg.Error as exc:
            self._arrived.set()
            self.failures += 1
            log.warning(
                "cannot write %d spread records to %s (%s); keeping them and retrying; "
                "check that Postgres is up and BITSO_WAREHOUSE_URL is right",
                len(batch),
                redact_url(self.store.url),
                scrub(str(exc).strip(), self.store.url) or type(exc).__name__,
            )
            return False
        del self.pending[: len(batch)]
        self.written += len(batch)
        self.backoff.reset()
        return True
