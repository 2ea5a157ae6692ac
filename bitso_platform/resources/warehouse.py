"""The Postgres warehouse: a configured server, or an embedded one started on demand."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql
from pydantic import Field

from bitso_platform import embedded_postgres
from bitso_platform.embedded_postgres import embedded_url
from bitso_platform.redaction import errors_scrubbed
from bitso_platform.sql import sql_sections

__all__ = ["Warehouse", "embedded_url"]

DDL_LOCK = 0x6269_7473_6F  # advisory lock key held while creating schemas and tables
HELD_BACK = """
select c.oid, c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
where n.nspname = %s and c.relkind = 'r' and c.relallvisible < c.relpages order by c.relname
"""
PAGES = "select relallvisible, relpages from pg_class where oid = %s"


class Warehouse(dg.ConfigurableResource):
    """Postgres warehouse. An empty `url` means the embedded server under the state folder."""

    url: str = Field(default="", description="Postgres URL (BITSO_WAREHOUSE_URL); empty = embedded")
    embedded_dir: str = Field(default="", description="Folder of the embedded server's data")

    def resolved_url(self) -> str:
        return embedded_postgres.resolved_url(self.url, self.embedded_dir)

    @contextmanager
    def connection(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A UTC session; without autocommit, the block is one transaction committed at exit."""
        url = self.resolved_url()
        with errors_scrubbed(url):
            conn = psycopg.connect(url, autocommit=autocommit, options="-c TimeZone=UTC")
        with conn:
            yield conn

    def ensure(self, *names: str) -> None:
        """Run idempotent DDL files (`create ... if not exists`) in a transaction of their own.

        An advisory lock serialises DDL across processes: concurrent `if not exists`
        statements race in the catalog, and DDL locks held by a long load transaction
        deadlock against parallel loads.
        """
        with self.connection() as conn:
            conn.execute("select pg_advisory_xact_lock(%s)", [DDL_LOCK])
            for name in names:
                self.run_sql(conn, name)

    def tidy(self, schema: str, table: str) -> None:
        """After a bulk rebuild (committed): refresh the planner's statistics and mark the
        pages all-visible, so index-only scans skip the heap. VACUUM cannot run inside a
        transaction, hence a connection of its own."""
        with self.connection(autocommit=True) as conn:
            conn.execute(sql.SQL("vacuum (analyze) {}").format(sql.Identifier(schema, table)))

    def vacuum_held_back(self, schema: str) -> list[tuple[str, int, int]]:
        """VACUUM each table of the schema whose pages are not all marked all-visible (a
        VACUUM cannot mark rows newer than the oldest open transaction of the database);
        per table, its all-visible pages and its pages after. Its indexes are cleaned even
        for a few deleted rows, which VACUUM would otherwise leave on their pages."""
        vacuumed = []
        with self.connection(autocommit=True) as conn:
            for oid, table in conn.execute(HELD_BACK, [schema]).fetchall():
                name = sql.Identifier(schema, table)
                conn.execute(sql.SQL("vacuum (index_cleanup on) {}").format(name))
                visible, pages = conn.execute(PAGES, [oid]).fetchone() or (0, 0)
                vacuumed.append((table, visible, pages))
        return vacuumed

    def run_sql(self, conn: psycopg.Connection, name: str, params: Any = None) -> None:
        """Execute the statements of `sql/<name>.sql`, parameters bound by psycopg.

        Only those before its first `-- check:` line: a mart's checks follow its build. A
        client-side cursor lets one file hold several statements and parameters.
        """
        with psycopg.ClientCursor(conn) as cursor:
            cursor.execute(sql_sections(name).build, params)  # type: ignore[arg-type]
