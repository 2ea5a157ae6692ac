"""Arrow data into Postgres at COPY speed: binary COPY encoded by pgpq.

Binary COPY carries no type information, so the Arrow types must match the target columns'
(an int64 into an `integer` column is a protocol error, not a conversion). `arrow_schema_for`
gives the Arrow schema that matches a table's columns, `postgres_type` the column type that
matches an Arrow field, and `copy_batches` streams record batches into the table inside the
caller's transaction.
"""

from collections.abc import Iterable, Sequence

import psycopg
import pyarrow as pa
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

# Postgres type (as information_schema.columns.data_type names it) -> the Arrow type pgpq
# encodes into it. Binary timestamps are microseconds since 2000-01-01 UTC for both
# `timestamp` and `timestamptz`, so a UTC Arrow timestamp fits either.
_ARROW_FOR_POSTGRES: dict[str, pa.DataType] = {
    "text": pa.large_string(),
    "character varying": pa.large_string(),
    "boolean": pa.bool_(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double precision": pa.float64(),
    "date": pa.date32(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "timestamp without time zone": pa.timestamp("us"),
    "jsonb": pa.large_string(),
}


def postgres_type(field: pa.Field) -> str:
    """The Postgres column type for an Arrow field, for `create table`."""
    kind = field.type
    simple = {
        pa.bool_(): "boolean",
        pa.int8(): "smallint",
        pa.int16(): "smallint",
        pa.int32(): "integer",
        pa.int64(): "bigint",
        pa.float32(): "real",
        pa.float64(): "double precision",
        pa.date32(): "date",
        pa.string(): "text",
        pa.large_string(): "text",
    }
    if kind in simple:
        return simple[kind]
    if pa.types.is_timestamp(kind):
        return "timestamptz" if kind.tz else "timestamp"  # type: ignore[attr-defined]
    raise TypeError(
        f"column {field.name!r} has Arrow type {kind}, which has no Postgres mapping here: "
        "cast it to a string, number, boolean, date or timestamp first"
    )


def table_columns(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    """Column name -> data type of `schema.table`, in table order; empty if it does not exist."""
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = %s and table_name = %s order by ordinal_position",
        [schema, table],
    ).fetchall()
    return dict(rows)


def arrow_schema_for(columns: dict[str, str], names: Sequence[str]) -> pa.Schema:
    """The Arrow schema that encodes `names` into the Postgres `columns` (name -> type)."""
    fields = []
    for name in names:
        if name not in columns:
            raise ValueError(
                f"column {name!r} is not in the target table (columns: {', '.join(columns)}); "
                "add it to the table or drop it from the data"
            )
        arrow_type = _ARROW_FOR_POSTGRES.get(columns[name])
        if arrow_type is None:
            raise TypeError(
                f"column {name!r} is {columns[name]} in Postgres, which binary COPY from Arrow "
                "does not support here; use text, numbers, boolean, date or timestamps"
            )
        fields.append(pa.field(name, arrow_type))
    return pa.schema(fields)


def copy_batches(
    conn: psycopg.Connection,
    table: sql.Composable,
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    *,
    freeze: bool = False,
) -> int:
    """COPY the batches (all of `schema`) into `table` in binary; the number of rows sent.

    Runs in the caller's transaction, so a failure part-way leaves the table as it was once
    the transaction rolls back. `freeze` is only valid when the table was created or
    truncated in the same transaction.
    """
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in schema.names)
    options = sql.SQL("format binary, freeze") if freeze else sql.SQL("format binary")
    statement = sql.SQL("copy {} ({}) from stdin ({})").format(table, columns, options)
    encoder = ArrowToPostgresBinaryEncoder(schema)
    rows = 0
    cursor = conn.cursor()
    # A worker thread sends while this one judges and encodes the next batch.
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        copy.write(encoder.write_header())
        for batch in batches:
            copy.write(encoder.write_batch(batch))
            rows += batch.num_rows
        copy.write(encoder.finish())
    return rows
