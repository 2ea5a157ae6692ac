"""Load one snapshot file into Postgres in one pass: read, judge and COPY block by block.

Each block of lines is split with Arrow, judged by set-based DuckDB SQL, and its clean rows
stream into Postgres as binary COPY while the next block is read, all inside the caller's
transaction: a failure anywhere leaves the previous load intact. Memory holds a few blocks
and DuckDB's working set (it spills to disk beyond `memory_limit`); what must see every row
(copies in different blocks, rule 7's repeated keys) is settled at the end from the key of
each clean row and a fingerprint of each rejected one, and the few rows it takes back out
are deleted within the same transaction.
"""

import ctypes
import functools
import json
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import BinaryIO

import duckdb
import psycopg
import psycopg.rows
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from bitso_platform.arrow_copy import copy_batches
from bitso_platform.snapshots.spec import SNAPSHOTS, Kind, Snapshot
from bitso_platform.snapshots.staging import (
    MAX_LINE_BYTES,
    WHITESPACE,
    Block,
    Oversized,
    SnapshotFileError,
    Span,
    field_content,
    field_values,
    read_blocks,
    reread_lines,
    seekable,
)
from bitso_platform.snapshots.validation import (
    QUARANTINE_SQL,
    Accounting,
    Users,
    account,
    forget,
    judge,
    keep,
    prepare,
    record,
    repeats,
)
from bitso_platform.sql import load_sql

BATCH_ROWS = 256_000
JUDGES = 2  # blocks judged at once
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter: the size from which allocations are mapped
MMAP_THRESHOLD_BYTES = 1 << 20

# DDL of schema `raw`, for `Warehouse.ensure`: run it before loading.
RAW_DDL = tuple(f"raw/{name}" for name in ("schema", *SNAPSHOTS, "quarantine", "snapshot_loads"))


@dataclass
class _Tally:
    """Counts kept while the blocks stream."""

    rows_read: int = 0
    non_blank: int = 0
    distinct: int = 0
    spans: list[Span] = field(default_factory=list)
    oversized: dict[int, str] = field(default_factory=dict)  # line number -> first bytes


def load_snapshot(
    conn: psycopg.Connection,
    stream: BinaryIO,
    snapshot: Snapshot,
    *,
    source: str,
    memory_limit: str = "64MB",
    settle_memory_limit: str = "128MB",
    max_line_bytes: int = MAX_LINE_BYTES,
    on_block: Callable[[int], None] = lambda _rows_read: None,
    users: Users | None = None,
) -> Accounting:
    """Replace `raw.<snapshot>` and its quarantine with the verdicts on `stream`.

    Runs in the caller's transaction; schema `raw` must exist (`Warehouse.ensure(*RAW_DDL)`).
    A stream that cannot seek (an S3 body) is first copied to a temporary file, so that the
    few lines needed again at the end can be read back. A line longer than `max_line_bytes`
    is quarantined as `oversized_row` without being read whole. `on_block` is told the rows
    read so far after each block (of many rows) is judged. DuckDB works within
    `memory_limit` while blocks stream, and within `settle_memory_limit` (its grouping of
    every key needs more, and no block is held any more) when settling repeats at the end.
    A file that refers to users is judged against `users` (`clean_users`), read from
    `raw.users` when not given.
    """
    table = sql.Identifier("raw", snapshot.name)
    _use_system_allocator()
    with seekable(stream) as file, _duckdb(memory_limit) as db:
        # Only the verdicts hold the users: they are freed with the last block.
        if users is None and snapshot.of_kind(Kind.USER_REF):
            users = clean_users(conn, source)
        prepare(db, snapshot)
        tally = _Tally()
        conn.execute(sql.SQL("truncate {}").format(table))
        _drop_indexes(conn, snapshot)
        blocks = read_blocks(file, snapshot=snapshot, source=source, max_line_bytes=max_line_bytes)
        verdicts = _verdicts(db, snapshot, users, blocks, tally, on_block)
        del users
        clean = _copy_clean_rows(conn, table, snapshot, verdicts)
        _trim_heap()  # the blocks and the users are gone: give their memory to DuckDB
        db.execute("set memory_limit = ?", [settle_memory_limit])
        clean -= _settle_repeats(conn, db, snapshot, file, tally)
        if tally.oversized:
            record(db, "oversized_row", tally.oversized)
        accounting = account(
            db,
            snapshot,
            source=source,
            rows_read=tally.rows_read,
            non_blank=tally.non_blank,
            distinct=tally.distinct,
            clean=clean,
        )
        _replace_quarantine(conn, db, snapshot, source=source)
    # Statistics for the core build that reads the table next, in this transaction: until
    # the load commits, autovacuum cannot see the rows, and the planner would guess.
    conn.execute(sql.SQL("analyze {}").format(table))
    _record(conn, accounting)
    return accounting


def _drop_indexes(conn: psycopg.Connection, snapshot: Snapshot) -> None:
    """A raw table is written by COPY alone: an index a reader built on it (core.logins' days
    on raw.events) would be kept up row by row. The reader builds it again after the load."""
    indexes = conn.execute(
        "select indexname from pg_indexes where schemaname = 'raw' and tablename = %s"
        " and indexname not in (select conname from pg_constraint"
        " where connamespace = 'raw'::regnamespace)",
        [snapshot.name],
    ).fetchall()
    for (name,) in indexes:
        conn.execute(sql.SQL("drop index {}").format(sql.Identifier("raw", name)))


def _use_system_allocator() -> None:
    """Arrow's allocations go through the system allocator from here on, and the C heap maps
    every allocation of 1 MB or more on its own (both process-wide).

    Each block allocates buffers of its size and frees them; Arrow's default allocator
    (mimalloc) keeps such memory per thread for reuse (about 20 MB more of peak at scale
    10), where the system allocator hands large buffers back when they are freed. glibc
    does that only below a threshold it raises each time such a buffer is freed: after the
    first blocks, a block's buffers came from the heap and stayed in it, scattered between
    smaller allocations, in the arena of each thread that judged them (up to 90 MB more of
    peak at scale 100 with two judging threads). A fixed threshold (`M_MMAP_THRESHOLD`)
    keeps handing them back: 1 MB, below a block's 2 MB (496-500 MB of peak at scale 100,
    510 MB at 2 MB).
    """
    pa.set_memory_pool(pa.system_memory_pool())
    if mallopt := _libc("mallopt"):
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


@functools.cache
def _libc(name: str) -> Callable[..., int] | None:
    """A function of the process's own C library, where it is glibc (None elsewhere)."""
    return getattr(ctypes.CDLL(None), name, None)


def _trim_heap() -> None:
    """Hand the C heap's free memory back to the system where the C library is glibc
    (`malloc_trim`): freed blocks otherwise stay in the process, in pieces too small for
    DuckDB's allocations to reuse."""
    if trim := _libc("malloc_trim"):
        trim(0)


@contextmanager
def _duckdb(memory_limit: str) -> Iterator[duckdb.DuckDBPyConnection]:
    with tempfile.TemporaryDirectory(prefix="bitso-validate-") as spill:
        # A database file, not memory: DuckDB compresses the keys kept for every clean row
        # and keeps within `memory_limit` what it can.
        path = f"{spill}/validation.duckdb"
        db = duckdb.connect(path, config={"memory_limit": memory_limit, "temp_directory": spill})
        try:
            db.execute("set preserve_insertion_order = false")
            db.execute("set enable_progress_bar = false")  # the load reports its own progress
            yield db
        finally:
            db.close()


# The clean user ids, newline-terminated, in pages of 65,536: a page is one value to send,
# where COPY would send a message (and Python a loop) per id.
_USER_ID_PAGES = """
    select string_agg(user_id || E'\\n', '')
    from (select user_id, (row_number() over ()) / 65536 as page from raw.users) as numbered
    group by page
"""


def clean_users(conn: psycopg.Connection, source: str) -> Users:
    """The clean user ids and those the users file quarantined, for judging `source`."""
    count = conn.execute("select count(*) from raw.users").fetchone()
    if not count or not count[0]:
        raise SnapshotFileError(
            f"{source}: no clean users are loaded, so every user_id would be unknown; "
            "load the users snapshot first (bitso load materializes it before the others)"
        )
    quarantined = _quarantined_users(conn)
    with conn.cursor(name="clean_user_ids") as cursor:
        cursor.itersize = 4
        pages = (text.encode() for (text,) in cursor.execute(_USER_ID_PAGES))
        return Users.receive(pages, count[0], quarantined)


def _quarantined_users(conn: psycopg.Connection) -> list[str]:
    """The trimmed user_id of each quarantined line of the users file that has one field:
    references to them are `quarantined_user`, which names the cause, not `unknown_user`."""
    rows = conn.execute("select raw_line from raw.quarantine where snapshot = 'users'")
    values = (field_values(line) for (line,) in rows)
    return [fields[0].strip(WHITESPACE) for fields in values if fields and len(fields) == 1]


def _verdicts(
    db: duckdb.DuckDBPyConnection,
    snapshot: Snapshot,
    users: Users | None,
    blocks: Iterator[Block | Oversized],
    tally: _Tally,
    on_block: Callable[[int], None],
) -> Iterator[pa.Table]:
    """Each block's verdicts in file order, counted and kept (`validation.keep`) as they go
    by; oversized lines are counted as distinct rows (they cannot be compared) and set aside.
    The next block is judged while the verdicts of this one are taken (`_judging`)."""
    with _judging(db, snapshot, users) as submit:
        pending: deque[Oversized | tuple[Block, Future[pa.Table]]] = deque()
        for item in blocks:
            pending.append(item if isinstance(item, Oversized) else (item, submit(item)))
            if len(pending) == JUDGES:
                yield from _taken(db, pending.popleft(), tally, on_block)
        while pending:
            yield from _taken(db, pending.popleft(), tally, on_block)


@contextmanager
def _judging(
    db: duckdb.DuckDBPyConnection, snapshot: Snapshot, users: Users | None
) -> Iterator[Callable[[Block], Future[pa.Table]]]:
    """Judge blocks on JUDGES threads, each with a DuckDB connection of its own to the
    validation database: DuckDB and numpy release the GIL while they work, so a second core
    judges the next block instead of waiting for this one's COPY and bookkeeping."""
    local = threading.local()
    connections: list[duckdb.DuckDBPyConnection] = []

    def connect() -> None:
        local.db = db.cursor()
        local.db.execute("set TimeZone = 'UTC'")  # a session setting, per connection
        connections.append(local.db)

    def judged(block: Block) -> pa.Table:
        return judge(local.db, snapshot, block.lines, users)

    pool = ThreadPoolExecutor(JUDGES, thread_name_prefix="snapshot-judge", initializer=connect)
    try:
        yield lambda block: pool.submit(judged, block)
    finally:
        pool.shutdown(cancel_futures=True)
        for connection in connections:
            connection.close()


def _taken(
    db: duckdb.DuckDBPyConnection,
    entry: Oversized | tuple[Block, Future[pa.Table]],
    tally: _Tally,
    on_block: Callable[[int], None],
) -> Iterator[pa.Table]:
    """Count and keep a judged block and yield its verdicts; count an oversized line."""
    if isinstance(entry, Oversized):
        tally.oversized[entry.line_no] = entry.head
        tally.rows_read += 1
        tally.non_blank += 1
        tally.distinct += 1
        return
    block, judging = entry
    verdicts = judging.result()
    keep(db, verdicts)
    tally.rows_read += block.lines.num_rows
    tally.non_blank += pc.sum(verdicts["copies"]).as_py() or 0
    tally.distinct += verdicts.num_rows
    tally.spans.append(block.span)
    on_block(tally.rows_read)
    yield verdicts


def _copy_clean_rows(
    conn: psycopg.Connection,
    table: sql.Identifier,
    snapshot: Snapshot,
    verdicts: Iterator[pa.Table],
) -> int:
    """COPY the clean rows of the verdicts into `table` (truncated in this transaction)."""
    names = [*(c.target for c in snapshot.columns), "source_line"]
    clean = (v.filter(pc.is_null(v["reason"])).select(names) for v in verdicts)
    first = next(clean, None)
    if first is None:  # a file without rows
        return 0
    batches = (batch for rows in chain([first], clean) for batch in rows.to_batches())
    return copy_batches(conn, table, batches, first.schema, freeze=True)


def _settle_repeats(
    conn: psycopg.Connection,
    db: duckdb.DuckDBPyConnection,
    snapshot: Snapshot,
    file: BinaryIO,
    tally: _Tally,
) -> int:
    """Settle the rows that share a key or fingerprint with a row of another block, on their
    text: a row whose content an earlier one has is a copy (rule 5); clean rows left sharing
    a key are conflicting (rule 7). Both leave the raw table; the number of clean rows that
    did. A hash collision between two different rows changes nothing."""
    clean_groups, rejected_groups = repeats(db)
    if not clean_groups and not rejected_groups:
        return 0
    wanted = {line for group in (*clean_groups, *rejected_groups) for line in group}
    text = reread_lines(file, tally.spans, wanted)
    rejected_copies = [c for g in rejected_groups for c in _copies(g, text)]
    forget(db, rejected_copies)
    taken_out: list[int] = []
    conflicting: dict[int, str] = {}
    for group in clean_groups:
        copies = set(_copies(group, text))
        taken_out += copies
        firsts = [line for line in group if line not in copies]
        if snapshot.key is not None and len(firsts) > 1:
            conflicting.update((line, text[line]) for line in firsts)
    tally.distinct -= len(rejected_copies) + len(taken_out)
    if conflicting:
        record(db, "conflicting_duplicate_id", conflicting)
    _delete_lines(conn, sql.Identifier("raw", snapshot.name), [*taken_out, *conflicting])
    return len(taken_out) + len(conflicting)


def _copies(group: list[int], text: dict[int, str]) -> list[int]:
    """The lines of `group` (in file order) whose field content an earlier one has."""
    seen: set[str] = set()
    copies = []
    for line in group:
        content = field_content(text[line])
        if content in seen:
            copies.append(line)
        seen.add(content)
    return copies


def _delete_lines(conn: psycopg.Connection, table: sql.Identifier, lines: list[int]) -> None:
    """Delete the rows of `table` with these source lines (few), in the load's transaction."""
    if lines:
        statement = sql.SQL("delete from {} where source_line = any(%s)").format(table)
        conn.execute(statement, [lines])


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


def previous_clean(conn: psycopg.Connection, snapshot: Snapshot) -> int | None:
    """How many clean rows the last load of `snapshot` left in its table (None: never loaded)."""
    row = conn.execute(
        "select clean from raw.snapshot_loads where snapshot = %s order by load_id desc limit 1",
        [snapshot.name],
    ).fetchone()
    return row[0] if row else None


def refusal(accounting: Accounting, before: int | None, *, max_shrink: float) -> str | None:
    """Why the load of a suspicious file is refused (SPEC 2), or None to apply it: a file
    without data rows, or one that would shrink its table by more than `max_shrink`."""
    table = f"raw.{accounting.snapshot}"
    old = f"{before:,}" if before is not None else "no"
    accept = "if the file is right, load it with `bitso load --allow-shrink`"
    if accounting.rows_read == accounting.blank:
        return (
            f"{accounting.source}: refused: the file has no data rows, so {table} would go "
            f"from {old} rows to 0; {accept}"
        )
    if before and accounting.clean < before * (1 - max_shrink):
        return (
            f"{accounting.source}: refused: {table} would shrink from {before:,} rows to "
            f"{accounting.clean:,} (more than {max_shrink:.0%} fewer); {accept}"
        )
    return None


def reconcile(conn: psycopg.Connection, snapshot: Snapshot) -> dict[str, object]:
    """The last load's accounting against the stored rows; `passed` says if all agree."""
    table = sql.Identifier("raw", snapshot.name)
    query = sql.SQL(load_sql("checks/snapshot_reconciliation")).format(table=table)
    cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
    row = cursor.execute(query, {"snapshot": snapshot.name}).fetchone()
    if row is None:  # never loaded (an optional file, absent so far): nothing may be stored
        stored = conn.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()
        return {"passed": stored == (0,), "problem": f"{snapshot.name} was never loaded"}
    accounted = row["clean"] + row["quarantined"] + row["exact_duplicates"] + row["blank"]
    row["passed"] = (
        row["rows_read"] == accounted
        and row["clean_in_table"] == row["clean"]
        and row["quarantined_in_table"] == row["quarantined_by_reason"]
    )
    return row
