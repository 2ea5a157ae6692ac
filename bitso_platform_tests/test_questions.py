"""The eight questions, answered from the marts, equal a direct computation over core.

The world is generated snapshots plus hand-made edge rows (bitso_platform_tests/marts/world.py),
loaded through Dagster and built for 2020-01-01..2023-09-10, so the last days have no
activity at all. Each direct computation below is plain SQL over core.*, written here
independently of the marts and of sql/questions.
"""

import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from bitso_platform import questions
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.conftest import temporary_databases
from bitso_platform_tests.marts import world

UNKNOWN_USER = "ffff0000000000000000000000000009"


@pytest.fixture(scope="module")
def conn(
    postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[psycopg.Connection]:
    """One connection to a built world, shared by the module's read-only tests."""
    snapshots = world.write_snapshots(tmp_path_factory.mktemp("question_snapshots"))
    with (
        temporary_databases(postgres_server_url) as create,
        world.templates(postgres_server_url, create, snapshots) as templates,
        psycopg.connect(templates.built, autocommit=True) as connection,
    ):
        yield connection


@pytest.fixture(scope="module")
def days(conn: psycopg.Connection) -> list[date]:
    """First and last built days, the edge days, days without any transaction, random days."""
    quiet = conn.execute(
        "select day::date from generate_series(%s::date, %s::date, '1 day') as day"
        " where not exists (select from core.transactions where occurred_on = day::date)",
        [world.FIRST_DAY, world.LAST_BUILT_DAY],
    ).fetchall()
    rng = random.Random(11)
    span = (world.LAST_BUILT_DAY - world.FIRST_DAY).days
    picked = {world.FIRST_DAY + timedelta(days=rng.randrange(span + 1)) for _ in range(40)}
    fixed = {
        world.FIRST_DAY,
        world.BURST_DAY,
        date(2021, 3, 1),
        date(2021, 3, 2),
        date(2022, 4, 12),
        date(2022, 5, 20),
        date(2023, 8, 22),
        world.LAST_FACT_DAY,
        world.LAST_BUILT_DAY,
    }
    return sorted(fixed | picked | {day for (day,) in quiet[:10]})


@pytest.fixture(scope="module")
def users(conn: psycopg.Connection) -> list[str]:
    """Users with logins, with deposits only, with nothing, the edge users, an unknown user."""
    rng = random.Random(5)
    with_logins = [u for (u,) in conn.execute("select distinct user_id from core.logins")]
    without_logins = [
        u
        for (u,) in conn.execute(
            "select user_id from core.users where user_id not in (select user_id from core.logins)"
        )
    ]
    return sorted(
        {
            *rng.sample(sorted(with_logins), 25),
            *rng.sample(sorted(without_logins), 10),
            *world.EDGE_USERS,
            UNKNOWN_USER,
        }
    )


def scalar(conn: psycopg.Connection, query: str, params: list) -> object:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def column(conn: psycopg.Connection, query: str, params: list) -> list[str]:
    return sorted(value for (value,) in conn.execute(query, params))


def test_the_world_has_quiet_days_a_burst_and_edge_users(
    conn: psycopg.Connection, days: list[date], users: list[str]
) -> None:
    assert any(questions.active_users(conn, day) == 0 for day in days)
    assert questions.active_users(conn, world.BURST_DAY) > 50
    assert set(world.EDGE_USERS) <= set(users)


def test_active_users_are_the_distinct_users_with_a_counted_transaction_that_day(
    conn: psycopg.Connection, days: list[date]
) -> None:
    for day in days:
        expected = scalar(
            conn,
            "select count(distinct user_id) from core.transactions"
            " where status = 'complete' and occurred_on = %s",
            [day],
        )
        assert questions.active_users(conn, day) == expected, day


def test_users_without_deposit_are_the_clean_users_with_no_counted_deposit_yet(
    conn: psycopg.Connection, days: list[date]
) -> None:
    direct = (
        "select user_id from core.users as u where not exists ("
        " select from core.transactions as t where t.user_id = u.user_id"
        " and t.kind = 'deposit' and t.status = 'complete' and t.occurred_on <= %s)"
    )
    for day in days[::4]:
        assert questions.users_without_deposit(conn, day) == column(conn, direct, [day]), day
    ever = questions.users_without_deposit(conn)
    assert ever == column(conn, direct, [world.LAST_BUILT_DAY])
    assert {world.IDLE, world.FAILED_ONLY} <= set(ever)
    assert world.HEAVY not in ever


def test_users_without_deposit_are_sorted_by_code_point_like_python(
    conn: psycopg.Connection,
) -> None:
    answer = questions.users_without_deposit(conn, date(2021, 1, 1))
    assert answer == sorted(answer)
    assert answer.index(world.UPPER) < answer.index(world.IDLE)  # upper-case hex sorts first


def test_frequent_depositors_have_more_than_n_counted_deposits_on_or_before_the_day(
    conn: psycopg.Connection, days: list[date]
) -> None:
    direct = (
        "select user_id from core.transactions where kind = 'deposit' and status = 'complete'"
        " and occurred_on <= %s group by user_id having count(*) > %s"
    )
    for day in days:
        for more_than in (5, 0, 1, 12):
            answer = questions.frequent_depositors(conn, day, more_than)
            assert answer == column(conn, direct, [day, more_than]), (day, more_than)
    # The heavy edge user makes deposits 3 to 8 on the last fact day.
    assert world.HEAVY not in questions.frequent_depositors(conn, date(2023, 8, 22))
    assert world.HEAVY in questions.frequent_depositors(conn, world.LAST_FACT_DAY)
    assert world.HEAVY in questions.frequent_depositors(conn, world.LAST_FACT_DAY, 7)
    assert world.HEAVY not in questions.frequent_depositors(conn, world.LAST_FACT_DAY, 8)


def test_last_login_is_the_latest_login_instant_as_of_the_end_of_the_day(
    conn: psycopg.Connection, days: list[date], users: list[str]
) -> None:
    direct = "select max(logged_in_at) from core.logins where user_id = %s and logged_in_at < %s"
    for user in users:
        for day in days[::3]:
            end_of_day = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
            instant = scalar(conn, direct, [user, end_of_day])
            expected = instant.astimezone(UTC).isoformat() if instant else None
            assert questions.last_login(conn, user, day) == _micro(expected), (user, day)
        latest = scalar(
            conn, "select max(logged_in_at) from core.logins where user_id = %s", [user]
        )
        assert questions.last_login(conn, user) == _micro(latest.isoformat() if latest else None)


def test_last_login_of_the_edge_users(conn: psycopg.Connection) -> None:
    # 09:00-02 is 11:00 UTC, earlier than 12:48:02.186 UTC the same day; 2falogin is no login.
    assert questions.last_login(conn, world.HEAVY, date(2022, 4, 13)) == (
        "2022-04-12T12:48:02.186000+00:00"
    )
    assert questions.last_login(conn, world.HEAVY, world.FIRST_DAY) == (
        "2020-01-01T00:00:00.000000+00:00"
    )
    assert questions.last_login(conn, world.UPPER, world.BURST_DAY) is None
    assert questions.last_login(conn, world.FAILED_ONLY) is None
    assert questions.last_login(conn, world.IDLE) is None
    assert questions.last_login(conn, UNKNOWN_USER) is None


def test_login_count_counts_logins_dated_between_both_days_inclusive(
    conn: psycopg.Connection, days: list[date], users: list[str]
) -> None:
    direct = (
        "select count(*) from core.logins where user_id = %s"
        " and (logged_in_at at time zone 'UTC')::date between %s and %s"
    )
    rng = random.Random(3)
    for user in users:
        for _ in range(6):
            first, last = sorted(rng.sample(days, 2))
            expected = scalar(conn, direct, [user, first, last])
            assert questions.login_count(conn, user, first, last) == expected, (user, first, last)
        day = rng.choice(days)
        assert questions.login_count(conn, user, day, day) == scalar(conn, direct, [user, day, day])
    assert questions.login_count(conn, world.HEAVY, date(2022, 4, 12), date(2022, 4, 13)) == 2
    assert questions.login_count(conn, UNKNOWN_USER, world.FIRST_DAY, world.LAST_BUILT_DAY) == 0


def test_currencies_deposited_and_withdrawn_are_those_of_counted_transactions_that_day(
    conn: psycopg.Connection, days: list[date]
) -> None:
    direct = (
        "select distinct currency from core.transactions"
        " where kind = %s and status = 'complete' and occurred_on = %s"
    )
    for day in days:
        assert questions.currencies_deposited(conn, day) == column(conn, direct, ["deposit", day])
        assert questions.currencies_withdrawn(conn, day) == column(
            conn, direct, ["withdrawal", day]
        )
    # The 23:30-06 deposit of ' MXN' is a mxn deposit of the next UTC day.
    assert "mxn" in questions.currencies_deposited(conn, date(2021, 3, 2))


def test_amount_deposited_is_the_exact_sum_of_counted_deposits_or_zero(
    conn: psycopg.Connection, days: list[date]
) -> None:
    direct = (
        "select coalesce(sum(amount), 0) from core.transactions"
        " where kind = 'deposit' and status = 'complete' and currency = %s and occurred_on = %s"
    )
    currencies = [c for (c,) in conn.execute("select currency from core.currencies")]
    for day in days:
        for currency in [*currencies[:8], "xyz"]:
            answer = questions.amount_deposited(conn, currency, day)
            assert isinstance(answer, Decimal)
            assert answer == scalar(conn, direct, [currency, day]), (currency, day)
    assert questions.amount_deposited(conn, " MXN ", world.FIRST_DAY) == scalar(
        conn, direct, ["mxn", world.FIRST_DAY]
    )
    assert questions.amount_deposited(conn, "xyz", world.BURST_DAY) == 0


def test_questions_accept_the_warehouse_as_well_as_a_connection(
    conn: psycopg.Connection,
) -> None:
    url = conn.info.dsn
    assert questions.active_users(Warehouse(url=url), world.BURST_DAY) == questions.active_users(
        conn, world.BURST_DAY
    )


def test_questions_refuse_days_the_marts_do_not_cover_with_a_build_that_extends_them(
    conn: psycopg.Connection,
) -> None:
    after = world.LAST_BUILT_DAY + timedelta(days=3)
    # The build starts at the first unbuilt day: the running totals need every earlier day.
    build = f"run `bitso build --from {world.LAST_BUILT_DAY + timedelta(days=1)} --to {after}`"
    for ask in (
        lambda: questions.active_users(conn, after),
        lambda: questions.frequent_depositors(conn, after),
        lambda: questions.last_login(conn, world.HEAVY, after),
        lambda: questions.login_count(conn, world.HEAVY, world.FIRST_DAY, after),
    ):
        with pytest.raises(questions.MartsNotBuilt, match=re.escape(build)):
            ask()


def test_questions_before_the_first_partition_or_after_today_say_no_build_can_cover_them(
    conn: psycopg.Connection,
) -> None:
    before = world.FIRST_DAY - timedelta(days=1)
    for ask in (
        lambda: questions.currencies_deposited(conn, before),
        lambda: questions.users_without_deposit(conn, before),
        lambda: questions.login_count(conn, world.HEAVY, before, world.FIRST_DAY),
    ):
        with pytest.raises(questions.MartsNotBuilt, match="before the first daily partition"):
            ask()
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    with pytest.raises(questions.MartsNotBuilt, match="past today"):
        questions.active_users(conn, tomorrow)


def test_questions_refuse_to_answer_across_a_day_that_is_not_built(
    postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    snapshots = world.write_snapshots(tmp_path_factory.mktemp("gap_snapshots"))
    with (
        temporary_databases(postgres_server_url) as create,
        world.templates(postgres_server_url, create, snapshots) as templates,
        psycopg.connect(templates.built, autocommit=True) as gapped,
    ):
        gapped.execute("delete from marts.daily_kpis where day = %s", [date(2021, 6, 1)])
        assert questions.active_users(gapped, date(2021, 5, 31)) >= 0
        with pytest.raises(questions.MartsNotBuilt, match="2021-06-01"):
            questions.active_users(gapped, date(2021, 6, 1))
        with pytest.raises(questions.MartsNotBuilt, match="--from 2021-06-01 --to 2021-06-03"):
            questions.frequent_depositors(gapped, date(2021, 6, 3))
        with pytest.raises(questions.MartsNotBuilt):
            questions.frequent_depositors(gapped, date(2022, 1, 1))
        with pytest.raises(questions.MartsNotBuilt):
            questions.users_without_deposit(gapped)


def test_asking_before_anything_is_loaded_says_to_run_bitso_load_first(
    warehouse_url: str,
) -> None:
    with (
        psycopg.connect(warehouse_url) as empty,
        pytest.raises(questions.MartsNotBuilt, match="run `bitso load` first"),
    ):
        questions.active_users(empty, world.BURST_DAY)


def test_invalid_arguments_are_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="more_than"):
        questions.frequent_depositors(conn, world.BURST_DAY, -1)
    with pytest.raises(ValueError, match="after"):
        questions.login_count(conn, world.HEAVY, world.LAST_FACT_DAY, world.FIRST_DAY)


def _micro(iso: str | None) -> str | None:
    """The SPEC's form of an instant: always six fractional digits, explicit +00:00."""
    if iso is None:
        return None
    return datetime.fromisoformat(iso).astimezone(UTC).isoformat(timespec="microseconds")
