"""Load one snapshot file into Postgres: stage and validate in DuckDB, COPY the verdicts.

DuckDB runs the set-based validation with bounded memory (it spills to disk), while
Postgres receives the clean rows and the quarantine as COPY streams inside the
caller's transaction: a failure anywhere leaves the previous load intact.
"""

import json
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import BinaryIO

import duckdb
import psycopg
import psycopg.rows
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from bitso_platform.arrow_copy import copy_batches
from bitso_platform.snapshots.spec import SNAPSHOTS, Kind, Snapshot
from bitso_platform.snapshots.staging import SnapshotFileError, stage_lines
from bitso_platform.snapshots.validation import (
    QUARANTINE_SQL,
    Accounting,
    account,
    prepare,
    reject_conflicting,
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
    with _duckdb(memory_limit) as db, ThreadPoolExecutor(1) as pool:
        users = pool.submit(_clean_users, conn) if snapshot.of_kind(Kind.USER_REF) else None
        rows_read = stage_lines(db, stream, snapshot=snapshot, source=source)
        if users is not None:
            _stage_clean_users(db, users.result(), source=source)
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


def _clean_users(conn: psycopg.Connection) -> pa.Array:
    """The clean user ids (32 hex characters each, so plain text COPY needs no unescaping)."""
    with conn.cursor().copy("copy (select user_id from raw.users) to stdout") as copy:
        text = b"".join(bytes(chunk) for chunk in copy).decode()
    return pa.array(text.splitlines(), pa.string())


def _stage_clean_users(db: duckdb.DuckDBPyConnection, users: pa.Array, *, source: str) -> None:
    if len(users) == 0:
        raise SnapshotFileError(
            f"{source}: no clean users are loaded, so every user_id would be unknown; "
            "load the users snapshot first (bitso load materializes it before the others)"
        )
    db.register("users_arrow", pa.table({"user_id": users}))
    db.execute("create or replace table clean_users as select * from users_arrow")
    db.unregister("users_arrow")


def _replace_clean_rows(
    conn: psycopg.Connection, db: duckdb.DuckDBPyConnection, snapshot: Snapshot
) -> int:
    """Truncate the raw table and COPY the clean rows in as their verdicts stream; count them.

    Postgres ingests one batch while DuckDB judges the next; rejected rows and the keys of
    clean ones are kept in DuckDB. Rows that rule 7 rejects afterwards are deleted again.
    """
    table = sql.Identifier("raw", snapshot.name)
    names = [*(c.target for c in snapshot.columns), "source_line"]
    conn.execute(sql.SQL("truncate {}").format(table))
    verdicts = verdict_batches(db, snapshot, BATCH_ROWS)
    keeper = db.cursor()

    def clean_batches() -> Iterator[pa.RecordBatch]:
        for batch in verdicts:
            is_clean = pc.is_null(batch.column("reason"))
            rows = batch.filter(is_clean)
            _keep(keeper, rejected=batch.filter(pc.invert(is_clean)), clean=rows)
            yield rows.select(names)

    schema = pa.schema([verdicts.schema.field(n) for n in names])
    clean = copy_batches(conn, table, clean_batches(), schema, freeze=True)
    if snapshot.key is None:
        return clean
    conflicting = reject_conflicting(db)
    if conflicting.num_rows:
        _delete_lines(conn, table, conflicting)
    return clean - conflicting.num_rows


def _keep(
    db: duckdb.DuckDBPyConnection, *, rejected: pa.RecordBatch, clean: pa.RecordBatch
) -> None:
    """Keep rejected rows (table `rejected`) and the keys of clean ones (`clean_keys`)."""
    db.register("rejected_batch", rejected)
    db.register("clean_batch", clean)
    db.execute(
        "insert into rejected select source_line, reason from rejected_batch;"
        " insert into clean_keys select key_value, source_line from clean_batch"
    )
    db.unregister("rejected_batch")
    db.unregister("clean_batch")


def _delete_lines(conn: psycopg.Connection, table: sql.Identifier, lines: pa.Table) -> None:
    """Delete the rows of `table` with these source lines (few), in the load's transaction."""
    conn.execute("create temp table rejected_lines (source_line bigint) on commit drop")
    copy_batches(conn, sql.Identifier("rejected_lines"), lines.to_batches(), lines.schema)
    conn.execute(
        sql.SQL(
            "delete from {} as t using rejected_lines as r where t.source_line = r.source_line"
        ).format(table)
    )


def _replace_quarantine(
    conn: psycopg.Connection, db: duckdb.DuckDBPyConnection, snapshot: Snapshot, *, source: str
) -> None:
    conn.execute("delete from raw.quarantine where snapshot = %s", [snapshot.name])
    rows = _labelled(db.sql(QUARANTINE_SQL).to_arrow_reader(BATCH_ROWS), snapshot.name, source)
    copy_batches(conn, sql.Identifier("raw", "quarantine"), rows, rows.schema)


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
