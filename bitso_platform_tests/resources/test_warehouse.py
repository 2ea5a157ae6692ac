"""The warehouse's sessions: a run's blocks take the run's idle sessions, reset between them."""

import time
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import psycopg
import pytest

from bitso_platform.resources.warehouse import Warehouse

PID = "select pg_backend_pid()"


def _pid(conn: psycopg.Connection) -> int:
    (pid,) = conn.execute(PID).fetchone() or (None,)
    assert isinstance(pid, int)
    return pid


def _running(warehouse_url: str, pid: int) -> bool:
    query = "select exists (select from pg_stat_activity where pid = %s)"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        return bool((conn.execute(query, [pid]).fetchone() or (False,))[0])


def _ended(warehouse_url: str, pid: int) -> bool:
    """Whether the session's server process has ended (a closed session's ends within
    moments: waited for up to 5 s)."""
    deadline = time.monotonic() + 5
    while _running(warehouse_url, pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_runs_blocks_take_one_session_reset_between_them(warehouse_url: str) -> None:
    with dg.build_resources({"warehouse": Warehouse(url=warehouse_url)}) as resources:
        warehouse: Warehouse = resources.warehouse
        with warehouse.connection() as conn:
            first = _pid(conn)
            conn.execute("select set_config('application_name', 'bitso load run-1', false)")
            conn.execute("set work_mem = '77MB'")
            conn.execute("create temporary table scratch (n int)")
        with warehouse.connection() as conn:
            assert _pid(conn) == first
            settings = "select current_setting('application_name'), current_setting('work_mem')"
            assert conn.execute(settings).fetchone() != ("bitso load run-1", "77MB")
            assert conn.execute("select current_setting('TimeZone')").fetchone() == ("UTC",)
            assert conn.execute("select to_regclass('pg_temp.scratch')").fetchone() == (None,)


def test_a_failed_block_is_rolled_back_and_its_session_taken_again(warehouse_url: str) -> None:
    with dg.build_resources({"warehouse": Warehouse(url=warehouse_url)}) as resources:
        warehouse: Warehouse = resources.warehouse
        with warehouse.connection() as conn:
            conn.execute("create table kept (n int)")
        with pytest.raises(psycopg.errors.DivisionByZero), warehouse.connection() as conn:
            failed = _pid(conn)
            conn.execute("insert into kept values (1)")
            conn.execute("select 1 / 0")
        with warehouse.connection() as conn:
            assert _pid(conn) == failed
            assert conn.execute("select count(*) from kept").fetchone() == (0,)


def test_blocks_open_side_by_side_have_sessions_of_their_own(warehouse_url: str) -> None:
    with dg.build_resources({"warehouse": Warehouse(url=warehouse_url)}) as resources:
        warehouse: Warehouse = resources.warehouse

        def in_a_thread() -> int:
            with warehouse.connection() as conn:
                return _pid(conn)

        with warehouse.connection() as outer, ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(in_a_thread).result() != _pid(outer)
        with warehouse.connection() as first, warehouse.connection() as second:
            assert _pid(first) != _pid(second)


def test_the_runs_sessions_end_with_the_run(warehouse_url: str) -> None:
    with dg.build_resources({"warehouse": Warehouse(url=warehouse_url)}) as resources:
        with resources.warehouse.connection() as conn:
            pid = _pid(conn)
        assert _running(warehouse_url, pid), "kept for the run's next blocks"
    assert _ended(warehouse_url, pid)


def test_outside_a_run_each_block_is_a_session_closed_after_it(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    with warehouse.connection() as conn:
        first = _pid(conn)
    with warehouse.connection() as conn:
        assert _pid(conn) != first
    assert _ended(warehouse_url, first)
