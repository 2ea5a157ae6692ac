"""One load run, one Postgres transaction: a snapshot load becomes visible whole or not at all."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
from pydantic import PrivateAttr

from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots.loader import RAW_DDL, clean_users
from bitso_platform.snapshots.validation import Users

LOAD_LOCK = 0x6C6F_6164  # advisory lock key ("load"): one snapshot load at a time
APPLICATION = "bitso load "  # + run id: how a waiting load names the one that holds the lock


class LoadRefused(Exception):
    """The load cannot start or cannot be applied; nothing changes."""


class LoadTransaction(dg.ConfigurableResource):
    """The transaction of one `load_snapshots` run, shared by its steps (one process: the
    code location's executor runs every step in the run's process, defs/executor.py).

    Every raw and core table and the accounting are written inside it and committed by the
    last asset (`raw/snapshot_loads`), after the blocking checks: a failure, a refusal or a
    kill (Postgres rolls back a dead session) leaves the previous load exactly as it was. The
    transaction holds an advisory lock, so a second load fails at once, naming the run that
    holds it.
    """

    warehouse: Warehouse
    _conn: psycopg.Connection | None = PrivateAttr(default=None)
    _users: Path | None = PrivateAttr(default=None)  # a folder for `clean_users`

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["LoadTransaction"]:
        run = context.run
        if run is None:  # bound outside a run (the CLI reading its configuration): no load
            yield self
            return
        with (
            self.warehouse.connection() as conn,
            tempfile.TemporaryDirectory(prefix="bitso-load-users-") as users,
        ):
            # how a refused load names this one (see _lock)
            conn.execute(
                "select set_config('application_name', %s, false)", [APPLICATION + run.run_id]
            )
            _lock(conn)
            # DDL in a transaction of its own, before this one touches a table (it would wait)
            self.warehouse.ensure(*RAW_DDL, "core/schema")
            self.warehouse.run_sql(conn, "core/session")
            self._conn, self._users = conn, Path(users)
            try:
                yield self
            finally:
                self._conn = self._users = None
                if not conn.closed:
                    conn.rollback()  # a no-op after `commit`

    @contextmanager
    def savepoint(self) -> Iterator[psycopg.Connection]:
        """The load's connection inside a savepoint: a failing step leaves it usable."""
        conn = self._connection()
        with conn.transaction():
            yield conn

    def clean_users(self, source: str) -> Users:
        """The clean users that `source` is judged against, read from `raw.users` once for
        the files of the load (2.6 million take seconds), and again only when it was loaded
        since, which gives it a new file node (every load truncates it). They wait between
        files in a temporary folder, mapped by each file's judging: a file's load hands their
        memory back before it settles its repeats, as when it read them itself."""
        conn, spill = self._connection(), self._users
        assert spill is not None  # set with the connection
        (node,) = conn.execute("select pg_relation_filenode('raw.users')").fetchone() or (None,)
        folder = spill / str(node)
        if not folder.exists():
            users = clean_users(conn, source)
            folder.mkdir()
            users.save(folder)
        return Users.mapped(folder)

    def commit(self) -> None:
        """Make the load visible: every table of it at once."""
        self._connection().commit()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None:
            raise RuntimeError("the load transaction is only open while its run executes")
        return self._conn


def _lock(conn: psycopg.Connection) -> None:
    """Take the load lock for this transaction, or fail naming the run that holds it."""
    row = conn.execute("select pg_try_advisory_xact_lock(%s)", [LOAD_LOCK]).fetchone()
    if row and row[0]:
        return
    holder = conn.execute(
        "select activity.application_name from pg_locks as locks"
        " join pg_stat_activity as activity using (pid)"
        " where locks.locktype = 'advisory' and locks.granted and locks.objid = %s"
        " and locks.database = (select oid from pg_database where datname = current_database())",
        [LOAD_LOCK],
    ).fetchone()
    name = holder[0] if holder else ""
    run_id = name.removeprefix(APPLICATION) if name.startswith(APPLICATION) else "unknown"
    raise LoadRefused(
        f"another load is running (run id {run_id}); wait for it to end and load again"
    )
