"""A load is one generation: every raw and core table and the accounting change together or
not at all, whatever fails and whenever the load is killed; loads run one at a time."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.defs.snapshots.assets import snapshot_loads
from bitso_platform.devtools.generate import generate_snapshots
from bitso_platform.resources.load_transaction import APPLICATION, LOAD_LOCK, LoadTransaction
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots.spec import SNAPSHOTS
from bitso_platform_tests.launched import launched_job
from bitso_platform_tests.snapshots.test_assets import run_load, table_contents

BITSO = str(Path(sys.executable).parent / "bitso")
DEPOSITS = SNAPSHOTS["deposits"].file


def accounting_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select * from raw.snapshot_loads order by load_id").fetchall()


def state(url: str) -> tuple[dict, list[tuple]]:
    """Everything a load writes: the raw and core tables and the accounting."""
    return table_contents(url), accounting_rows(url)


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two different drops: the first load, and the next day's (larger, other users)."""
    root = tmp_path_factory.mktemp("drops")
    generate_snapshots(root / "first", scale=0.02, seed=7, defects=True)
    generate_snapshots(root / "next", scale=0.03, seed=8, defects=True)
    return root / "first", root / "next"


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch, warehouse_url: str, drops: tuple[Path, Path]) -> str:
    """A warehouse holding the first drop."""
    assert run_load(monkeypatch, warehouse_url, str(drops[0])).success
    return warehouse_url


def next_drop(drops: tuple[Path, Path], tmp_path: Path, damage: Callable[[Path], None]) -> Path:
    folder = tmp_path / "drop"
    shutil.copytree(drops[1], folder)
    damage(folder / DEPOSITS)
    return folder


def failure_text(result) -> str:
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.step_failure_data.error
    return (error.cause or error).message


def test_a_missing_required_file_leaves_every_table_and_the_accounting_as_they_were(
    monkeypatch: pytest.MonkeyPatch, loaded: str, drops: tuple[Path, Path], tmp_path: Path
) -> None:
    before = state(loaded)
    result = run_load(monkeypatch, loaded, str(next_drop(drops, tmp_path, Path.unlink)))
    assert not result.success
    assert "deposit_sample_data.csv: missing" in failure_text(result)
    assert state(loaded) == before


def test_a_header_only_file_is_refused_naming_the_counts_and_the_flag(
    monkeypatch: pytest.MonkeyPatch, loaded: str, drops: tuple[Path, Path], tmp_path: Path
) -> None:
    before = state(loaded)
    (old,) = [row[5] for row in before[1] if row[1] == "deposits"]  # clean
    header_only = next_drop(
        drops, tmp_path, lambda p: p.write_text(",".join(SNAPSHOTS["deposits"].header) + "\n")
    )

    result = run_load(monkeypatch, loaded, str(header_only))

    assert not result.success
    text = failure_text(result)
    assert "deposit_sample_data.csv: refused: the file has no data rows" in text
    assert f"raw.deposits would go from {old:,} rows to 0" in text and "--allow-shrink" in text
    assert state(loaded) == before

    assert run_load(monkeypatch, loaded, str(header_only), allow_shrink=True).success
    assert table_contents(loaded)["raw.deposits"] == []


def keep_share(share: float) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        header, *lines = path.read_text().splitlines(keepends=True)
        path.write_text(header + "".join(lines[: int(len(lines) * share)]))

    return damage


def test_a_file_that_would_shrink_its_table_by_more_than_half_is_refused(
    monkeypatch: pytest.MonkeyPatch, loaded: str, drops: tuple[Path, Path], tmp_path: Path
) -> None:
    before = state(loaded)
    result = run_load(monkeypatch, loaded, str(next_drop(drops, tmp_path, keep_share(0.15))))
    assert not result.success
    text = failure_text(result)
    assert "deposit_sample_data.csv: refused: raw.deposits would shrink from" in text
    assert "(more than 50% fewer)" in text and "--allow-shrink" in text
    assert state(loaded) == before


def test_a_file_that_shrinks_its_table_by_less_than_half_is_applied(
    monkeypatch: pytest.MonkeyPatch, loaded: str, drops: tuple[Path, Path], tmp_path: Path
) -> None:
    assert run_load(monkeypatch, loaded, str(next_drop(drops, tmp_path, keep_share(0.6)))).success


def test_a_50_mb_line_is_quarantined_by_its_number_and_the_rest_of_the_file_loads(
    monkeypatch: pytest.MonkeyPatch, loaded: str, drops: tuple[Path, Path], tmp_path: Path
) -> None:
    def add_a_huge_line(path: Path) -> None:
        with path.open("ab") as out:
            out.write(b"99999999," + b"7" * (50 << 20) + b"\r\n")

    drop = next_drop(drops, tmp_path, add_a_huge_line)
    line_no = len(drop.joinpath(DEPOSITS).read_bytes().split(b"\n")) - 1  # header is line 1

    result = run_load(monkeypatch, loaded, str(drop))

    assert result.success
    expected = json.loads((drops[1] / "manifest.json").read_text())["deposits"]
    with psycopg.connect(loaded) as conn:
        oversized = conn.execute(
            "select line_no, left(raw_line, 12) from raw.quarantine"
            " where snapshot = 'deposits' and reason = 'oversized_row'"
        ).fetchall()
        (clean,) = conn.execute("select count(*) from raw.deposits").fetchone()
    assert oversized == [(line_no, "99999999,777")]
    assert clean == expected["clean"]


def start_load(url: str, snapshots: Path, home: Path) -> subprocess.Popen:
    """`bitso load` as a user starts it, in a process of its own."""
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "BITSO_WAREHOUSE_URL": url,
        "BITSO_SNAPSHOTS_URL": str(snapshots),
        "DAGSTER_HOME": str(home),
    }
    return subprocess.Popen(
        [BITSO, "load"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def wait_for(url: str, query: str, process: subprocess.Popen, timeout: float = 300) -> tuple:
    """Poll until `query` returns a row (while `process` runs); that row."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(query).fetchone()
            if row:
                return row
            assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
            time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {query}")


# Polls pg_stat_activity inside Postgres, every 0.2 ms for up to a second: a statement of a
# few milliseconds (a check over the small test drops) runs between two client-side polls.
# pg_stat_clear_snapshot: a transaction otherwise sees the first reading of the activity.
AWAIT_LOAD_STATEMENT = """
create function pg_temp.await_load_statement(pattern text) returns integer
language plpgsql as $$
declare
    deadline timestamptz := clock_timestamp() + interval '1 second';
    found integer;
begin
    loop
        perform pg_stat_clear_snapshot();
        select pid into found
        from pg_stat_activity
        where application_name like 'bitso load %'
            and datname = current_database() and query ilike pattern;
        if found is not null or clock_timestamp() > deadline then
            return found;
        end if;
        perform pg_sleep(0.0002);
    end loop;
end $$
"""


def wait_for_load_statement(
    url: str, pattern: str, process: subprocess.Popen, timeout: float = 300
) -> None:
    """Until the load's session runs a statement matching `pattern` (while `process` runs)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(AWAIT_LOAD_STATEMENT)
        while time.monotonic() < deadline:
            row = conn.execute("select pg_temp.await_load_statement(%s)", [pattern]).fetchone()
            if row and row[0] is not None:
                return
            assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
    raise AssertionError(f"timed out waiting for a load statement like {pattern}")


def killed_load(
    url: str, snapshots: Path, home: Path, pattern: str, attempts: int = 3
) -> tuple[tuple, subprocess.Popen]:
    """The state before a load, and the load, SIGKILLed while its session's statement matches
    `pattern`. A short statement can still end between two polls of a busy machine: a load
    that completes unseen is started again (over its own result), up to `attempts` times."""
    for _ in range(attempts):
        before = state(url)
        process = start_load(url, snapshots, home)
        try:
            wait_for_load_statement(url, pattern, process)
        except AssertionError:
            if process.wait() != 0:
                raise
            continue
        process.send_signal(signal.SIGKILL)
        process.wait()
        return before, process
    raise AssertionError(f"{attempts} loads completed before one was seen at {pattern}")


def wait_until_no_load(url: str) -> None:
    """Until Postgres has ended the killed load's session (and rolled it back)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(3000):
            found = conn.execute(
                "select count(*) from pg_stat_activity"
                " where application_name like 'bitso load %' and datname = current_database()"
            ).fetchone()
            if found == (0,):
                return
            time.sleep(0.01)
    raise AssertionError("the killed load's session did not end")


@pytest.fixture(scope="module")
def next_state(
    drops: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str
):
    """What a completed load of the next drop over the first one leaves."""
    from bitso_platform_tests.conftest import temporary_databases

    home = tmp_path_factory.mktemp("reference")
    with temporary_databases(postgres_server_url) as create:
        url = create()
        for drop in drops:
            process = start_load(url, drop, home / "dagster")
            assert process.wait(timeout=600) == 0, process.stdout.read().decode()  # type: ignore[union-attr]
        yield table_contents(url)


@pytest.mark.parametrize(
    ("moment", "pattern"),
    [
        ("during the COPY of a file", "copy %events%"),
        ("during the core rebuild", "%create table core.transactions__next%"),
        ("after the last blocking check", "%transactions_unknown_user%"),
    ],
)
def test_a_load_killed_at_any_moment_leaves_the_previous_one_whole(
    loaded: str, drops: tuple[Path, Path], tmp_path: Path, next_state, moment: str, pattern: str
) -> None:
    before, process = killed_load(loaded, drops[1], tmp_path / "dagster", pattern)
    wait_until_no_load(loaded)

    after = state(loaded)
    if after[0] != next_state:  # the commit may just have happened after the last check
        assert after == before, moment
    assert process.returncode == -signal.SIGKILL
    # the lock died with the session: the next load runs
    again = start_load(loaded, drops[1], tmp_path / "dagster")
    assert again.wait(timeout=600) == 0, again.stdout.read().decode()  # type: ignore[union-attr]
    assert table_contents(loaded) == next_state


def test_a_second_load_fails_at_once_naming_the_run_that_is_loading(
    monkeypatch: pytest.MonkeyPatch, loaded: str, drops: tuple[Path, Path], tmp_path: Path
) -> None:
    with psycopg.connect(loaded) as reader:  # holds the first load at raw.deposits for a while
        reader.execute("lock table raw.deposits in access share mode")
        first = start_load(loaded, drops[1], tmp_path / "first")
        (holder,) = wait_for(
            loaded,
            "select activity.application_name from pg_locks as locks"
            " join pg_stat_activity as activity using (pid)"
            f" where locks.locktype = 'advisory' and locks.objid = {LOAD_LOCK}"
            " and locks.granted and activity.datname = current_database()",
            first,
        )
        monkeypatch.setenv("BITSO_WAREHOUSE_URL", loaded)
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "second"))
        (tmp_path / "second").mkdir()
        monkeypatch.setenv("BITSO_SNAPSHOTS_URL", "")

        second = CliRunner().invoke(main, ["load", "--snapshots", str(drops[1])])

        assert second.exit_code == 1
        run_id = holder.removeprefix(APPLICATION)
        assert f"another load is running (run id {run_id})" in second.output
        assert first.poll() is None
    assert first.wait(timeout=600) == 0, first.stdout.read().decode()  # type: ignore[union-attr]


def test_a_load_launched_on_several_processes_is_refused_before_any_step(
    monkeypatch: pytest.MonkeyPatch, warehouse_url: str, drops: tuple[Path, Path]
) -> None:
    # As a run worker executes a launched run: the job's executor reads the run config.
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("BITSO_SNAPSHOTS_URL", str(drops[0]))
    job = launched_job("load_snapshots")
    with dg.instance_for_test() as instance:
        with pytest.raises(dg.DagsterInvalidConfigError, match="multiprocess"):
            dg.execute_job(
                job, instance=instance, run_config={"execution": {"config": {"multiprocess": {}}}}
            )
        assert not instance.get_runs()
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select to_regclass('raw.users')").fetchone() == (None,)


def test_committing_a_transaction_without_the_files_of_a_load_fails_and_changes_nothing(
    loaded: str,
) -> None:
    before = state(loaded)
    result = dg.materialize(
        [snapshot_loads],
        resources={"load": LoadTransaction(warehouse=Warehouse(url=loaded))},
        raise_on_error=False,
    )
    assert not result.success
    assert "holds no load of users, deposits, withdrawals, events" in failure_text(result)
    assert state(loaded) == before
