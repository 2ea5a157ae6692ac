"""Building the marts through Dagster: one run per range, idempotent days, continued state."""

import multiprocessing
import os
import queue
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._core.events import DagsterEvent
from dagster._core.execution.api import create_execution_plan
from dagster._core.execution.plan.active import _default_sort_key
from dagster._core.executor import child_process_executor
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PRIORITY_TAG,
)
from psycopg import sql

from bitso_platform.definitions import defs
from bitso_platform.defs.executor import (
    PARALLEL_FROM_DAYS,
    POLL_SECONDS,
    by_longest_chain,
    dagster_poll,
    poll_without_waiting_after_an_event,
)
from bitso_platform.defs.marts import catalog
from bitso_platform.defs.marts.assets import rebuild_session
from bitso_platform.defs.marts.checks import USER_RANGES
from bitso_platform.defs.marts.partitions import partition_tags, run_days
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.launched import launched_job
from bitso_platform_tests.marts import world
from bitso_platform_tests.plans import mart_insert

MARTS = (
    "daily_movements",
    "daily_balances",
    "daily_currency_totals",
    "daily_logins",
    "daily_user_status",
    "deposit_ordinals",
    "daily_kpis",
)
FEATURES = (
    "daily_user_features",
    "user_features_as_of",
    "user_segments",
    "monthly_currency_stats",
)
DAY = world.BURST_DAY
# A build step per mart, a checks step per mart but user_features_as_of (none) and
# user_segments (its audit job runs its check).
STEPS = 2 * len(MARTS + FEATURES) - 2


def run_marts(
    monkeypatch: pytest.MonkeyPatch, url: str, first: date, last: date
) -> dg.ExecuteInProcessResult:
    """The daily_marts job over first..last, as the CLI and the schedule launch it."""
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", url)
    job = defs().resolve_job_def("daily_marts")
    return job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags=partition_tags(first, last),
        raise_on_error=False,
    )


def materialized(result: dg.ExecuteInProcessResult) -> set[tuple[str, str]]:
    return {
        (event.asset_key.path[1], event.partition or "")
        for event in result.get_asset_materialization_events()
        if event.asset_key
    }


def evaluations(result: dg.ExecuteInProcessResult) -> list[dg.AssetCheckEvaluation]:
    return [
        event.asset_check_evaluation_data
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]


def day_rows(conn: psycopg.Connection, table: str, day: date) -> list[tuple]:
    query = sql.SQL("select * from {} where day = %s").format(sql.Identifier("marts", table))
    return sorted(conn.execute(query, [day]).fetchall(), key=repr)


def fingerprint(conn: psycopg.Connection, table: str, *, except_day: date | None = None) -> str:
    query = sql.SQL(
        "select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {} as t"
        " where day is distinct from %s"
    ).format(sql.Identifier("marts", table))
    row = conn.execute(query, [except_day]).fetchone()
    return row[0] if row else ""


def test_a_range_is_one_run_that_materializes_every_day_of_every_mart(
    monkeypatch: pytest.MonkeyPatch, loaded_url: str
) -> None:
    first, last = date(2020, 1, 1), date(2020, 1, 20)
    result = run_marts(monkeypatch, loaded_url, first, last)
    assert result.success
    days = {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}
    assert materialized(result) == {(table, day) for table in (*MARTS, *FEATURES) for day in days}
    checks = evaluations(result)
    names = {(c.asset_key.path[1], c.check_name) for c in checks}
    assert len(names) == 27  # every mart check but the segments audit (its own job)
    assert "user_segments" not in {table for table, _ in names}
    # One evaluation per check and day, each recorded against its day.
    assert sorted((c.asset_key.path[1], c.check_name, c.partition) for c in checks) == sorted(
        (table, name, day) for table, name in names for day in days
    )
    assert {c.check_name for c in checks if not c.passed} == {"cover_fact_days"}


def test_a_day_alone_continues_the_running_state_of_the_days_before_it(
    monkeypatch: pytest.MonkeyPatch, loaded_url: str, built_url: str
) -> None:
    world.build(loaded_url, world.FIRST_DAY, DAY - timedelta(days=1))
    result = run_marts(monkeypatch, loaded_url, DAY, DAY)
    assert result.success
    with psycopg.connect(loaded_url) as alone, psycopg.connect(built_url) as whole:
        for table in (*MARTS, "daily_user_features", "user_segments"):
            assert day_rows(alone, table, DAY) == day_rows(whole, table, DAY), table
            assert day_rows(alone, table, DAY)


def test_checks_of_a_single_day_run_are_recorded_against_that_partition(
    monkeypatch: pytest.MonkeyPatch, built_url: str
) -> None:
    result = run_marts(monkeypatch, built_url, DAY, DAY)
    assert result.success
    checks = evaluations(result)
    assert checks and all(c.passed for c in checks)
    partitioned = [c for c in checks if c.check_name != "cover_fact_days"]
    assert {c.partition for c in partitioned} == {DAY.isoformat()}


def test_rebuilding_a_day_replaces_exactly_that_days_rows(
    monkeypatch: pytest.MonkeyPatch, built_url: str
) -> None:
    next_day = DAY + timedelta(days=1)
    with psycopg.connect(built_url) as conn:
        expected_day = day_rows(conn, "daily_movements", DAY)
        conn.execute(
            "insert into marts.daily_movements values (%s, %s, 'zzz', 1, 1, 0, 0, 0, 0, 0, 0)",
            [DAY, world.IDLE],
        )
        conn.execute(
            "update marts.daily_movements set amount_deposits = amount_deposits + 1 where day = %s",
            [next_day],
        )
        conn.commit()
        others = {t: fingerprint(conn, t, except_day=DAY) for t in MARTS}

    assert run_marts(monkeypatch, built_url, DAY, DAY).success

    with psycopg.connect(built_url) as conn:
        assert day_rows(conn, "daily_movements", DAY) == expected_day
        assert {t: fingerprint(conn, t, except_day=DAY) for t in MARTS} == others


def test_building_again_changes_nothing_for_a_range_or_for_everything(
    monkeypatch: pytest.MonkeyPatch, built_url: str
) -> None:
    with psycopg.connect(built_url) as conn:
        before = {t: fingerprint(conn, t) for t in MARTS}
        indexes = conn.execute(
            "select indexname, indexdef from pg_indexes where schemaname = 'marts' order by 1"
        ).fetchall()

    assert run_marts(monkeypatch, built_url, date(2021, 2, 1), date(2021, 2, 28)).success
    world.build(built_url)  # the whole range: truncate, insert, build the indexes again

    with psycopg.connect(built_url) as conn:
        assert {t: fingerprint(conn, t) for t in MARTS} == before
        assert (
            conn.execute(
                "select indexname, indexdef from pg_indexes where schemaname = 'marts' order by 1"
            ).fetchall()
            == indexes
        )
        invalid = conn.execute(
            "select count(*) from pg_index join pg_class on pg_class.oid = indrelid"
            " where relnamespace = 'marts'::regnamespace and not indisvalid"
        ).fetchone()
        assert invalid == (0,)


def test_a_failing_blocking_check_stops_the_marts_downstream(
    monkeypatch: pytest.MonkeyPatch, built_url: str
) -> None:
    with psycopg.connect(built_url) as conn:
        # Sabotage below the SQL: every movement written gets one deposit too many.
        conn.execute(
            "create function marts.inflate() returns trigger language plpgsql as"
            " $$ begin new.count_deposits := new.count_deposits + 1; return new; end $$"
        )
        conn.execute(
            "create trigger inflate before insert on marts.daily_movements"
            " for each row execute function marts.inflate()"
        )
        conn.commit()

    result = run_marts(monkeypatch, built_url, DAY, DAY)

    assert not result.success
    failed = {c.check_name for c in evaluations(result) if not c.passed}
    assert "reconciles_with_core" in failed
    assert {table for table, _ in materialized(result)} == {"daily_movements", "daily_logins"}


def test_snapshots_load_again_once_the_marts_and_their_views_are_built(
    monkeypatch: pytest.MonkeyPatch, built_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The views of the feature marts read core.users and core.user_levels: a load must refill
    # those tables, not drop them.
    snapshots = world.write_snapshots(tmp_path_factory.mktemp("reload"), seed=8)
    world.load(monkeypatch, built_url, snapshots)
    with psycopg.connect(built_url) as conn:
        users = conn.execute("select count(*) from core.users").fetchone()
        segments = conn.execute(
            "select count(*) from marts.user_segments where day = %s", [world.BURST_DAY]
        ).fetchone()
    assert users and users[0] > len(world.EDGE_USERS)
    assert segments and segments[0] > 0


def launch_daily_marts(
    tmp_path: Path, first: date, last: date, execution: dict | None = None
) -> tuple[bool, list[DagsterEvent]]:
    """daily_marts over first..last as a run worker executes it (the job reconstructed, its
    own executor, `execution` its config); whether it succeeded, and its events."""
    run_config = {"execution": {"config": execution}} if execution else None
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(
            launched_job("daily_marts"),
            instance=instance,
            tags=partition_tags(first, last),
            run_config=run_config,
        )
        records = instance.get_records_for_run(result.run_id, limit=10_000).records
    events = [record.event_log_entry.dagster_event for record in records]
    return result.success, [event for event in events if event]


def test_a_launched_run_executes_every_step_in_the_runs_own_process(
    monkeypatch: pytest.MonkeyPatch, built_url: str, tmp_path: Path
) -> None:
    # As a deployment's run worker executes a run launched from the UI or a schedule (no run
    # config): the job's own executor decides. A process per step would start Dagster and the
    # code location again for each of its 19 steps.
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", built_url)
    success, events = launch_daily_marts(tmp_path, DAY, DAY)
    assert success
    steps = [event for event in events if event.step_key]
    assert len({event.step_key for event in steps}) == STEPS
    assert {event.pid for event in steps if event.pid} == {os.getpid()}
    assert "STEP_WORKER_STARTING" not in {event.event_type_value for event in steps}


def test_a_launched_backfill_of_many_days_runs_its_steps_side_by_side_by_priority(
    monkeypatch: pytest.MonkeyPatch, built_url: str, tmp_path: Path
) -> None:
    # A run over at least `parallel_from_days` days (28 by default; 2 here, to stay short)
    # runs its steps in processes of their own, `max_concurrent` at a time, the steps that
    # start the longest chains of the run first. (One such run per test process: its steps
    # are forked from a server that keeps the environment of the first.)
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", built_url)
    # A reader's snapshot, as another step's open transaction would, keeps each step's VACUUM
    # from marking the new rows visible to all; the run vacuums again once every step is done.
    reader = psycopg.connect(built_url)
    reader.execute("begin isolation level repeatable read")
    reader.execute("select count(*) from core.users")
    vacuum_held_back = Warehouse.vacuum_held_back

    def reader_gone_first(self: Warehouse, schema: str) -> list[tuple[str, int, int]]:
        assert pages_not_all_visible(built_url)  # the steps' own VACUUMs were held back
        reader.close()
        return vacuum_held_back(self, schema)

    monkeypatch.setattr(Warehouse, "vacuum_held_back", reader_gone_first)
    execution = {"parallel_from_days": 2, "max_concurrent": 2}
    success, events = launch_daily_marts(tmp_path, DAY - timedelta(days=1), DAY, execution)
    assert success
    step_pids = {event.step_key: event.pid for event in events if event.is_step_start}
    assert len(step_pids) == STEPS
    assert os.getpid() not in step_pids.values()
    assert len(set(step_pids.values())) == len(step_pids)  # a process per step
    in_flight, most = 0, 0
    launched: list[str] = []
    for event in events:
        if event.event_type_value == "STEP_WORKER_STARTING":
            in_flight += 1
            launched.append(event.step_key or "")
        elif event.is_step_success or event.is_step_failure:
            in_flight -= 1
        most = max(most, in_flight)
    assert most == 2
    # Ready together once daily_movements' checks pass: they start chains of 8, 7 and 2 steps.
    waiting = ["marts__daily_user_status", "marts__daily_currency_totals", "marts__daily_balances"]
    assert [step for step in launched if step in waiting] == waiting
    # The run's process polled each quiet step's events for 2 ms at most, not Dagster's 20 ms
    # (a full backfill's step reports 1,331 events: 27 s of waiting at its end otherwise),
    # and not at all right after an event.
    assert child_process_executor._poll_for_event is poll_without_waiting_after_an_event
    assert POLL_SECONDS <= 0.002
    # Every mart page is visible to the questions' index-only scans, and the run says so.
    assert reader.closed
    assert pages_not_all_visible(built_url) == {}
    said = [event.message or "" for event in events if event.is_engine_event]
    assert any(line.startswith("vacuumed marts.daily_movements after the run") for line in said)


def test_of_steps_ready_together_the_one_starting_the_runs_longest_chain_goes_first() -> None:
    # In a backfill of the questions' marts, daily_user_status' checks passed make both
    # deposit_ordinals (then its checks, then daily_kpis' checks, which read it) and daily_kpis
    # (then its checks) ready. deposit_ordinals starts the longer chain of this run; counting
    # each mart's readers put daily_kpis first, read by the features this run does not build.
    marts = dg.AssetSelection.assets(*(dg.AssetKey(["marts", mart]) for mart in MARTS))
    questions = dg.define_asset_job("questions", selection=marts)
    job = dg.Definitions.merge(defs(), dg.Definitions(jobs=[questions]))
    plan = by_longest_chain(create_execution_plan(job.resolve_job_def("questions")))
    steps = {step.key: step for step in plan.get_steps_to_execute_in_topo_order()}
    chains = {key: int(step.tags[PRIORITY_TAG]) for key, step in steps.items()}
    # movements, its checks, user status, its checks, ordinals, its checks, the kpis' checks
    assert chains["marts__daily_movements"] == 7
    assert chains["marts__deposit_ordinals"] == 3 > chains["marts__daily_kpis"] == 2
    assert chains["marts__daily_balances"] == 2 and chains["daily_balances_checks"] == 1
    # ... and that is the order in which Dagster's executor takes ready steps.
    ready = [steps["marts__daily_kpis"], steps["marts__deposit_ordinals"]]
    assert sorted(ready, key=_default_sort_key)[0].key == "marts__deposit_ordinals"


@pytest.mark.parametrize("mart", ["daily_kpis", "daily_currency_totals"])
def test_a_mart_grouped_by_day_hashes_its_few_groups_instead_of_sorting_every_row(
    built_url: str, mart: str
) -> None:
    # The marts' session groups by sorting (millions of nearly unique keys). These marts group
    # by day (and currency): at scale 100 a full rebuild of daily_kpis sorted 33 M rows of
    # daily_logins and 8 M of daily_user_status into 1,331 groups, 29-37 s against 7 s hashed.
    insert = mart_insert(mart)
    window = {"window_start": world.FIRST_DAY, "window_end": world.LAST_BUILT_DAY}
    warehouse = Warehouse(url=built_url)
    with warehouse.connection() as conn:
        rebuild_session(warehouse, conn, next(m for m in catalog.MARTS if m.table == mart))
        plan = "\n".join(line for (line,) in conn.execute(f"explain {insert}", window))
    assert "HashAggregate" in plan
    assert "GroupAggregate" not in plan


def test_a_mart_rebuild_compiles_no_statement(built_url: str) -> None:
    # JIT compiled a one-day rebuild's statements for 0.3-1.4 s each at scale 100, more than
    # running them, and saved nothing over the full range: a cost threshold of 0 would compile
    # every statement, and the rebuild's session compiles none.
    mart = next(m for m in catalog.MARTS if m.table == "daily_user_features")
    insert = mart_insert(mart.table)
    window = {"window_start": DAY, "window_end": DAY + timedelta(days=1)}
    warehouse = Warehouse(url=built_url)
    with warehouse.connection() as conn:
        conn.execute("set jit_above_cost = 0")
        rebuild_session(warehouse, conn, mart)
        conn.execute("delete from marts.daily_user_features where day = %s", [DAY])
        (plan,) = conn.execute(f"explain (analyze, format json) {insert}", window).fetchone()
        conn.rollback()
    assert "JIT" not in plan[0]


def pages_not_all_visible(url: str) -> dict[str, int]:
    """Per table of `marts` with pages not marked all-visible, how many."""
    query = (
        "select c.relname, c.relpages - c.relallvisible from pg_class as c"
        " join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = 'marts' and c.relkind = 'r' and c.relallvisible < c.relpages"
    )
    with psycopg.connect(url) as conn:
        return dict(conn.execute(query).fetchall())


def test_dagster_reads_the_poll_and_its_wait_at_every_poll_of_a_steps_events() -> None:
    # What the code location's executor sets is what Dagster's loop calls and its poll waits
    # on (names read at call time, not bound when the module was imported): an upgrade that
    # moves them fails here rather than bringing back 20 ms per event.
    loop = child_process_executor.execute_child_process_command
    assert "_poll_for_event" in loop.__code__.co_names
    assert loop.__globals__ is vars(child_process_executor)
    assert "TICK" in dagster_poll.__code__.co_names
    assert dagster_poll.__globals__ is vars(child_process_executor)


class RecordedQueue(queue.Queue):
    """A step's event queue that records how long each poll was allowed to wait."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def get(self, block: bool = True, timeout: float | None = None) -> object:
        self.waits.append(timeout)
        return super().get(block, timeout)


def test_after_a_poll_brings_an_event_the_next_poll_of_any_step_does_not_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One step reports its days (1,331 events in a full backfill) while another works quietly:
    # the run's process reads one event per round over the steps, and a round that waited on
    # the quiet step each time cost 2.7 s at the end of every such step.
    monkeypatch.setattr(child_process_executor, "TICK", POLL_SECONDS)
    reporting, quiet = RecordedQueue(), RecordedQueue()
    for day in range(3):
        reporting.put(day)
    alive = multiprocessing.current_process()
    rounds = [
        [poll_without_waiting_after_an_event(alive, step) for step in (reporting, quiet)]
        for _ in range(4)
    ]
    assert rounds == [[0, None], [1, None], [2, None], [None, None]]
    # The quiet step is polled without a wait while the other reports, then waits again.
    assert quiet.waits == [0, 0, 0, POLL_SECONDS]
    assert reporting.waits == [POLL_SECONDS] * 4


def test_a_run_under_parallel_from_days_keeps_its_steps_in_its_own_process() -> None:
    first = date(2023, 1, 1)
    assert run_days(partition_tags(first, first)) == 1
    assert run_days(partition_tags(first, first + timedelta(days=27))) == PARALLEL_FROM_DAYS
    assert run_days({}) == 1  # an unpartitioned run: the snapshot load
    ticker = {
        ASSET_PARTITION_RANGE_START_TAG: "2026-12-06-05:00",
        ASSET_PARTITION_RANGE_END_TAG: "2026-12-06-06:00",
    }
    assert run_days(ticker) == 1  # ten-minute windows, not days


def test_parallel_from_days_under_two_fails_the_run_saying_why(
    monkeypatch: pytest.MonkeyPatch, built_url: str, tmp_path: Path
) -> None:
    # One day, and the snapshot load (no partition), always run in the run's own process.
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", built_url)
    success, events = launch_daily_marts(tmp_path, DAY, DAY, {"parallel_from_days": 1})
    failures = [event for event in events if event.is_run_failure]
    assert not success
    assert any(
        "parallel_from_days must be 2 or more" in str(f.event_specific_data) for f in failures
    )


def test_a_days_run_takes_its_warehouse_sessions_again_instead_of_connecting_per_block(
    monkeypatch: pytest.MonkeyPatch, built_url: str
) -> None:
    """Each step's blocks (its rebuild, metadata, each check) connected anew: 43 server
    processes with cold catalog caches for one day of every mart."""
    connects = []
    connect = psycopg.connect

    def counted(*args: object, **kwargs: object) -> psycopg.Connection:
        connects.append(args)
        return connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("bitso_platform.resources.warehouse.psycopg.connect", counted)
    result = run_marts(monkeypatch, built_url, DAY, DAY)

    assert result.success
    assert 1 <= len(connects) <= USER_RANGES  # a check may read ranges of users side by side
