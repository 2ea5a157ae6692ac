"""Team access to the warehouse: read-only roles per team, one writer for the pipeline.

Each reader sees the marts its team uses and nothing else (no raw, quarantine, core or
ticker tables). Applying is idempotent; tables that do not exist yet are granted once they
do (the `warehouse/access_roles` asset re-applies after every mart build).
"""

import psycopg
from psycopg import sql

from bitso_platform.sql import load_sql

READERS: dict[str, tuple[str, ...]] = {
    "bi_reader": (
        "marts.daily_kpis",
        "marts.daily_currency_totals",
        "marts.daily_movements",
        "marts.daily_user_status",
        "marts.monthly_currency_stats",
    ),
    "ml_reader": (
        "marts.daily_user_features",
        "marts.daily_balances",
        "marts.daily_logins",
        "marts.daily_movements",
    ),
    "experimentation_reader": (
        "marts.daily_user_status",
        "marts.daily_logins",
        "marts.daily_kpis",
    ),
    "marketing_reader": (
        "marts.user_segments",
        "marts.daily_user_status",
    ),
}
WRITER = "platform_writer"
PIPELINE_SCHEMAS = ("raw", "core", "marts", "ticker")


def apply_access_roles(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Create the roles if missing and grant what each may use; the tables granted per role."""
    conn.execute(load_sql("roles/create_roles"))
    granted: dict[str, list[str]] = {}
    has_marts = _schema_exists(conn, "marts")
    for role, tables in READERS.items():
        existing = [t for t in tables if _exists(conn, t)]
        if has_marts:  # a table dropped from a team's list loses its grant on re-apply
            conn.execute(
                sql.SQL("revoke all on all tables in schema marts from {}").format(
                    sql.Identifier(role)
                )
            )
        if existing:
            conn.execute(sql.SQL("grant usage on schema marts to {}").format(sql.Identifier(role)))
        for table in existing:
            conn.execute(
                sql.SQL("grant select on {} to {}").format(
                    sql.Identifier(*table.split(".")), sql.Identifier(role)
                )
            )
        granted[role] = existing
    granted[WRITER] = _grant_writer(conn)
    return granted


def _exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", [table]).fetchone()
    return bool(row and row[0])


def _grant_writer(conn: psycopg.Connection) -> list[str]:
    """The pipeline's role: creates schemas, reads and writes every pipeline table."""
    writer = sql.Identifier(WRITER)
    database = conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    conn.execute(
        sql.SQL("grant connect, create on database {} to {}").format(
            sql.Identifier(database), writer
        )
    )
    schemas = [s for s in PIPELINE_SCHEMAS if _schema_exists(conn, s)]
    for schema in schemas:
        name = sql.Identifier(schema)
        conn.execute(sql.SQL("grant usage, create on schema {} to {}").format(name, writer))
        conn.execute(sql.SQL("grant all on all tables in schema {} to {}").format(name, writer))
        conn.execute(sql.SQL("grant all on all sequences in schema {} to {}").format(name, writer))
    return schemas


def _schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    row = conn.execute("select count(*) from pg_namespace where nspname = %s", [schema]).fetchone()
    return bool(row and row[0])
