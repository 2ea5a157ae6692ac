"""Load one snapshot file into Postgres: stage and validate in DuckDB, COPY the verdicts.

DuckDB runs the set-based validation with bounded memory (it spills to disk), while
Postgres receives the clean rows and the quarantine as COPY streams inside the
caller's transaction: a failure anywhere leaves the previous load intact.
"""

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import duckdb
import psycopg
import psycopg.rows
import pyarrow as pa
import pyarrow.compute as pc
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql

from bitso_platform.snapshots.spec import SNAPSHOTS, Kind, Snapshot
from bitso_platform.snapshots.staging import SnapshotFileError, stage_lines
from bitso_platform.snapshots.validation import (
    QUARANTINE_SQL,
    Accounting,
    account,
    prepare,
    resolve_held,
    verdict_batches,
)
from bitso_platform.sql import load_sql

BATCH_ROWS = 256_000


# DDL of schema `raw`, for `Warehouse.ensure`: run it before loading.
RAW_DDL = tuple(f"raw/{name}" for name in ("schema", *SNAPSHOTS, "quarantine", "snapshot_loads"))


def load_snapshot(
    conn: psycopg.Connection,
    stream: BinaryIO,
    snapshot: Snapshot,
    *,
    source: str,
    memory_limit: str = "1GB",
) -> Accounting:
    """Replace `raw.<snapshot>` and its quarantine with the verdicts on `stream`.

    Runs in the caller's transaction; schema `raw` must exist (`Warehouse.ensure(*RAW_DDL)`).
    """
    with _duckdb(memory_limit) as db:
        rows_read = stage_lines(db, stream, snapshot=snapshot, source=source)
        if snapshot.of_kind(Kind.USER_REF):
            _stage_clean_users(db, conn, source=source)
        prepare(db, snapshot)
        clean = _replace_clean_rows(conn, db, snapshot)
        accounting = account(db, snapshot, source=source, rows_read=rows_read, clean=clean)
        _replace_quarantine(conn, db, snapshot, source=source)
    _record(conn, accounting)
    return accounting


@contextmanager
def _duckdb(memory_limit: str) -> Iterator[duckdb.DuckDBPyConnection]:
    with tempfile.TemporaryDirectory(prefix="bitso-validate-") as spill:
        db = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill})
        try:
            db.execute("set preserve_insertion_order = false")
            yield db
        finally:
            db.close()


def _stage_clean_users(
    db: duckdb.DuckDBPyConnection, conn: psycopg.Connection, *, source: str
) -> None:
    users = conn.execute("select distinct user_id from raw.users").fetchall()
    if not users:
        raise SnapshotFileError(
            f"{source}: no clean users are loaded, so every user_id would be unknown; "
            "load the users snapshot first (bitso load materializes it before the others)"
        )
    table = pa.table({"user_id": pa.array([u for (u,) in users], pa.string())})
    db.register("users_arrow", table)
    db.execute("create or replace table clean_users as select * from users_arrow")
    db.unregister("users_arrow")


def _replace_clean_rows(
    conn: psycopg.Connection, db: duckdb.DuckDBPyConnection, snapshot: Snapshot
) -> int:
    """Truncate the raw table and COPY the clean rows in as their verdicts stream; count them.

    Postgres ingests one batch while DuckDB judges the next. Rejected and held rows are
    set aside in DuckDB; held rows found clean follow at the end of the same COPY.
    """
    table = sql.Identifier("raw", snapshot.name)
    names = [*(c.target for c in snapshot.columns), "source_line"]
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in names)
    conn.execute(sql.SQL("truncate {}").format(table))
    verdicts = verdict_batches(db, snapshot, BATCH_ROWS)
    aside = _Aside(db.cursor(), verdicts.schema)
    clean_schema = pa.schema([verdicts.schema.field(name) for name in names])
    encoder = ArrowToPostgresBinaryEncoder(clean_schema)
    statement = sql.SQL("copy {} ({}) from stdin (format binary, freeze)").format(table, columns)
    clean = 0
    with conn.cursor().copy(statement) as copy:
        copy.write(encoder.write_header())
        for batch in verdicts:
            final = pc.and_(pc.is_null(batch.column("reason")), pc.invert(batch.column("held")))
            rows = batch.filter(final).select(names)
            copy.write(encoder.write_batch(rows))
            clean += rows.num_rows
            aside.add(batch.filter(pc.invert(final)))
        for rows in resolve_held(db, snapshot, BATCH_ROWS):
            copy.write(encoder.write_batch(rows))
            clean += rows.num_rows
        copy.write(encoder.finish())
    return clean


class _Aside:
    """Rejected rows (to table `rejected`) and held rows (to table `held`) in DuckDB."""

    def __init__(self, db: duckdb.DuckDBPyConnection, schema: pa.Schema) -> None:
        self.db = db
        db.register("verdict_schema", schema.empty_table())
        db.execute("create or replace table held as select * from verdict_schema")
        db.unregister("verdict_schema")

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.db.register("aside_batch", batch)
        self.db.execute(
            "insert into rejected select source_line, reason from aside_batch"
            " where reason is not null;"
            " insert into held select * from aside_batch where held"
        )
        self.db.unregister("aside_batch")


def _replace_quarantine(
    conn: psycopg.Connection, db: duckdb.DuckDBPyConnection, snapshot: Snapshot, *, source: str
) -> None:
    conn.execute("delete from raw.quarantine where snapshot = %s", [snapshot.name])
    rows = _labelled(db.sql(QUARANTINE_SQL).to_arrow_reader(BATCH_ROWS), snapshot.name, source)
    encoder = ArrowToPostgresBinaryEncoder(rows.schema)
    statement = sql.SQL(
        "copy raw.quarantine (snapshot, source, line_no, reason, raw_line)"
        " from stdin (format binary)"
    )
    with conn.cursor().copy(statement) as copy:
        copy.write(encoder.write_header())
        for batch in rows:
            copy.write(encoder.write_batch(batch))
        copy.write(encoder.finish())


def _labelled(batches: pa.RecordBatchReader, snapshot: str, source: str) -> pa.RecordBatchReader:
    """The batches prefixed with constant snapshot and source columns."""
    schema = pa.schema([("snapshot", pa.string()), ("source", pa.string()), *batches.schema])

    def labelled() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            constants = [pa.array([v] * batch.num_rows, pa.string()) for v in (snapshot, source)]
            yield pa.RecordBatch.from_arrays([*constants, *batch.columns], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, labelled())


def _record(conn: psycopg.Connection, accounting: Accounting) -> None:
    conn.execute(
        "insert into raw.snapshot_loads"
        " (snapshot, source, rows_read, clean, quarantined, exact_duplicates, blank)"
        " values (%s, %s, %s, %s, %s, %s, %s)",
        [
            accounting.snapshot,
            accounting.source,
            accounting.rows_read,
            accounting.clean,
            json.dumps(accounting.quarantined),
            accounting.exact_duplicates,
            accounting.blank,
        ],
    )


def reconcile(conn: psycopg.Connection, snapshot: Snapshot) -> dict[str, object]:
    """The last load's accounting against the stored rows; `passed` says if all agree."""
    query = sql.SQL(load_sql("checks/snapshot_reconciliation")).format(
        table=sql.Identifier("raw", snapshot.name)
    )
    cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
    row = cursor.execute(query, {"snapshot": snapshot.name}).fetchone()
    if row is None:
        return {"passed": False, "problem": f"the {snapshot.name} snapshot was never loaded"}
    accounted = row["clean"] + row["quarantined"] + row["exact_duplicates"] + row["blank"]
    row["passed"] = (
        row["rows_read"] == accounted
        and row["clean_in_table"] == row["clean"]
        and row["quarantined_in_table"] == row["quarantined_by_reason"]
    )
    return row
