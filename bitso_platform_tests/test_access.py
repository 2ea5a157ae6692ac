"""Each team role reads what its team uses and nothing else; the writer writes."""

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from bitso_platform.access import (
    DEFAULT_READER_STATEMENT_TIMEOUT,
    READERS,
    WRITER,
    apply_access_roles,
)
from bitso_platform.cli import main
from bitso_platform.definitions import defs
from bitso_platform.defs.access.assets import ACCESS_ROLES, access_roles
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots.loader import RAW_DDL

GRANTABLE = sorted({table for tables in READERS.values() for table in tables})
PRIVATE = ("raw.users", "raw.quarantine", "raw.snapshot_loads", "core.transactions")


def create_tables(warehouse: Warehouse, *tables: str) -> None:
    """Tables with one row each, standing in for the marts and core tables of a build."""
    with warehouse.connection() as conn:
        conn.execute("create schema if not exists core")
        conn.execute("create schema if not exists marts")
        for table in tables:
            name = sql.Identifier(*table.split("."))
            conn.execute(sql.SQL("create table {} (day date)").format(name))
            conn.execute(sql.SQL("insert into {} values ('2021-01-01')").format(name))


@pytest.fixture
def built(warehouse: Warehouse) -> Warehouse:
    warehouse.ensure(*RAW_DDL)
    create_tables(warehouse, *GRANTABLE, "core.transactions")
    return warehouse


@pytest.fixture
def granted(built: Warehouse) -> Warehouse:
    with built.connection() as conn:
        apply_access_roles(conn)
        apply_access_roles(conn)  # idempotent
    return built


def as_role(warehouse: Warehouse, role: str) -> psycopg.Connection:
    return psycopg.connect(warehouse.url, user=role, autocommit=True)


def can_read(conn: psycopg.Connection, table: str) -> bool:
    try:
        conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(*table.split("."))))
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def readable(
    warehouse: Warehouse, role: str, tables: tuple[str, ...] = (*GRANTABLE, *PRIVATE)
) -> set[str]:
    with as_role(warehouse, role) as conn:
        return {table for table in tables if can_read(conn, table)}


@pytest.mark.parametrize("role", sorted(READERS))
def test_a_reader_reads_its_marts_and_nothing_else(granted: Warehouse, role: str) -> None:
    assert readable(granted, role) == set(READERS[role])


@pytest.mark.parametrize("role", sorted(READERS))
def test_a_reader_cannot_write(granted: Warehouse, role: str) -> None:
    table = sql.Identifier(*READERS[role][0].split("."))
    with as_role(granted, role) as conn:
        for statement in ("insert into {} values ('2021-01-02')", "delete from {}", "truncate {}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL(statement).format(table))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table marts.mine (x int)")


@pytest.mark.parametrize("role", sorted(READERS))
def test_a_reader_session_stops_statements_after_30_seconds(granted: Warehouse, role: str) -> None:
    with as_role(granted, role) as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("30s",)
    assert DEFAULT_READER_STATEMENT_TIMEOUT == "30s"


@pytest.mark.parametrize("role", sorted(READERS))
def test_a_reader_cannot_create_a_temporary_table(granted: Warehouse, role: str) -> None:
    with as_role(granted, role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("create temp table scratch (x int)")


def test_an_operators_statement_timeout_for_a_reader_survives_a_reapply(
    granted: Warehouse,
) -> None:
    with granted.connection() as conn:
        database = sql.Identifier(conn.execute("select current_database()").fetchone()[0])
        conn.execute(
            sql.SQL("alter role ml_reader in database {} set statement_timeout = '2min'").format(
                database
            )
        )
        apply_access_roles(conn)

    with as_role(granted, "ml_reader") as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("2min",)


def test_the_pipeline_writer_may_still_create_temporary_tables(granted: Warehouse) -> None:
    with as_role(granted, WRITER) as conn:
        conn.execute("create temp table scratch (x int)")


def test_the_pipeline_writer_reads_and_writes_every_pipeline_table(granted: Warehouse) -> None:
    with as_role(granted, WRITER) as conn:
        conn.execute("insert into raw.quarantine values ('users', 'f', 2, 'bad_id', 'x')")
        conn.execute("delete from marts.daily_kpis")
        assert can_read(conn, "raw.quarantine")


def test_a_table_created_after_an_apply_is_granted_by_the_next(warehouse: Warehouse) -> None:
    warehouse.ensure(*RAW_DDL)
    create_tables(warehouse, "marts.daily_kpis")
    with warehouse.connection() as conn:
        assert apply_access_roles(conn)["bi_reader"] == ["marts.daily_kpis"]
    create_tables(warehouse, "marts.daily_currency_totals")
    both = ("marts.daily_kpis", "marts.daily_currency_totals")
    assert readable(warehouse, "bi_reader", both) == {"marts.daily_kpis"}

    with warehouse.connection() as conn:
        apply_access_roles(conn)

    assert readable(warehouse, "bi_reader", both) == set(both)


def test_the_access_roles_asset_grants_the_tables_that_exist(built: Warehouse) -> None:
    result = dg.materialize([access_roles], resources={"warehouse": built})

    assert result.success
    metadata = result.asset_materializations_for_node(access_roles.op.name)[0].metadata
    assert metadata["bi_reader"].value == ", ".join(
        t for t in READERS["bi_reader"] if t in GRANTABLE
    )
    assert readable(built, "marketing_reader") == set(READERS["marketing_reader"])


def test_bitso_access_apply_grants_and_says_what_each_role_got(
    built: Warehouse, warehouse_url: str
) -> None:
    result = CliRunner().invoke(
        main, ["access", "apply"], env={"BITSO_WAREHOUSE_URL": warehouse_url}
    )

    assert result.exit_code == 0, result.output
    assert f"experimentation_reader: {', '.join(READERS['experimentation_reader'])}" in (
        result.output
    )
    assert readable(built, "ml_reader") == set(READERS["ml_reader"])


def test_bitso_access_apply_documents_itself() -> None:
    result = CliRunner().invoke(main, ["access", "apply", "--help"])

    assert result.exit_code == 0
    assert "BITSO_WAREHOUSE_URL" in result.output and "platform_writer" in result.output


def test_the_access_group_reapplies_the_roles_after_every_mart_build_and_load() -> None:
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    node = graph.get(ACCESS_ROLES)
    marts = {key for key in graph.get_all_asset_keys() if key.path[0] == "marts"}

    assert node.group_name == "access"
    assert set(node.parent_keys) == marts | {dg.AssetKey(["core", "users"])}
    assert node.automation_condition is not None
    sensor = definitions.resolve_sensor_def("access_roles_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
