"""Team access to the warehouse: read-only roles per team, one writer for the pipeline.

Each reader sees the marts its team uses (each mart declares its teams in
bitso_platform/defs/marts/catalog.py) and nothing else: no raw, quarantine or ticker
table, and of core only `core.users`, the population of Q2 (users without a deposit) and of
the deposit history Q2 and Q3 are answered from. Readers are bounded too: their statements
time out (30 s unless an operator set another value) and they cannot create temporary
tables. Applying is idempotent; tables that do not exist yet are granted once they do: the
`warehouse/access_roles` asset re-applies after every mart build and snapshot load
(`bitso access apply` by hand).
"""

import psycopg
from psycopg import sql

from bitso_platform.defs.marts.catalog import MARTS, Mart
from bitso_platform.sql import load_sql

# bitso_platform.questions answers Q2 and Q3 from the deposit history; whoever may read it
# also reads whether it is current (the refresh) and the population (users).
DEPOSIT_HISTORY = "marts.deposit_ordinals"
WITH_DEPOSIT_HISTORY = ("marts.refreshes", "core.users")


def team_readers(marts: tuple[Mart, ...]) -> dict[str, tuple[str, ...]]:
    """Each team role and the tables and views it reads, as the marts declare them."""
    readers: dict[str, list[str]] = {}
    for mart in marts:
        for role in mart.readers:
            readers.setdefault(role, []).extend(mart.relations)
    for tables in readers.values():
        if DEPOSIT_HISTORY in tables:
            tables.extend(WITH_DEPOSIT_HISTORY)
    return {role: tuple(tables) for role, tables in readers.items()}


READERS = team_readers(MARTS)
WRITER = "platform_writer"
PIPELINE_SCHEMAS = ("raw", "core", "marts", "ticker")
# A reader's query is stopped after this long unless an operator chose another value for the
# role in this database (`alter role marketing_reader in database warehouse set
# statement_timeout = '2min'`); re-applying keeps the operator's value.
DEFAULT_READER_STATEMENT_TIMEOUT = "30s"


def apply_access_roles(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Create the roles if missing and grant what each may use; the tables granted per role."""
    conn.execute(load_sql("roles/create_roles"))
    schemas = sorted({table.split(".")[0] for tables in READERS.values() for table in tables})
    present = [schema for schema in schemas if _schema_exists(conn, schema)]
    granted = {role: _grant_reader(conn, role, tables, present) for role, tables in READERS.items()}
    granted[WRITER] = _grant_writer(conn)
    _bound_readers(conn)
    return granted


def _bound_readers(conn: psycopg.Connection) -> None:
    """No temporary tables (TEMP is PUBLIC's by default: take it back, give it to the
    writer only) and a statement timeout in this database for every reader without one."""
    database = sql.Identifier(_current_database(conn))
    conn.execute(sql.SQL("revoke temporary on database {} from public").format(database))
    conn.execute(
        sql.SQL("grant temporary on database {} to {}").format(database, sql.Identifier(WRITER))
    )
    for role in READERS:
        if _has_statement_timeout(conn, role):
            continue
        conn.execute(
            sql.SQL("alter role {} in database {} set statement_timeout = {}").format(
                sql.Identifier(role), database, sql.Literal(DEFAULT_READER_STATEMENT_TIMEOUT)
            )
        )


def _has_statement_timeout(conn: psycopg.Connection, role: str) -> bool:
    row = conn.execute(load_sql("roles/statement_timeout_is_set"), {"role": role}).fetchone()
    return bool(row and row[0])


def _current_database(conn: psycopg.Connection) -> str:
    return conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]


def _grant_reader(
    conn: psycopg.Connection, role: str, tables: tuple[str, ...], schemas: list[str]
) -> list[str]:
    """Revoke the role's reads in `schemas`, then grant SELECT on its existing `tables`.

    Revoking first makes a table dropped from a team's list lose its grant on re-apply.
    """
    name = sql.Identifier(role)
    for schema in map(sql.Identifier, schemas):
        conn.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(schema, name))
        conn.execute(sql.SQL("revoke usage on schema {} from {}").format(schema, name))
    existing = [table for table in tables if _exists(conn, table)]
    for schema in sorted({table.split(".")[0] for table in existing}):
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), name))
    for table in existing:
        conn.execute(
            sql.SQL("grant select on {} to {}").format(sql.Identifier(*table.split(".")), name)
        )
    return existing


def _exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", [table]).fetchone()
    return bool(row and row[0])


def _grant_writer(conn: psycopg.Connection) -> list[str]:
    """The pipeline's role: creates schemas, reads and writes every pipeline table."""
    writer = sql.Identifier(WRITER)
    conn.execute(
        sql.SQL("grant connect, create on database {} to {}").format(
            sql.Identifier(_current_database(conn)), writer
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
