"""`kill -9` of a build at several moments: every mart day is all-old or all-new, and a re-run
converges on what an uninterrupted build gives."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from bitso_platform_tests.marts import world
from bitso_platform_tests.marts.test_build import MARTS

FIRST, LAST = world.BURST_DAY, world.BURST_DAY + timedelta(days=30)
TABLES = (*MARTS, "daily_user_features")
BUILD = ("from bitso_platform.cli import main; main()", "build", "--from", str(FIRST), "--to")


def changed_core(templates: world.Templates, create: Callable[[], str]) -> str:
    """A built world whose core then changed on the days of the range: a build rewrites them."""
    url = templates.copy(templates.built, create)
    with psycopg.connect(url) as conn:
        conn.execute(
            "update core.transactions set amount = amount * 2 where occurred_on between %s and %s",
            [FIRST, LAST],
        )
    return url


def start_build(url: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "BITSO_WAREHOUSE_URL": url, "DAGSTER_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-c", *BUILD, str(LAST)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def days_of(url: str) -> dict[tuple[str, date], str]:
    """A fingerprint of every mart's rows, per table and day of the range."""
    found = {}
    with psycopg.connect(url) as conn:
        for table in TABLES:
            query = sql.SQL(
                "select day, md5(string_agg(t::text, '|' order by t::text)) from {} as t"
                " where day between %s and %s group by day"
            ).format(sql.Identifier("marts", table))
            for day, digest in conn.execute(query, [FIRST, LAST]).fetchall():
                found[(table, day)] = digest
    return found


def wait_for(condition: Callable[[], object], what: str, seconds: float = 300) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def blocked_backend(conn: psycopg.Connection, table: str) -> int | None:
    """The backend waiting for the lock this test holds on marts.<table>, if any."""
    row = conn.execute(
        "select pid from pg_locks where not granted and relation = to_regclass(%s)",
        [f"marts.{table}"],
    ).fetchone()
    return row[0] if row else None


def gone(conn: psycopg.Connection, pid: int) -> bool:
    query = "select not exists (select from pg_stat_activity where pid = %s)"
    row = conn.execute(query, [pid]).fetchone()
    return bool(row and row[0])


@pytest.fixture
def uninterrupted(templates: world.Templates, new_database_url, dagster_home: Path) -> dict:
    url = changed_core(templates, new_database_url)
    assert start_build(url, dagster_home).wait(timeout=600) == 0
    return days_of(url)


@pytest.mark.parametrize("killed_in", ["daily_balances", "daily_kpis", "daily_user_features"])
def test_a_killed_build_leaves_each_mart_day_old_or_new_and_a_rerun_converges(
    killed_in: str,
    templates: world.Templates,
    new_database_url: Callable[[], str],
    dagster_home: Path,
    uninterrupted: dict,
) -> None:
    url = changed_core(templates, new_database_url)
    before = days_of(url)
    assert before != uninterrupted  # the build has something to change

    with psycopg.connect(url, autocommit=True) as watcher, psycopg.connect(url) as holder:
        # Hold the mart's table against writes (reads go on), so the build stops inside that
        # mart's transaction, at its first write.
        holder.execute(
            sql.SQL("lock table {} in exclusive mode").format(sql.Identifier("marts", killed_in))
        )
        build = start_build(url, dagster_home)
        pid = wait_for(lambda: blocked_backend(watcher, killed_in), f"the build of {killed_in}")
        build.send_signal(signal.SIGKILL)
        build.wait()
        holder.rollback()
        # The orphaned backend finds its client gone and rolls its transaction back.
        wait_for(lambda: gone(watcher, pid), "the killed build's backend")

    after = days_of(url)
    for key in before.keys() | uninterrupted.keys() | after.keys():
        assert after.get(key) in (before.get(key), uninterrupted.get(key)), key
    killed = {key for key in after if key[0] == killed_in}
    assert {key: after[key] for key in killed} == {key: before[key] for key in killed}

    assert start_build(url, dagster_home).wait(timeout=600) == 0
    assert days_of(url) == uninterrupted
