"""An IO manager that stores pandas DataFrames in Postgres tables, partition by partition.

The asset key names the table: its last two parts are the schema and the table
(`ticker/spread_window_stats` -> `ticker.spread_window_stats`). For a partitioned asset the
definition metadata `partition_expr` names the timestamp column that places a row in its time
window; a run (one partition or a single-run backfill's whole range) deletes the range's rows
and COPYs the new ones in binary, in one transaction, so readers see the old rows or the new
ones and a failure part-way leaves the old ones. The table is created from the frame's types
when it does not exist, with the primary key named by the metadata `primary_key`; a frame
column the table lacks is added (nullable: the rows written before it hold null).

Use it for data that is computed in Python. Tables that SQL builds inside Postgres should run
that SQL directly (no round trip through pandas).
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql
from pydantic import Field

from bitso_platform.arrow_copy import (
    arrow_schema_for,
    copy_batches,
    postgres_type,
    table_columns,
)
from bitso_platform.metadata import markdown_table
from bitso_platform.resources.lake_io_manager import (
    partition_windows,
    row_count_metadata,
    rows_of_partition,
)
from bitso_platform.resources.warehouse import Warehouse

BATCH_ROWS = 100_000
PREVIEW_ROWS = 5


class PostgresPandasIOManager(dg.ConfigurableIOManager):
    """DataFrames in Postgres tables named by the asset key; partition ranges replaced at once."""

    warehouse: Warehouse = Field(description="The Postgres warehouse the tables live in")

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        """Replace the run's partitions (or the whole table) with `obj`, in one transaction."""
        schema, table = table_of(context.asset_key)
        window = _window(context)
        partition_expr = _partition_expr(context, window)
        if window is not None and partition_expr is not None:
            _require_inside(obj, partition_expr, window, f"{schema}.{table}")
        arrow = pa.Table.from_pandas(obj, preserve_index=False)
        with self.warehouse.connection() as conn:
            columns = _ensure_table(conn, schema, table, arrow, _primary_key(context))
            arrow = arrow.cast(arrow_schema_for(columns, arrow.column_names))
            deleted = _delete(conn, schema, table, partition_expr, window)
            written = copy_batches(
                conn, sql.Identifier(schema, table), arrow.to_batches(BATCH_ROWS), arrow.schema
            )
        metadata = _metadata(self.warehouse, schema, table, obj, deleted, window)
        rows = {
            key: len(rows_of_partition(obj, part, partition_expr))
            for key, part in partition_windows(context)
        } or {None: written}
        context.add_output_metadata({**metadata, **row_count_metadata(rows)})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        """The rows of the upstream asset's partitions (or the whole table)."""
        upstream = context.upstream_output
        schema, table = table_of(context.asset_key)
        window = _window(context)
        partition_expr = _partition_expr(upstream, window) if upstream is not None else None
        query = sql.SQL("select * from {}").format(sql.Identifier(schema, table))
        params: list[Any] = []
        if window is not None and partition_expr is not None:
            query += sql.SQL(" where {column} >= %s and {column} < %s").format(
                column=sql.Identifier(partition_expr)
            )
            params = [window.start, window.end]
        with self.warehouse.connection() as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            names = [column.name for column in cursor.description or ()]
            return pd.DataFrame(cursor.fetchall(), columns=names)


def table_of(asset_key: dg.AssetKey) -> tuple[str, str]:
    """(schema, table) for an asset key such as `ticker/spread_window_stats`."""
    if len(asset_key.path) < 2:
        raise ValueError(
            f"asset key {asset_key.to_user_string()} does not name a table: give it a schema "
            "prefix, e.g. key=['ticker', 'spread_window_stats']"
        )
    schema, table = asset_key.path[-2:]
    return schema, table


def _window(context: dg.OutputContext | dg.InputContext) -> dg.TimeWindow | None:
    """The run's time window, or None when the asset is not partitioned."""
    if not context.has_asset_partitions:
        return None
    try:
        return context.asset_partitions_time_window
    except dg.DagsterInvariantViolationError as exc:
        raise TypeError(
            f"{context.asset_key.to_user_string()}: the Postgres IO manager replaces time "
            "windows; give the asset a time-window partitions definition"
        ) from exc


def _partition_expr(
    context: dg.OutputContext | dg.InputContext, window: dg.TimeWindow | None
) -> str | None:
    """The column that holds each row's time, required for partitioned assets."""
    if window is None:
        return None
    column = (context.definition_metadata or {}).get("partition_expr")
    if not isinstance(column, str) or not column:
        raise ValueError(
            f"{context.asset_key.to_user_string()} is partitioned: add "
            "metadata={'partition_expr': '<timestamp column>'} to the asset"
        )
    return column


def _primary_key(context: dg.OutputContext) -> Sequence[str]:
    key = (context.definition_metadata or {}).get("primary_key") or ()
    return tuple(key)


def _require_inside(frame: pd.DataFrame, column: str, window: dg.TimeWindow, table: str) -> None:
    """Refuse rows outside the run's window: they would survive the next replacement."""
    if column not in frame.columns:
        raise ValueError(f"{table}: the frame has no partition_expr column {column!r}")
    times = pd.to_datetime(frame[column], utc=True)
    outside = int(((times < window.start) | (times >= window.end)).sum())
    if outside:
        raise ValueError(
            f"{table}: {outside} rows have {column} outside the run's window "
            f"[{window.start.isoformat()}, {window.end.isoformat()}); fix the asset's filter"
        )


def _ensure_table(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    arrow: pa.Table,
    primary_key: Sequence[str],
) -> dict[str, str]:
    """The table's columns, creating schema and table from the Arrow types if needed, and
    adding the frame's columns that the table lacks."""
    columns = table_columns(conn, schema, table)
    if columns:
        _add_columns(conn, schema, table, [f for f in arrow.schema if f.name not in columns])
        return table_columns(conn, schema, table)
    definitions = [_column_definition(field) for field in arrow.schema]
    if primary_key:
        definitions.append(
            sql.SQL("primary key ({})").format(
                sql.SQL(", ").join(sql.Identifier(name) for name in primary_key)
            )
        )
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL("create table if not exists {} ({})").format(
            sql.Identifier(schema, table), sql.SQL(", ").join(definitions)
        )
    )
    return table_columns(conn, schema, table)


def _column_definition(field: pa.Field) -> sql.Composable:
    return sql.SQL("{} {}").format(sql.Identifier(field.name), sql.SQL(postgres_type(field)))


def _add_columns(
    conn: psycopg.Connection, schema: str, table: str, fields: Sequence[pa.Field]
) -> None:
    """Add nullable columns: a new version of an asset may carry more columns than its table."""
    if not fields:
        return
    additions = sql.SQL(", ").join(
        sql.SQL("add column if not exists {}").format(_column_definition(field)) for field in fields
    )
    conn.execute(sql.SQL("alter table {} {}").format(sql.Identifier(schema, table), additions))


def _delete(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    partition_expr: str | None,
    window: dg.TimeWindow | None,
) -> int:
    """Delete the rows the run replaces: its window's, or all of them."""
    target = sql.Identifier(schema, table)
    if window is None or partition_expr is None:
        return conn.execute(sql.SQL("delete from {}").format(target)).rowcount
    statement = sql.SQL("delete from {} where {column} >= %s and {column} < %s").format(
        target, column=sql.Identifier(partition_expr)
    )
    return conn.execute(statement, [window.start, window.end]).rowcount


def _metadata(
    warehouse: Warehouse,
    schema: str,
    table: str,
    frame: pd.DataFrame,
    deleted: int,
    window: dg.TimeWindow | None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "path": f"{_describe(warehouse.resolved_url())}/{schema}.{table}",
        "dagster/table_name": f"{schema}.{table}",
        "rows_replaced": deleted,
        "preview": dg.MetadataValue.md(
            markdown_table(
                list(frame.head(PREVIEW_ROWS).itertuples(index=False, name=None)),
                tuple(frame.columns),
            )
        ),
    }
    if window is not None:
        metadata["window"] = f"[{window.start.isoformat()}, {window.end.isoformat()})"
    return metadata


def _describe(url: str) -> str:
    """`postgresql://host:port/dbname` without credentials."""
    parts = psycopg.conninfo.conninfo_to_dict(url)
    host = parts.get("host", "localhost")
    return f"postgresql://{host}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
