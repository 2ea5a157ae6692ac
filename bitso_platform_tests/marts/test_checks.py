"""Every mart check passes on a correct build and fails on the fault it exists to catch."""

import dataclasses
from datetime import date, timedelta

import dagster as dg
import psycopg
import pytest

from bitso_platform.defs.marts import checks
from bitso_platform.defs.marts.assets import rebuild
from bitso_platform.defs.marts.catalog import MARTS
from bitso_platform.defs.marts.checks import EVERY_USER, prepare_session, run_check, user_ranges
from bitso_platform.defs.marts.partitions import Window
from bitso_platform.resources import warehouse as warehouse_module
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.sql import Sections, sql_sections
from bitso_platform_tests.marts import world
from bitso_platform_tests.plans import mart_insert, plan_nodes

DAY = world.BURST_DAY
ONE_DAY = Window(DAY, DAY + timedelta(days=1))
EVERYTHING = Window(world.FIRST_DAY, world.LAST_BUILT_DAY + timedelta(days=1))
BY_TABLE = {mart.table: mart for mart in MARTS}


def evaluate(url: str, table: str, check: str, window: Window) -> dg.AssetCheckResult:
    mart = BY_TABLE[table]
    spec = next(c for c in mart.checks if c.name == check)
    with psycopg.connect(url) as conn:
        prepare_session(conn)
        return run_check(conn, mart, spec, window, lambda: psycopg.connect(url))


def sabotage(url: str, *statements: str) -> None:
    with psycopg.connect(url) as conn:
        for statement in statements:
            conn.execute(statement, {"day": DAY})


@pytest.mark.parametrize("window", [ONE_DAY, EVERYTHING], ids=["one day", "whole range"])
def test_every_check_passes_on_a_correct_build(built_url: str, window: Window) -> None:
    for mart in MARTS:
        for check in mart.checks:
            result = evaluate(built_url, mart.table, check.name, window)
            assert result.passed, (mart.table, check.name, result.metadata)


def test_a_key_check_reads_only_the_catalog_while_a_unique_index_enforces_the_key(
    built_url: str,
) -> None:
    """deposit_ordinals' key (ordinal, day, user_id) is enforced by unique indexes on
    (ordinal, user_id) and (user_id, ordinal): part of the key, which makes it unique too."""
    for mart in MARTS:
        if any(check.name == "keys_unique" for check in mart.checks):
            result = evaluate(built_url, mart.table, "keys_unique", EVERYTHING)
            assert result.metadata["key_enforced"].value is True, mart.table


def with_earlier_row(table: str, *key: str) -> str:
    """A key (as a row) of the table's rows of the day whose key has a row on an earlier day."""
    columns = ", ".join(f"today.{column}" for column in key)
    same = " and ".join(f"earlier.{column} = today.{column}" for column in key)
    return (
        f"(select {columns} from marts.{table} as today where today.day = %(day)s and exists"
        f" (select from marts.{table} as earlier where {same} and earlier.day < today.day)"
        " limit 1)"
    )


FAULTS = {
    "a duplicate key once the unique index is gone": (
        "daily_movements",
        "keys_unique",
        [
            "drop index marts.daily_movements_key",
            "insert into marts.daily_movements select * from marts.daily_movements"
            " where day = %(day)s limit 1",
        ],
    ),
    "a duplicate deposit ordinal once both unique indexes on part of its key are gone": (
        "deposit_ordinals",
        "keys_unique",
        [
            "drop index marts.deposit_ordinals_by_user",
            "drop index marts.deposit_ordinals_of_user",
            "insert into marts.deposit_ordinals select * from marts.deposit_ordinals"
            " where day = %(day)s limit 1",
        ],
    ),
    "a negative count": (
        "daily_currency_totals",
        "counts_not_negative",
        ["update marts.daily_currency_totals set count_withdrawers = -1 where day = %(day)s"],
    ),
    "a movement amount off by one unit": (
        "daily_movements",
        "reconciles_with_core",
        [
            "update marts.daily_movements set amount_deposits = amount_deposits + 1"
            " where (day, user_id, currency) in (select day, user_id, currency"
            " from marts.daily_movements where day = %(day)s limit 1)"
        ],
    ),
    "a missing movement row": (
        "daily_movements",
        "reconciles_with_core",
        [
            "delete from marts.daily_movements where (day, user_id, currency) in"
            " (select day, user_id, currency from marts.daily_movements"
            " where day = %(day)s and count_deposits > 0 limit 1)"
        ],
    ),
    "an empty movement row": (
        "daily_movements",
        "reconciles_with_core",
        [
            "insert into marts.daily_movements values"
            " (%(day)s, 'no-such-user', 'mxn', 0, 0, 0, 0, 0, 0, 0, 0)"
        ],
    ),
    "a running balance that skips a movement": (
        "daily_balances",
        "equal_sum_of_movements",
        [
            "update marts.daily_balances set balance = balance + 1"
            " where (day, user_id, currency) in (select day, user_id, currency"
            " from marts.daily_balances where day = %(day)s limit 1)"
        ],
    ),
    "a currency total off by one deposit": (
        "daily_currency_totals",
        "reconciles_with_core",
        [
            "update marts.daily_currency_totals set count_deposits = count_deposits + 1"
            " where day = %(day)s and currency = 'mxn'"
        ],
    ),
    "a login count off by one": (
        "daily_logins",
        "reconciles_with_core",
        [
            "update marts.daily_logins set count_logins = count_logins + 1"
            " where (day, user_id) in (select day, user_id from marts.daily_logins"
            " where day = %(day)s limit 1)"
        ],
    ),
    "a deposit count to date off by one": (
        "daily_user_status",
        "reconciles_with_core",
        [
            "update marts.daily_user_status set count_deposits_to_date = "
            "count_deposits_to_date + 1 where (day, user_id) in (select day, user_id"
            " from marts.daily_user_status where day = %(day)s limit 1)"
        ],
    ),
    "an active user missing": (
        "daily_user_status",
        "reconciles_with_core",
        [
            "delete from marts.daily_user_status where (day, user_id) in (select day, user_id"
            " from marts.daily_user_status where day = %(day)s limit 1)"
        ],
    ),
    "a deposit ordinal missing": (
        "deposit_ordinals",
        "reconciles_with_core",
        [
            "delete from marts.deposit_ordinals where (ordinal, day, user_id) in"
            " (select ordinal, day, user_id from marts.deposit_ordinals"
            " where day = %(day)s limit 1)"
        ],
    ),
    "a 30-day feature window off by one deposit": (
        "daily_user_features",
        "reconciles_with_daily_marts",
        [
            "update marts.daily_user_features set count_deposits_30d = count_deposits_30d + 1,"
            " count_deposits_90d = count_deposits_90d + 1,"
            " count_deposits_to_date = count_deposits_to_date + 1"
            " where (user_id, currency, day) in (select user_id, currency, day"
            " from marts.daily_user_features where day = %(day)s limit 1)"
        ],
    ),
    "a feature row missing where a movement leaves a window": (
        "daily_user_features",
        "reconciles_with_daily_marts",
        [
            "delete from marts.daily_user_features where (user_id, currency, day) in"
            " (select user_id, currency, day from marts.daily_user_features"
            " where day = %(day)s and count_deposits_7d = 0 limit 1)"
        ],
    ),
    "a feature dated after its day": (
        "daily_user_features",
        "no_future_information",
        [
            "update marts.daily_user_features set last_deposit_on = day + 1"
            " where (user_id, currency, day) in (select user_id, currency, day"
            " from marts.daily_user_features where day = %(day)s limit 1)"
        ],
    ),
    "a 7-day window larger than the 30-day one": (
        "daily_user_features",
        "windows_nest",
        [
            "update marts.daily_user_features set count_withdrawals_7d ="
            " count_withdrawals_30d + 1 where (user_id, currency, day) in"
            " (select user_id, currency, day from marts.daily_user_features"
            " where day = %(day)s limit 1)"
        ],
    ),
    "a month's deposit sum off by one unit": (
        "monthly_currency_stats",
        "reconciles_with_daily_marts",
        [
            "update marts.monthly_currency_stats set amount_deposits = amount_deposits + 1"
            " where month = date_trunc('month', %(day)s::date) and count_deposits > 0"
        ],
    ),
    "a month's depositors counted twice": (
        "monthly_currency_stats",
        "reconciles_with_daily_marts",
        [
            "update marts.monthly_currency_stats set count_depositors = count_deposits + 1"
            " where month = date_trunc('month', %(day)s::date) and count_deposits > 0"
        ],
    ),
    # Off from the earlier days: the window is consistent in itself, only its link to the
    # row before it (the one-day window) or to core (the whole range) is wrong.
    "an account's balances from the day on all off by one": (
        "daily_balances",
        "equal_sum_of_movements",
        [
            "update marts.daily_balances set balance = balance + 1"
            " where day >= %(day)s and (user_id, currency) in"
            f" {with_earlier_row('daily_balances', 'user_id', 'currency')}"
        ],
    ),
    "a user's counts to date from the day on all off by one": (
        "daily_user_status",
        "reconciles_with_core",
        [
            "update marts.daily_user_status set count_deposits_to_date ="
            " count_deposits_to_date + 1, deposit_ordinals = int8range(lower(deposit_ordinals)"
            " + 1, upper(deposit_ordinals) + 1) where day >= %(day)s and user_id in"
            f" {with_earlier_row('daily_user_status', 'user_id')}"
        ],
    ),
    "a user's deposit ordinals from the day on one too high": (
        "deposit_ordinals",
        "reconciles_with_core",
        # in two steps: the unique index refuses an ordinal taken by the next row meanwhile
        [
            f"update marts.deposit_ordinals set ordinal = ordinal + {shift}"
            " where day >= %(day)s and user_id in"
            f" {with_earlier_row('deposit_ordinals', 'user_id')}"
            for shift in (1_000_000, 1 - 1_000_000)
        ],
    ),
    "a to-date deposit amount off by one unit": (
        "daily_user_features",
        "reconciles_with_daily_marts",
        [
            "update marts.daily_user_features set amount_deposits_to_date ="
            " amount_deposits_to_date + 1 where day = %(day)s and (user_id, currency) in"
            f" {with_earlier_row('daily_user_features', 'user_id', 'currency')}"
        ],
    ),
    "a KPI off by one active user": (
        "daily_kpis",
        "reconciles_with_core",
        [
            "update marts.daily_kpis set count_active_users = count_active_users + 1"
            " where day = %(day)s"
        ],
    ),
}


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_a_check_fails_on_its_fault_for_the_day_and_the_whole_range(
    built_url: str, fault: str
) -> None:
    table, check, statements = FAULTS[fault]
    sabotage(built_url, *statements)
    for window in (ONE_DAY, EVERYTHING):
        result = evaluate(built_url, table, check, window)
        assert not result.passed, (fault, window)
    elsewhere = Window(date(2020, 6, 1), date(2020, 6, 2))
    assert evaluate(built_url, table, check, elsewhere).passed


def test_a_check_by_users_runs_ranges_of_users_side_by_side_and_finds_a_fault_in_each(
    built_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """daily_user_features' reconciliation proves each user apart: a range of users per core,
    each on its own connection, whose counts add up to the check's over every user."""
    monkeypatch.setattr(checks, "USER_RANGES", 3)
    mart = BY_TABLE["daily_user_features"]
    check = next(c for c in mart.checks if c.name == "reconciles_with_daily_marts")
    opened = []

    def connect() -> psycopg.Connection:
        opened.append(True)
        return psycopg.connect(built_url)

    with psycopg.connect(built_url) as conn:
        prepare_session(conn)
        whole = run_check(conn, mart, check, EVERYTHING)
        side_by_side = run_check(conn, mart, check, EVERYTHING, connect)
        ranges = user_ranges(conn, 3)
        users = [
            conn.execute(
                "select min(user_id) from marts.daily_user_features where user_id >= %s"
                " and (%s::text is null or user_id < %s)",
                (users["first_user"], users["end_user"], users["end_user"]),
            ).fetchone()[0]
            for users in ranges
        ]
    assert len(opened) == 2 and None not in users, (ranges, users)
    assert whole.passed and side_by_side.passed
    assert side_by_side.metadata == whole.metadata
    with psycopg.connect(built_url, autocommit=True) as conn:
        for planted, user in enumerate(users, start=1):  # a wrong row for a user of each range
            conn.execute(
                "update marts.daily_user_features set count_deposits_30d = count_deposits_30d + 1"
                " where (user_id, currency, day) = (select user_id, currency, day"
                " from marts.daily_user_features where user_id = %s order by currency, day"
                " limit 1)",
                (user,),
            )
            result = evaluate(built_url, mart.table, check.name, EVERYTHING)
            assert not result.passed, user
            assert result.metadata["mismatched_rows"].value == planted, user


def test_counts_not_negative_tests_every_count_column_the_mart_declares(built_url: str) -> None:
    """A count_ column added to a mart is tested without being named to the check."""
    mart = dataclasses.replace(
        BY_TABLE["daily_logins"],
        columns=(*BY_TABLE["daily_logins"].columns, ("count_retries", "integer", "retries")),
    )
    check = next(check for check in mart.checks if check.name == "counts_not_negative")
    sabotage(
        built_url,
        "alter table marts.daily_logins add column count_retries integer not null default 0",
        "update marts.daily_logins set count_retries = -1 where day = %(day)s",
    )
    with psycopg.connect(built_url) as conn:
        result = run_check(conn, mart, check, ONE_DAY)
        assert not result.passed
        assert result.metadata["rows_with_negative_counts"].value > 0
        assert run_check(conn, BY_TABLE["daily_logins"], check, ONE_DAY).passed


def test_the_coverage_check_warns_when_a_fact_day_is_not_built(built_url: str) -> None:
    assert evaluate(built_url, "daily_kpis", "cover_fact_days", ONE_DAY).passed
    sabotage(built_url, "delete from marts.daily_kpis where day = %(day)s")
    result = evaluate(built_url, "daily_kpis", "cover_fact_days", ONE_DAY)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["unbuilt_fact_days"].value == 1


# A wrong formula written into a mart's SQL: (table, correct text, wrong text).
PLANTED_FORMULAS = {
    "failed deposits counted as deposits": (
        "daily_movements",
        "count(*) filter (where kind = 'deposit' and is_complete) as count_deposits",
        "count(*) filter (where kind = 'deposit') as count_deposits",
    ),
    "failed withdrawals left out of the failed amounts": (
        "daily_movements",
        "coalesce(sum(amount) filter (where kind = 'withdrawal' and not is_complete), 0)",
        "coalesce(sum(amount) filter (where kind = 'withdrawal' and false), 0)",
    ),
    "failed deposits added to the amounts per currency": (
        "daily_kpis",
        "jsonb_object_agg(currency, amount_deposits)",
        "jsonb_object_agg(currency, amount_deposits + amount_failed_deposits)",
    ),
    "withdrawers counted as depositors": (
        "daily_kpis",
        "count(*) filter (where count_deposits > 0) as count_depositors",
        "count(*) filter (where count_deposits + count_withdrawals > 0) as count_depositors",
    ),
}


def plant(monkeypatch: pytest.MonkeyPatch, table: str, correct: str, wrong: str) -> None:
    """Make the mart's build SQL read with the wrong formula in place of the correct one."""
    name = f"marts/{table}"
    build = sql_sections(name).build
    assert correct in build, f"the formula to replace is no longer in {name}.sql"

    def planted(requested: str) -> Sections:
        sections = sql_sections(requested)
        if requested != name:
            return sections
        return dataclasses.replace(sections, build=build.replace(correct, wrong))

    monkeypatch.setattr(warehouse_module, "sql_sections", planted)


@pytest.mark.parametrize("formula", PLANTED_FORMULAS, ids=list(PLANTED_FORMULAS))
def test_a_mart_built_with_a_wrong_formula_fails_its_reconciliation_check(
    built_url: str, monkeypatch: pytest.MonkeyPatch, formula: str
) -> None:
    table, correct, wrong = PLANTED_FORMULAS[formula]
    plant(monkeypatch, table, correct, wrong)
    rebuild(Warehouse(url=built_url), BY_TABLE[table], EVERYTHING)
    result = evaluate(built_url, table, "reconciles_with_core", EVERYTHING)
    assert not result.passed, formula
    assert result.metadata["mismatched_days"].value > 0


# A wrong opening planted into a running mart's build: (table, its check, correct, wrong).
PLANTED_OPENINGS = {
    "balances that forget the balance before the day": (
        "daily_balances",
        "equal_sum_of_movements",
        "coalesce(opening.balance, 0) + sum(movements.net_amount)",
        "sum(movements.net_amount)",
    ),
    "deposits to date continued from the withdrawals to date": (
        "daily_user_status",
        "reconciles_with_core",
        "coalesce(opening.count_deposits_to_date, 0)",
        "coalesce(opening.count_withdrawals_to_date, 0)",
    ),
    "deposit ordinals one too high": (
        "deposit_ordinals",
        "reconciles_with_core",
        "lower(active_days.deposit_ordinals), upper(active_days.deposit_ordinals) - 1",
        "lower(active_days.deposit_ordinals) + 1, upper(active_days.deposit_ordinals)",
    ),
    "deposits to date continued from the 90-day deposits": (
        "daily_user_features",
        "reconciles_with_daily_marts",
        "(opening).count_deposits_to_date + count_deposits_to_date",
        "(opening).count_deposits_90d + count_deposits_to_date",
    ),
}


@pytest.mark.parametrize("opening", PLANTED_OPENINGS, ids=list(PLANTED_OPENINGS))
def test_a_daily_run_after_a_backfill_that_continues_from_a_wrong_opening_fails_its_check(
    built_url: str, monkeypatch: pytest.MonkeyPatch, opening: str
) -> None:
    """The check of a day anchors its running totals on the rows before it: what the day adds
    to them is checked again, so a wrong continuation shows on the day it is built."""
    table, check, correct, wrong = PLANTED_OPENINGS[opening]
    day = Window(world.LAST_FACT_DAY, world.LAST_FACT_DAY + timedelta(days=1))
    rebuild(Warehouse(url=built_url), BY_TABLE[table], day)
    assert evaluate(built_url, table, check, day).passed
    plant(monkeypatch, table, correct, wrong)
    rebuild(Warehouse(url=built_url), BY_TABLE[table], day)
    assert not evaluate(built_url, table, check, day).passed, opening


# The checks of the running marts, which take the days before their window from its last rows.
ANCHORED = {
    "daily_balances": "equal_sum_of_movements",
    "daily_user_status": "reconciles_with_core",
    "deposit_ordinals": "reconciles_with_core",
    "daily_user_features": "reconciles_with_daily_marts",
}


def test_a_day_built_without_the_days_before_it_fails_the_checks_of_running_totals(
    loaded_url: str,
) -> None:
    """No row before the window is not taken for no history: core says what came before."""
    world.build(loaded_url, DAY, DAY)
    for table, check in ANCHORED.items():
        assert not evaluate(loaded_url, table, check, ONE_DAY).passed, table


def most_executions(conn: psycopg.Connection, query: str, window: Window) -> int:
    """The most times any node of the query's plan ran (EXPLAIN ANALYZE): more than once is
    a lookup per outer row, such as a lateral probe per account."""
    (plans,) = conn.execute("explain (analyze, format json) " + query, window.params()).fetchone()
    return max(node["Actual Loops"] for node in plan_nodes(plans[0]["Plan"]))


@pytest.mark.parametrize("table, check", ANCHORED.items(), ids=ANCHORED)
def test_one_days_probes_for_movements_before_it_read_an_index_alone(
    built_url: str, table: str, check: str
) -> None:
    # Whether an account moved between its last row and the window: a probe per account and
    # kind into core.transactions. From the counted rows' index, with their currency, it reads
    # no heap page; a day of the balances' check at scale 100 took 1.0-2.1 s, against 0.4 s.
    with psycopg.connect(built_url) as conn:
        prepare_session(conn)
        (plans,) = conn.execute(
            "explain (analyze, format json) " + BY_TABLE[table].check_sql()[check],
            {**ONE_DAY.params(), **EVERY_USER},
        ).fetchone()
        conn.rollback()
    probes = [
        node
        for node in plan_nodes(plans[0]["Plan"])
        if node.get("Relation Name") == "transactions" and node["Actual Loops"] > 1
    ]
    assert probes
    assert [(p["Node Type"], p.get("Heap Fetches")) for p in probes] == [
        ("Index Only Scan", 0) for _ in probes
    ], probes


RUNNING_STATE = {  # a build, or a check, that looks up each account or user before the window
    "daily_balances build": ("daily_balances", None),
    "daily_user_status build": ("daily_user_status", None),
    "daily_balances check": ("daily_balances", "equal_sum_of_movements"),
    "daily_user_status check": ("daily_user_status", "reconciles_with_core"),
    "deposit_ordinals check": ("deposit_ordinals", "reconciles_with_core"),
}


@pytest.mark.parametrize("table, check", RUNNING_STATE.values(), ids=RUNNING_STATE)
def test_a_range_from_the_first_day_looks_up_nothing_before_it(
    built_url: str, table: str, check: str | None
) -> None:
    # Nothing precedes a backfill from the first day: no node may run once per account or
    # user (3.6 M lateral probes, 5-11 s at scale 100), while a later day still probes.
    with psycopg.connect(built_url) as conn:
        prepare_session(conn)
        if check is None:  # a full rebuild: the caller's transaction has emptied the table
            conn.execute(f"truncate marts.{table}")
            query = mart_insert(table)
        else:
            query = BY_TABLE[table].check_sql()[check]
        assert most_executions(conn, query, EVERYTHING) == 1
        if check is not None:
            assert most_executions(conn, query, ONE_DAY) > 1
        conn.rollback()
