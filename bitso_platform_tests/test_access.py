"""Each team role reads what its team uses and nothing else; the writer writes."""

import psycopg
import pytest
from psycopg import sql

from bitso_platform.access import READERS, WRITER, apply_access_roles
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots.loader import RAW_DDL

ALL_MARTS = sorted({table for tables in READERS.values() for table in tables})


@pytest.fixture
def granted(warehouse: Warehouse) -> Warehouse:
    warehouse.ensure(*RAW_DDL, "core/schema")
    with warehouse.connection() as conn:
        conn.execute("create schema marts")
        for table in ALL_MARTS:
            conn.execute(
                sql.SQL("create table {} (day date)").format(sql.Identifier(*table.split(".")))
            )
            conn.execute(
                sql.SQL("insert into {} values ('2021-01-01')").format(
                    sql.Identifier(*table.split("."))
                )
            )
        apply_access_roles(conn)
        apply_access_roles(conn)  # idempotent
    return warehouse


def as_role(warehouse: Warehouse, role: str) -> psycopg.Connection:
    return psycopg.connect(warehouse.url, user=role, autocommit=True)


def can_read(conn: psycopg.Connection, table: str) -> bool:
    try:
        conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(*table.split("."))))
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


@pytest.mark.parametrize("role", sorted(READERS))
def test_a_reader_reads_its_marts_and_nothing_else(granted: Warehouse, role: str) -> None:
    with as_role(granted, role) as conn:
        readable = {table for table in ALL_MARTS if can_read(conn, table)}
        assert readable == set(READERS[role])
        for private in ("raw.users", "raw.quarantine", "raw.snapshot_loads"):
            assert not can_read(conn, private)


@pytest.mark.parametrize("role", sorted(READERS))
def test_a_reader_cannot_write(granted: Warehouse, role: str) -> None:
    table = sql.Identifier(*READERS[role][0].split("."))
    with as_role(granted, role) as conn:
        for statement in ("insert into {} values ('2021-01-02')", "delete from {}", "truncate {}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL(statement).format(table))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table marts.mine (x int)")


def test_the_pipeline_writer_reads_and_writes_every_pipeline_table(granted: Warehouse) -> None:
    with as_role(granted, WRITER) as conn:
        conn.execute("insert into raw.quarantine values ('users', 'f', 2, 'bad_id', 'x')")
        conn.execute("delete from marts.daily_kpis")
        assert can_read(conn, "raw.quarantine")
