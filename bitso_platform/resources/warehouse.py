"""The Postgres warehouse: a configured server, or an embedded one started on demand."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from pydantic import Field, PrivateAttr

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
    """Postgres warehouse. An empty `url` means the embedded server under the state folder.

    Inside a run, its connections outlive their blocks: a block's transaction ends (committed,
    or rolled back on an error), its session is reset (`DISCARD ALL`), and the next block of
    the run takes it. A one-day run of every mart opened 43 connections (the questions'
    marts 28), each a new server process with cold catalog caches (docs/benchmarks.md, "A
    run's sessions taken again"). They are made as outside a run, in the caller's thread,
    so a bad URL fails at once with its scrubbed error: a pool that connects in threads of
    its own (psycopg_pool) reports a refused connection as a timeout, after 30 s.
    """

    url: str = Field(default="", description="Postgres URL (BITSO_WAREHOUSE_URL); empty = embedded")
    embedded_dir: str = Field(default="", description="Folder of the embedded server's data")
    # A run's idle connections; None outside a run (every block connects and closes)
    _idle: list[psycopg.Connection] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._idle = []

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        idle, self._idle = self._idle or [], None
        for conn in idle:
            conn.close()

    def resolved_url(self) -> str:
        return embedded_postgres.resolved_url(self.url, self.embedded_dir)

    @contextmanager
    def connection(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A UTC session; without autocommit, the block is one transaction committed at exit."""
        idle = self._idle
        if idle is None or autocommit:
            with self._connect(autocommit=autocommit) as conn:
                yield conn
            return
        # Kept for the run's next blocks, a session prepares no statement by itself: psycopg
        # prepares a query run 5 times on one connection, and the server may then plan it
        # once for every window's dates.
        conn = _take(idle) or self._connect(prepare_threshold=None)
        try:
            yield conn
            conn.commit()
        except BaseException:
            with suppress(psycopg.Error):  # a broken connection has nothing to roll back
                conn.rollback()
            raise
        finally:
            _keep(idle, conn)

    def _connect(self, **options: Any) -> psycopg.Connection:
        """A new UTC session; an error connecting is re-raised without the URL's password."""
        url = self.resolved_url()
        with errors_scrubbed(url):
            return psycopg.connect(url, options="-c TimeZone=UTC", **options)

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


def _take(idle: list[psycopg.Connection]) -> psycopg.Connection | None:
    """An idle connection of the run, if any (pop is atomic: threads share the list)."""
    try:
        return idle.pop()
    except IndexError:
        return None


def _keep(idle: list[psycopg.Connection], conn: psycopg.Connection) -> None:
    """Back among the run's idle connections with its session reset, unless it is broken or
    still in a transaction (then closed)."""
    if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
        conn.close()
        return
    try:
        conn.autocommit = True  # DISCARD cannot run in a transaction
        conn.execute("discard all")  # settings, application name, session locks
        conn.autocommit = False
    except psycopg.Error:
        conn.close()
        return
    idle.append(conn)
