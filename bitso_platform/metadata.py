"""Dagster metadata read from Postgres tables: row counts, column schemas, previews."""

from typing import Any

import dagster as dg
import psycopg
import psycopg.rows
from psycopg import sql


def table_metadata(conn: psycopg.Connection, schema: str, table: str) -> dict[str, Any]:
    """Row count, column schema and a five-row preview of `schema.table`."""
    identifier = sql.Identifier(schema, table)
    rows = conn.execute(sql.SQL("select count(*) from {}").format(identifier)).fetchone()
    columns = conn.execute(
        "select column_name, data_type, is_nullable = 'NO' from information_schema.columns"
        " where table_schema = %s and table_name = %s order by ordinal_position",
        [schema, table],
    ).fetchall()
    preview = conn.execute(sql.SQL("select * from {} limit 5").format(identifier)).fetchall()
    return {
        "dagster/row_count": rows[0] if rows else 0,
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name, data_type, constraints=dg.TableColumnConstraints(nullable=not required)
                )
                for name, data_type, required in columns
            ]
        ),
        "dagster/table_name": f"{schema}.{table}",
        "preview": dg.MetadataValue.md(
            markdown_table(preview, tuple(name for name, _, _ in columns))
        ),
    }


def markdown_table(rows: list[tuple], header: tuple[str, ...]) -> str:
    """A Markdown table; long cells are cut so the UI stays readable."""
    if not rows:
        return "(no rows)"

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")[:120]

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def sql_check(
    conn: psycopg.Connection,
    query: str,
    params: Any = None,
    *,
    asset_key: dg.AssetKey,
    check_name: str,
    identifiers: dict[str, sql.Composable] | None = None,
) -> dg.AssetCheckResult:
    """Run a check's query: one row whose `passed` column decides, the rest metadata.

    A template names tables and columns as `{placeholders}`, filled from `identifiers`.
    """
    statement: str | sql.Composed = query
    if identifiers is not None:
        statement = sql.SQL(query).format(**identifiers)  # type: ignore[arg-type]
    return check_result(check_row(conn, statement, params), asset_key, check_name)


def check_row(
    conn: psycopg.Connection, statement: str | sql.Composed, params: Any = None
) -> dict[str, Any]:
    """A check query's one row by column (`passed` false when it returns none)."""
    cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
    return cursor.execute(statement, params).fetchone() or {"passed": False}


def check_result(
    row: dict[str, Any], asset_key: dg.AssetKey, check_name: str
) -> dg.AssetCheckResult:
    """The result of a check's row: `passed` decides, the other columns are metadata."""
    passed = bool(row.pop("passed"))
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=passed,
        metadata={k: v if isinstance(v, int | float | str) else str(v) for k, v in row.items()},
    )
